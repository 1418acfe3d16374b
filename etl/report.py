"""Load reports: for every file, rows read = rows loaded + rows rejected (by reason), values blanked (by
reason); the run's fatal problems and its warnings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field


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

    def as_dict(self) -> dict:
        d = asdict(self)
        d["rows_rejected"] = self.rows_rejected
        d["values_blanked_total"] = sum(self.values_blanked.values())
        return d


def _top(counts: dict[str, int]) -> str:
    key, n = max(((k, v) for k, v in counts.items() if v), key=lambda kv: kv[1], default=("", 0))
    return f"most often '{key}' ({n:,})" if n else ""


def unusable(rep: dict, quarantine: str) -> str | None:
    """The one-line reason a required file yields no usable row, or None."""
    if rep["rows_loaded"]:
        return None
    if rep["rows_read"] == 0:
        return f"{rep['file']}: no data rows" + (" (the file has only a header)" if rep["encoding"] != "parquet" else "")
    return (f"{rep['file']}: all {rep['rows_read']:,} rows rejected, {_top(rep['rejected'])}; "
            f"the rejected rows are listed in {quarantine}")


def file_reports(report: dict) -> Iterator[dict]:
    """Every per-file report of a load report, in run order."""
    for part, r in report.items():
        if not isinstance(r, dict):
            continue
        if part == "bsjbsa":
            yield from r.get("files") or []
        else:
            yield from (v for v in r.values() if isinstance(v, dict) and "file" in v)


def rejection_warnings(report: dict, share: float) -> list[str]:
    """One line per file whose share of rejected rows is above ``share`` (failed parts are errors instead)."""
    out = []
    for r in file_reports({k: v for k, v in report.items() if isinstance(v, dict) and not v.get("error")}):
        if r["rows_read"] and r["rows_rejected"] / r["rows_read"] > share:
            out.append(f"{r['file']}: {r['rows_rejected']:,} of {r['rows_read']:,} rows rejected "
                       f"({r['rows_rejected'] / r['rows_read']:.1%}, above {share:.1%}), {_top(r['rejected'])}")
    return out
