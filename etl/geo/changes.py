"""The optional contract file of municipality changes, ``geo/municipality_changes.csv``.

One row per pre-merger municipality: ``old_name`` (as addresses write it, e.g. ``浦和市`` or
``浜名郡舞阪町``; a leading prefecture name is allowed), ``new_code`` (5-digit JIS code of the current
municipality, ward or designated city), ``effective`` (date of the change, ``YYYY-MM-DD``), optional
``old_code`` (its former JIS code) and ``old_pref_code`` (only when the old municipality lay in another
prefecture than the new one). Addresses under an old name then resolve to the current municipality and,
with the rest of the address, to its district."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from etl.contract import MUNICIPALITY_CHANGES
from etl.report import FileReport
from etl.validate import QUARANTINE_COLUMNS, read_checked


def read_changes(root: Path, known_codes: set[str], encoding: str | None = None
                 ) -> tuple[pd.DataFrame | None, FileReport | None, pd.DataFrame]:
    """Validated changes (None when the file is absent), the file's report and its quarantine.

    Rows with a malformed date, or whose ``new_code`` is not a current municipality, ward or
    designated city, are quarantined with the reason; rows read = loaded + rejected."""
    ck = read_checked(root, MUNICIPALITY_CHANGES, encoding=encoding)
    if ck is None:
        return None, None, pd.DataFrame(columns=QUARANTINE_COLUMNS)
    bad_date = pd.to_datetime(ck.rows.effective, format="%Y-%m-%d", errors="coerce").isna()
    ck.reject(bad_date, "effective", "not a date (YYYY-MM-DD)")
    ck.reject(~ck.rows.new_code.isin(known_codes), "new_code",
              "not a current municipality, ward or designated city code")
    out = ck.rows.copy()
    out["old_pref_code"] = out.old_pref_code.astype("Int64").astype(str).replace("<NA>", "")
    return out.reset_index(drop=True), ck.report(), ck.quarantine()
