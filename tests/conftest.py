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


@pytest.fixture(scope="session")
def links(cache) -> dict:
    """Cleaned links of both vintages from the ETL cache."""
    return {y: cache.read(f"links_{y}") for y in (2005, 2010)}


@pytest.fixture(scope="session")
def firms(cache) -> pd.DataFrame:
    """Firms of both vintages as the graph holds them (latest attributes), indexed by tsr_id."""
    from graph.model import firm_table

    return firm_table(cache, [2005, 2010]).set_index("tsr_id")


@pytest.fixture(scope="session")
def run(small_root, cache, tmp_path_factory):
    """run_all on the small root: (out_dir, summary)."""
    from analytics import run_all

    out = tmp_path_factory.mktemp("out")
    return out, run_all(small_root, out, quiet=True)


def read_raw(path: Path) -> pd.DataFrame:
    """Independent raw reader for tests: pandas, everything as text, encoding by trial."""
    for enc in ("utf-8", "cp932"):
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=enc)
        except UnicodeDecodeError:
            continue
    raise AssertionError(f"{path} is neither UTF-8 nor CP932")


@pytest.fixture(scope="session")
def embedded_store(cache, tmp_path_factory):
    from graph import open_store

    s = open_store("embedded", path=tmp_path_factory.mktemp("emb") / "graph.lbdb")
    s.load(cache, [2005, 2010])
    yield s
    s.close()


@pytest.fixture(scope="session")
def bolt_uri(tmp_path_factory):
    """A Bolt server: NEO4J_URI when set (a real Neo4j), else a local ArcadeDB Bolt server on 127.0.0.1."""
    import os
    import secrets

    if os.environ.get("NEO4J_URI"):
        yield os.environ["NEO4J_URI"], os.environ.get("NEO4J_USER", "neo4j"), os.environ["NEO4J_PASSWORD"]
        return
    pytest.importorskip("arcadedb_embedded")
    from graph.boltserver import bolt_server

    password = secrets.token_hex(12)
    with bolt_server(tmp_path_factory.mktemp("bolt"), password) as uri:
        yield uri, "root", password


@pytest.fixture(scope="session")
def _neo4j_session_store(cache, bolt_uri):
    from graph.neo4j_store import Neo4jStore

    uri, user, password = bolt_uri
    s = Neo4jStore(uri, user, password)
    s.load(cache, [2005, 2010])
    yield s
    s.close()


@pytest.fixture
def neo4j_store(_neo4j_session_store, cache):
    """The session's Bolt store holding the fixture root: other tests load their own roots into the same
    server, so it is reloaded whenever it no longer holds this one."""
    if not _neo4j_session_store.is_current(cache, [2005, 2010]):
        _neo4j_session_store.load(cache, [2005, 2010], rebuild=True)
    return _neo4j_session_store


@pytest.fixture(params=["embedded", pytest.param("neo4j", marks=pytest.mark.bolt)])
def store(request):
    return request.getfixturevalue(f"{request.param}_store")
