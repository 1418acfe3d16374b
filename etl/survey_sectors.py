"""``bsjbsa/imports_by_sector/<YEAR>.csv`` (optional): the survey's imports by the 12 broad product sectors
(DATA_CONTRACT.md; paper section 5.1, Table 6). Rows of firms absent from that year's survey file, and
repeated firm–sector pairs, are quarantined with their reason."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from etl.contract import Column, FileSpec
from etl.validate import QUARANTINE_COLUMNS, read_checked

SECTOR_IMPORTS = FileSpec("imports_by_sector", "bsjbsa/imports_by_sector", "{year}",
                          (Column("survey_id", "key", True), Column("sector12", "int", True, lo=1, hi=12),
                           Column("imports", "float", True, lo=0)), required=False, key=("survey_id", "sector12"))
COLUMNS = ["survey_id", "sector12", "imports", "year"]


def sector_years(root: Path) -> list[int]:
    d = Path(root) / "bsjbsa" / "imports_by_sector"
    return sorted({int(p.stem) for p in d.iterdir() if p.is_file() and p.suffix in (".csv", ".parquet")
                   and p.stem.isdigit()}) if d.is_dir() else []


def read_sector_imports(root: Path, survey: pd.DataFrame, encoding: str | None = None
                        ) -> tuple[pd.DataFrame, list[dict], pd.DataFrame]:
    """All sector files stacked (survey_id, sector12, imports, year), their reports and quarantine."""
    frames, reports, qs = [], [], []
    ids = survey.groupby("year").survey_id.agg(set) if len(survey) else pd.Series(dtype=object)
    for y in sector_years(root):
        ck = read_checked(root, SECTOR_IMPORTS, y, encoding)
        ck.reject(~ck.rows.survey_id.isin(ids.get(y, set())).to_numpy(), "survey_id",
                  f"firm not in bsjbsa/{y} (survey year absent or firm not surveyed)")
        reports.append(ck.report().as_dict())
        qs.append(ck.quarantine())
        r = ck.rows
        frames.append(pd.DataFrame({"survey_id": r.survey_id.astype(str), "sector12": pd.to_numeric(r.sector12).astype(int),
                                    "imports": pd.to_numeric(r.imports).astype(float), "year": y}))
    out = pd.concat(frames, ignore_index=True)[COLUMNS] if frames else pd.DataFrame(columns=COLUMNS)
    q = pd.concat(qs, ignore_index=True) if qs else pd.DataFrame(columns=QUARANTINE_COLUMNS)
    return out, reports, q
