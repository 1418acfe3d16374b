"""Industry files: JSIC classification, input-industry characteristics, world exports, wages."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from etl.contract import CHARACTERISTICS, JSIC, WAGES, WORLD_EXPORTS, Column, find_file, read_table
from etl.report import FileReport, quarantine_frame
from etl.validate import validate

FILES: dict[str, tuple[Column, ...]] = {
    "jsic": JSIC, "characteristics": CHARACTERISTICS, "world_exports": WORLD_EXPORTS, "wages": WAGES,
}


def read_industry(root: Path, name: str, encoding: str | None = None
                  ) -> tuple[pd.DataFrame, FileReport, pd.DataFrame]:
    """One validated industry file (``name`` in FILES)."""
    schema = FILES[name]
    path = find_file(Path(root) / "industry", name)
    raw, enc = read_table(path, schema, encoding)
    df, issues = validate(raw, schema, str(path))
    rep = FileReport(str(path), enc, len(raw), len(df))
    rep.add_issues(issues)
    rep.check()
    for c in schema:
        if c.kind == "int" and c.name in df:
            df[c.name] = df[c.name].astype("Int64")
    return df.reset_index(drop=True), rep, quarantine_frame(issues)
