"""Load reports: for every file, rows read = rows loaded + rows rejected (by reason)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

from etl.validate import Issues


@dataclass
class FileReport:
    file: str
    encoding: str
    rows_read: int
    rows_loaded: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    values_blanked: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)

    @property
    def rows_rejected(self) -> int:
        return sum(self.rejected.values())

    def check(self) -> None:
        """Raise if rows are unaccounted for (read ≠ loaded + rejected)."""
        if self.rows_read != self.rows_loaded + self.rows_rejected:
            raise AssertionError(f"{self.file}: read {self.rows_read} ≠ loaded {self.rows_loaded} + rejected "
                                 f"{self.rows_rejected}")

    def add_issues(self, issues: Issues) -> None:
        for reason, n in issues.rejected().groupby(["column", "reason"]).size().items():
            self.rejected[f"{reason[0]}: {reason[1]}"] = self.rejected.get(f"{reason[0]}: {reason[1]}", 0) + int(n)
        for reason, n in issues.blanked().groupby(["column", "reason"]).size().items():
            self.values_blanked[f"{reason[0]}: {reason[1]}"] = int(n)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["rows_rejected"] = self.rows_rejected
        return d


def quarantine_frame(issues: Issues, extra: list[pd.DataFrame] | None = None) -> pd.DataFrame:
    """All rejected rows of a file with their reasons (one row per rejected input row)."""
    parts = [issues.rejected()] + (extra or [])
    parts = [p for p in parts if len(p)]
    cols = ["file", "row", "column", "value", "reason"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)
