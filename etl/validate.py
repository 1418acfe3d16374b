"""Row validation against the contract schemas, with the account of every row.

A bad value in a required column quarantines the row; a bad value in an optional column is blanked. Both
are recorded with file, line, column, value and reason (``Checked.quarantine``), and the file's report
counts them by reason, so rows read = rows loaded + rows rejected and nothing is lost silently."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.contract import Column, ContractError, FileSpec, RawTable, read_table
from etl.report import FileReport

QUARANTINE_COLUMNS = ["file", "line", "column", "value", "reason", "action"]

_PATTERNS = {  # ASCII digits only: a full-width digit is not part of a code
    "id": (r"[0-9]+", "malformed id"),
    "code3": (r"[0-9]{3}", "not a 3-digit code"),
    "code4": (r"[0-9]{4}", "not a 4-digit code"),
    "muni": (r"[0-9]{5}", "not a 5-digit municipality code"),
    "postal": (r"[0-9]{3}-?[0-9]{4}", "malformed postal code"),
}


class Checked:
    """The rows of one file as they go through validation and the file's own rules.

    ``rows`` keeps the raw frame's index, so ``lines[rows.index]`` is each row's line in the file."""

    def __init__(self, raw: RawTable) -> None:
        self.file, self.encoding, self.rows_read = str(raw.path), raw.encoding, raw.rows_read
        self.lines = raw.lines
        self.rows = raw.frame
        self.text = raw.frame  # the values as read (stripped), for the quarantine
        self.rejected: dict[str, int] = {}
        self._rejected: list[pd.DataFrame] = []
        self._blanked: list[pd.DataFrame] = []
        if len(raw.malformed):
            m = raw.malformed
            self._record(self._rejected, m.line.to_numpy(), "", m.value.to_numpy(), m.reason.to_numpy())
            for reason, n in m.reason.value_counts(sort=False).items():
                self.rejected[f"line: {reason}"] = int(n)

    def _record(self, into: list, lines, column: str, values, reason) -> None:
        into.append(pd.DataFrame({"line": lines, "column": column, "value": values, "reason": reason}))

    def _align(self, mask) -> np.ndarray:
        """A boolean Series is aligned on the raw index (rows rejected meanwhile are skipped); an array must
        match the current rows."""
        if isinstance(mask, pd.Series):
            return mask.reindex(self.rows.index, fill_value=False).to_numpy(dtype=bool)
        return np.asarray(mask, dtype=bool)

    def reject(self, mask, column: str, reason: str, key: str | None = None) -> None:
        """Quarantine the current rows where ``mask`` holds; ``key`` labels them in the report
        (default ``column: reason``). The key is counted even when no row is rejected."""
        mask = self._align(mask)
        key = key or f"{column}: {reason}"
        self.rejected[key] = self.rejected.get(key, 0) + int(mask.sum())
        if mask.any():
            bad = self.rows[mask]
            self._record(self._rejected, self.lines[bad.index], column,
                         self.text.loc[bad.index, column].to_numpy() if column in self.text else "", reason)
            self.rows = self.rows[~mask]

    def reject_in_turn(self, rules: list[tuple[object, str, str, str | None]], count_empty: bool = True) -> None:
        """``reject`` for each (mask, column, reason, key) in turn, the rows filtered once at the end: a row is
        counted under the first rule that holds for it, as with one ``reject`` after the other. Without
        ``count_empty`` a rule that rejects no row leaves no key in the report."""
        taken = np.zeros(len(self.rows), bool)
        for mask, column, reason, key in rules:
            m = self._align(mask) & ~taken
            key = key or f"{column}: {reason}"
            if count_empty or m.any():
                self.rejected[key] = self.rejected.get(key, 0) + int(m.sum())
            if m.any():
                idx = self.rows.index[m]
                self._record(self._rejected, self.lines[idx], column,
                             self.text.loc[idx, column].to_numpy() if column in self.text else "", reason)
                taken |= m
        if taken.any():
            self.rows = self.rows[~taken]

    def blank(self, mask, column: str, reason: str) -> None:
        """Set an optional value to missing where ``mask`` holds, and record it."""
        mask = self._align(mask)
        if mask.any():
            bad = self.rows[mask]
            self._record(self._blanked, self.lines[bad.index], column, bad[column].astype(str).to_numpy(), reason)
            self.rows.loc[mask, column] = ""

    def quarantine(self) -> pd.DataFrame:
        """Every rejected row and every blanked value of loaded rows: file, line, column, value, reason,
        action (``rejected`` | ``blanked``), in file order."""
        parts = [p.assign(action="rejected") for p in self._rejected]
        parts += [p.assign(action="blanked") for p in self._blanked_of_loaded()]
        if not parts:
            return pd.DataFrame(columns=QUARANTINE_COLUMNS)
        q = pd.concat(parts, ignore_index=True).assign(file=self.file)
        return q.sort_values("line", kind="stable")[QUARANTINE_COLUMNS].reset_index(drop=True)

    def _blanked_of_loaded(self) -> list[pd.DataFrame]:
        if not self._blanked:
            return []
        b = pd.concat(self._blanked, ignore_index=True)
        return [b[np.isin(b.line.to_numpy(), self.lines[self.rows.index])]]

    def report(self) -> FileReport:
        """Counts by reason; raises if a row is unaccounted for."""
        blanked: dict[str, int] = {}
        for b in self._blanked_of_loaded():
            for (col, reason), n in b.groupby(["column", "reason"], sort=False).size().items():
                blanked[f"{col}: {reason}"] = int(n)
        rep = FileReport(self.file, self.encoding, self.rows_read, len(self.rows), dict(self.rejected), blanked)
        rep.check()
        return rep


def is_in(values: pd.Series, known) -> np.ndarray:
    """``values.isin(known)`` for a text column, in Arrow (pandas' Arrow-backed ``isin`` loops in Python)."""
    known = known if isinstance(known, pa.Array) else pa.array(list(known), type=pa.string())
    return pc.is_in(pa.array(values, type=pa.string()), value_set=known).fill_null(False).to_numpy(
        zero_copy_only=False)


def _to_float(s: pd.Series) -> np.ndarray:
    """Numbers parsed from stripped text, NaN where empty or not a number (Arrow's cast when every value
    parses, else pandas' element-wise coercion)."""
    try:
        arr = pa.array(s, type=pa.string())
        arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
        return pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        out = pd.to_numeric(s.where(s != ""), errors="coerce").to_numpy(dtype=float, copy=True)
        retry = np.isnan(out) & (s != "").to_numpy()  # full-width digits (１９８０) and signs, as in addresses
        if retry.any():
            out[retry] = pd.to_numeric(s[retry].str.normalize("NFKC").str.strip(), errors="coerce").to_numpy(float)
        return out


def _check(col: Column, s: pd.Series) -> tuple[list[tuple[pd.Series, str]], pd.Series | None]:
    """(mask of bad non-empty values, reason) pairs for one stripped text column, disjoint and indexed like
    ``s``; and the parsed numbers of a numeric column."""
    present = (s != "").to_numpy()

    def mask(m: np.ndarray) -> pd.Series:
        return pd.Series(present & m, index=s.index)

    if col.kind in _PATTERNS:
        pattern, reason = _PATTERNS[col.kind]
        return [(mask(~s.str.fullmatch(pattern).fillna(False).to_numpy(dtype=bool)), reason)], None
    if col.kind == "enum":
        return [(mask(~is_in(s, col.values)), f"not one of {'/'.join(col.values)}")], None
    if col.kind not in ("int", "float"):
        return [], None
    v = _to_float(s)
    finite = np.isfinite(v)
    out = [(mask(np.isnan(v)), "not a number"), (mask(np.isinf(v)), "not a finite number")]
    if col.kind == "int":
        out.append((mask(finite & (np.mod(np.where(finite, v, 0), 1) != 0)), "not an integer"))
    if col.lo is not None:
        out.append((mask(finite & (np.where(finite, v, col.lo) < col.lo)), f"below {col.lo:.10g}"))
    if col.hi is not None:
        out.append((mask(finite & (np.where(finite, v, col.hi) > col.hi)), f"above {col.hi:.10g}"))
    taken = pd.Series(False, index=s.index)
    disjoint = []
    for m, reason in out:
        disjoint.append((m & ~taken, reason))
        taken |= m
    return disjoint, pd.Series(v, index=s.index)


def _all_empty(df: pd.DataFrame) -> np.ndarray:
    return np.logical_and.reduce([(df[c] == "").to_numpy() for c in df.columns]) if len(df.columns) else np.ones(len(df), bool)


def validate(raw: RawTable, spec: FileSpec) -> Checked:
    """Check every row of ``raw`` against ``spec``: empty rows and rows with a bad required value are
    rejected (first failing column in schema order), bad optional values blanked, numeric columns parsed,
    and rows repeating the spec's key rejected (first kept)."""
    ck = Checked(raw)
    ck.rows = ck.rows.apply(lambda s: s.str.strip()) if len(ck.rows) else ck.rows
    ck.text = ck.rows.copy(deep=False)
    if len(ck.rows):
        empty = _all_empty(ck.rows)
        if empty.any():
            ck.reject(empty, spec.schema[0].name, "empty row (no value in any contract column)")
    parsed: dict[str, pd.Series] = {}
    rules = []  # required columns: rejections in schema order, the rows filtered once (values are checked alone)
    for col in (c for c in spec.schema if c.required):
        rules.append((pd.Series((ck.rows[col.name] == "").to_numpy(), index=ck.rows.index), col.name,
                      "required value missing", None))
        masks, parsed[col.name] = _check(col, ck.rows[col.name])
        rules += [(bad, col.name, reason, None) for bad, reason in masks]
    ck.reject_in_turn(rules, count_empty=False)
    for col in (c for c in spec.schema if not c.required):  # then blanking, on the rows kept
        masks, parsed[col.name] = _check(col, ck.rows[col.name])
        for bad, reason in masks:
            if bad.any():
                ck.blank(bad, col.name, reason)
    if spec.key:
        dup = ck.rows.duplicated(list(spec.key), keep="first").to_numpy()
        if dup.any():
            ck.reject(dup, spec.key[0], f"duplicate {'/'.join(spec.key)} (first kept)")
    for name, v in parsed.items():
        if v is not None:
            ck.rows[name] = v.reindex(ck.rows.index).where((ck.rows[name] != "").to_numpy())
    return ck


def read_checked(root: Path, spec: FileSpec, year: int | None = None, encoding: str | None = None) -> Checked | None:
    """Find, read and validate the file of ``spec`` under ``root``; None if an optional file is absent.
    A missing required file, an unreadable file or a missing required column raises ContractError."""
    try:
        path = spec.path(root, year)
    except ContractError:
        if spec.required:
            raise
        return None
    return validate(read_table(path, spec.schema, encoding), spec)
