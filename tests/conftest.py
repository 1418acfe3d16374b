"""Shared fixtures: one small synthetic root per test session, and its ETL cache."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from etl.pipeline import Cache, run_etl
from etl.synth import generate

SEED = 7


@pytest.fixture(scope="session")
def small_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("small_root")
    generate(root, scale="small", seed=SEED)
    return root


@pytest.fixture(scope="session")
def truth(small_root) -> dict:
    return json.loads((small_root / "truth.json").read_text())


@pytest.fixture(scope="session")
def etl_report(small_root) -> dict:
    return run_etl(small_root)


@pytest.fixture(scope="session")
def cache(small_root, etl_report) -> Cache:
    return Cache(small_root / ".prodnet")


def read_raw(path: Path) -> pd.DataFrame:
    """Independent raw reader for tests: pandas, everything as text, encoding by trial."""
    for enc in ("utf-8", "cp932"):
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=enc)
        except UnicodeDecodeError:
            continue
    raise AssertionError(f"{path} is neither UTF-8 nor CP932")
