"""Industry files: JSIC classification, input-industry characteristics, world exports, wages."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from etl.contract import INDUSTRY
from etl.report import FileReport
from etl.validate import read_checked

FILES = INDUSTRY


def read_industry(root: Path, name: str, encoding: str | None = None
                  ) -> tuple[pd.DataFrame, FileReport, pd.DataFrame]:
    """One validated industry file (``name`` in FILES): rows, report, quarantine."""
    spec = FILES[name]
    ck = read_checked(root, spec, encoding=encoding)
    df = ck.rows.reset_index(drop=True)
    for c in spec.schema:
        if c.kind == "int":
            df[c.name] = df[c.name].astype("Int64")
    return df, ck.report(), ck.quarantine()
