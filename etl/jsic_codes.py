"""JSIC revisions: each vintage's and survey year's industry codes mapped to the codes of jsic.csv through
``industry/jsic_concordance.csv`` (DATA_CONTRACT.md). A code the concordance maps goes to its target (the
largest weight when a code maps to several); a code of jsic.csv without a row stays; any other code is
unmapped and its row is quarantined with the reason (an unmapped secondary code is blanked)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from etl.contract import INDUSTRY, Column, FileSpec
from etl.validate import QUARANTINE_COLUMNS, Checked, read_checked

CONCORDANCE = FileSpec("jsic_concordance", "industry", "jsic_concordance",
                       (Column("year", "int", True, lo=1900, hi=2100), Column("code", "text", True),
                        Column("jsic4", "code4", True), Column("weight", "float", lo=0)), required=False)


class Codes:
    """The target classification (jsic.csv) and the concordance of one data root."""

    def __init__(self, jsic: pd.DataFrame, mapping: pd.DataFrame) -> None:
        self.jsic4 = set(jsic.jsic4)
        self.jsic3_of = jsic.set_index("jsic4").jsic3
        self.jsic3 = set(jsic.jsic3)
        self.mapping = mapping  # year, code, jsic4 (one row per year and code)

    def map(self, codes: pd.Series, year: int, digits: int) -> tuple[pd.Series, np.ndarray]:
        """(codes in jsic.csv terms, unmapped mask) for 4-digit or 3-digit codes of ``year``; '' stays ''."""
        codes = codes.astype(str)
        m = self.mapping[(self.mapping.year == year) & (self.mapping.code.str.len() == digits)]
        target = m.set_index("code").jsic4
        if digits == 3:
            target = self.jsic3_of.reindex(target.to_numpy()).set_axis(target.index)
        known = self.jsic4 if digits == 4 else self.jsic3
        mapped = codes.map(target)
        out = mapped.where(mapped.notna(), codes)
        bad = (codes != "").to_numpy() & ~out.isin(known).to_numpy()
        return out.where(~bad, ""), bad


def read_concordance(root: Path, encoding: str | None = None) -> tuple[Codes | None, dict, pd.DataFrame]:
    """The root's Codes (None without a concordance file), the file's report and its quarantine. Rows whose
    target is not in jsic.csv, or whose code is neither 3 nor 4 digits, are quarantined."""
    ck = read_checked(root, CONCORDANCE, None, encoding)
    if ck is None:
        return None, {}, pd.DataFrame(columns=QUARANTINE_COLUMNS)
    jsic = read_checked(root, INDUSTRY["jsic"], None, encoding).rows
    ck.reject(~ck.rows.code.astype(str).str.fullmatch(r"\d{3}|\d{4}").to_numpy(), "code", "not a 3- or 4-digit code")
    ck.reject(~ck.rows.jsic4.isin(set(jsic.jsic4)).to_numpy(), "jsic4", "target code not in industry/jsic.csv")
    rep = ck.report()
    df = ck.rows
    best = (df.assign(w=pd.to_numeric(df.weight).fillna(1.0), year=pd.to_numeric(df.year).astype(int),
                      order=np.arange(len(df)))
            .sort_values(["year", "code", "w", "order"], ascending=[True, True, False, True])
            .drop_duplicates(["year", "code"]))
    rep.notes = {"codes_mapped": int(len(best)), "codes_with_several_targets": int(len(df) - len(best))}
    return Codes(jsic, best[["year", "code", "jsic4"]]), rep.as_dict(), ck.quarantine()


def map_codes(ck: Checked, year: int, codes: Codes | None, column: str, digits: int, required: bool) -> None:
    """Map ``column`` of the checked rows of ``year`` to jsic.csv codes; an unmapped code rejects the row
    (``required``) or is blanked."""
    if codes is None:
        return
    mapped, bad = codes.map(ck.rows[column], year, digits)
    reason = f"JSIC code neither in industry/jsic.csv nor mapped for {year} by industry/jsic_concordance.csv"
    if required:
        ck.rows = ck.rows.assign(**{column: mapped.to_numpy()})
        ck.reject(bad, column, reason)
    else:
        ck.blank(bad, column, reason)
        ck.rows = ck.rows.assign(**{column: mapped.where(~bad, "").to_numpy()})
