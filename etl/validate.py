"""Row validation against the contract schemas.

A bad value in a required column quarantines the row; a bad value in an optional column is set to
missing and recorded. Every problem names file, row (1-based line in the file, header = line 1),
column, value and reason, so nothing is lost silently."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from etl.contract import Column

_PATTERNS = {
    "id": r"\d+",
    "code3": r"\d{3}",
    "code4": r"\d{4}",
    "muni": r"\d{5}",
    "postal": r"\d{3}-?\d{4}",
    "year": r"\d{4}",
}


@dataclass
class Issues:
    """Quarantined rows and nullified values of one file."""

    file: str
    rows: list[pd.DataFrame] = field(default_factory=list)  # row, column, value, reason (row rejected)
    values: list[pd.DataFrame] = field(default_factory=list)  # row, column, value, reason (value blanked)

    def reject(self, mask: np.ndarray, df: pd.DataFrame, column: str, reason: str) -> None:
        if mask.any():
            self.rows.append(pd.DataFrame({"file": self.file, "row": df.index[mask] + 2, "column": column,
                                           "value": df.loc[mask, column].to_numpy() if column in df else "",
                                           "reason": reason}))

    def blank(self, mask: np.ndarray, df: pd.DataFrame, column: str, reason: str) -> None:
        if mask.any():
            self.values.append(pd.DataFrame({"file": self.file, "row": df.index[mask] + 2, "column": column,
                                             "value": df.loc[mask, column].to_numpy(), "reason": reason}))

    def rejected(self) -> pd.DataFrame:
        cols = ["file", "row", "column", "value", "reason"]
        if not self.rows:
            return pd.DataFrame(columns=cols)
        r = pd.concat(self.rows, ignore_index=True)
        return r.drop_duplicates("row", keep="first").sort_values("row").reset_index(drop=True)

    def blanked(self) -> pd.DataFrame:
        cols = ["file", "row", "column", "value", "reason"]
        return pd.concat(self.values, ignore_index=True) if self.values else pd.DataFrame(columns=cols)


def _check(col: Column, s: pd.Series) -> tuple[np.ndarray, pd.Series | None, str]:
    """(bad mask among non-empty values, parsed numeric values or None, reason)."""
    s = s.str.strip()
    present = (s != "").to_numpy()
    if col.kind in _PATTERNS:
        ok = s.str.fullmatch(_PATTERNS[col.kind]).fillna(False).to_numpy()
        return present & ~ok, None, f"not a {col.kind.replace('code', '')}-digit code" if "code" in col.kind else f"malformed {col.kind}"
    if col.kind == "enum":
        return present & ~s.isin(col.values).to_numpy(), None, f"not one of {'/'.join(col.values)}"
    if col.kind in ("int", "float"):
        v = pd.to_numeric(s.where(s != ""), errors="coerce")
        bad = present & v.isna().to_numpy()
        reason = "not a number"
        if col.kind == "int":
            frac = present & ~bad & (np.mod(v.fillna(0).to_numpy(), 1) != 0)
            bad |= frac
            reason = "not an integer"
        rng_bad = np.zeros(len(s), bool)
        if col.lo is not None:
            rng_bad |= (v < col.lo).fillna(False).to_numpy()
        if col.hi is not None:
            rng_bad |= (v > col.hi).fillna(False).to_numpy()
        if rng_bad.any():
            reason = f"{reason} or outside [{col.lo}, {col.hi}]"
        return bad | rng_bad, v, reason
    return np.zeros(len(s), bool), None, ""


def validate(df: pd.DataFrame, schema: tuple[Column, ...], file: str) -> tuple[pd.DataFrame, Issues]:
    """Return (valid rows with numeric columns parsed, issues). Index of ``df`` must be 0..n-1."""
    issues = Issues(file)
    out = df.copy()
    keep = np.ones(len(df), bool)
    for col in schema:
        s = df[col.name].astype(str).str.strip()
        out[col.name] = s
        if col.required:
            empty = (s == "").to_numpy()
            issues.reject(empty, df, col.name, "required value missing")
            keep &= ~empty
        bad, parsed, reason = _check(col, s)
        if col.required:
            issues.reject(bad, df, col.name, reason)
            keep &= ~bad
        else:
            issues.blank(bad, df, col.name, reason)
            out.loc[bad, col.name] = ""
        if parsed is not None:
            out[col.name] = parsed.where(~bad)
    return out[keep], issues
