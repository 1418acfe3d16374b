"""The optional contract file of municipality changes, ``geo/municipality_changes.csv``.

One row per pre-merger municipality: ``old_name`` (as addresses write it, e.g. ``浦和市`` or
``浜名郡舞阪町``; a leading prefecture name is allowed), ``new_code`` (5-digit JIS code of the current
municipality, ward or designated city), ``effective`` (date of the change, ``YYYY-MM-DD``), optional
``old_code`` (its former JIS code) and ``old_pref_code`` (only when the old municipality lay in another
prefecture than the new one). Addresses under an old name then resolve to the current municipality and,
with the rest of the address, to its district."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from etl.contract import MUNICIPALITY_CHANGES, find_file, read_table
from etl.report import FileReport, quarantine_frame
from etl.validate import validate

CHANGES_STEM = "municipality_changes"


def changes_file(root: Path) -> Path | None:
    """``<root>/geo/municipality_changes.(csv|parquet)`` if present."""
    d = Path(root) / "geo"
    return find_file(d, CHANGES_STEM) if any(d.glob(f"{CHANGES_STEM}.*")) else None


def read_changes(root: Path, known_codes: set[str], encoding: str | None = None
                 ) -> tuple[pd.DataFrame | None, FileReport | None, pd.DataFrame]:
    """Validated changes (None when the file is absent), the file's report and its quarantined rows.

    Rows with a malformed date, or whose ``new_code`` is not a current municipality, ward or
    designated city, are quarantined with the reason; rows read = loaded + rejected."""
    path = changes_file(root)
    if path is None:
        return None, None, _rows(pd.DataFrame({"x": []}), np.zeros(0, bool), "", "x", "")
    raw, enc = read_table(path, MUNICIPALITY_CHANGES, encoding)
    df, issues = validate(raw, MUNICIPALITY_CHANGES, str(path))
    bad_date = pd.to_datetime(df.effective, format="%Y-%m-%d", errors="coerce").isna().to_numpy()
    unknown = ~df.new_code.isin(known_codes).to_numpy() & ~bad_date
    extra = [_rows(df, bad_date, str(path), "effective", "not a date (YYYY-MM-DD)"),
             _rows(df, unknown, str(path), "new_code", "not a current municipality, ward or designated city code")]
    keep = ~(bad_date | unknown)
    rep = FileReport(str(path), enc, len(raw), int(keep.sum()))
    rep.add_issues(issues)
    for col, reason, mask in (("effective", "not a date (YYYY-MM-DD)", bad_date),
                              ("new_code", "unknown current municipality code", unknown)):
        if mask.any():
            rep.rejected[f"{col}: {reason}"] = int(mask.sum())
    rep.check()
    out = df[keep].copy()
    out["old_pref_code"] = out.old_pref_code.astype("Int64").astype(str).replace("<NA>", "")
    return out.reset_index(drop=True), rep, quarantine_frame(issues, extra)


def _rows(df: pd.DataFrame, mask: np.ndarray, file: str, column: str, reason: str) -> pd.DataFrame:
    return pd.DataFrame({"file": file, "row": df.index[mask] + 2, "column": column,
                         "value": df.loc[mask, column].to_numpy(), "reason": reason})

