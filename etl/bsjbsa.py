"""BSJBSA survey years and their match to TSR firms on normalised name, address and phone (section 2:
there is no common key)."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from etl.contract import BSJBSA
from etl.geo import map_text
from etl.jsic_codes import map_codes, read_concordance
from etl.report import FileReport
from etl.validate import QUARANTINE_COLUMNS, read_checked

_LEGAL_FORMS = re.compile(r"\((株|有|同|資|名)\)|株式会社|有限会社|合同会社|合資会社|合名会社")
_HYPHENS = re.compile(r"[‐‑‒–—―−ｰー－]")


def normalize_name(name: str) -> str:
    """NFKC (㈱ → (株), full-width → ASCII), legal-form notation removed, no spaces."""
    s = unicodedata.normalize("NFKC", str(name))
    s = s.replace("（", "(").replace("）", ")")
    return _LEGAL_FORMS.sub("", s).replace(" ", "").replace("\u3000", "")


def normalize_phone(phone: str, keep: str = "") -> str:
    """Digits only (hyphens, brackets, width and spaces differ between sources); ``keep``: characters
    also kept (the separator of a joined column)."""
    return re.sub(rf"[^\d{keep}]", "", unicodedata.normalize("NFKC", str(phone)))


def normalize_address(address: str, end: str = "$") -> str:
    """NFKC, no spaces, one hyphen character, 'N番M号' and 'N番地M' written as 'N-M'; ``end``: the pattern
    of the end of one address (``$``, or the separator of a joined column)."""
    s = unicodedata.normalize("NFKC", str(address)).replace(" ", "").replace("ヶ", "ケ")
    s = _HYPHENS.sub("-", s)
    s = re.sub(r"(\d+)番地?(\d+)号?", r"\1-\2", s)
    s = re.sub(rf"(\d+)番地?{end}", r"\1", s)
    return re.sub(rf"(\d+)号{end}", r"\1", s)


_JOINED_END = r"(?=\n?(?:\x00|\Z))"  # where ``$`` matches for one value of a NUL-joined column


def _keys(df: pd.DataFrame, *, names: list[str] | None = None) -> pd.DataFrame:
    """Normalised name ``n``, phone ``p`` and address ``a`` of each row, one joined pass per column."""
    return pd.DataFrame({  # typed as text even when empty (no candidate firm), so the merges below hold
        "n": names if names is not None else map_text(df.name, normalize_name),
        "p": map_text(df.phone, normalize_phone, lambda x: normalize_phone(x, keep="\x00")),
        "a": map_text(df.address, normalize_address, lambda x: normalize_address(x, end=_JOINED_END)),
    }, index=df.index, dtype=object)


def survey_years(root: Path) -> list[int]:
    """Years with a ``bsjbsa/<YEAR>.csv`` or ``.parquet`` file."""
    d = Path(root) / "bsjbsa"
    return sorted({int(p.stem) for p in d.iterdir() if p.is_file() and p.suffix in (".csv", ".parquet")
                   and p.stem.isdigit()}) if d.is_dir() else []


def read_survey(root: Path, encoding: str | None = None, years: list[int] | None = None
                ) -> tuple[pd.DataFrame, list[FileReport], pd.DataFrame]:
    """Survey years (default: all) stacked with ``year``, their reports and their quarantine."""
    frames, reports, quarantine = [], [], []
    codes = read_concordance(root, encoding)[0]
    for y in survey_years(root) if years is None else years:
        ck = read_checked(root, BSJBSA, y, encoding)
        map_codes(ck, y, codes, "jsic3", 3, required=True)
        frames.append(ck.rows.assign(year=y))
        reports.append(ck.report())
        quarantine.append(ck.quarantine())
    panel = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    q = pd.concat(quarantine, ignore_index=True) if quarantine else pd.DataFrame(columns=QUARANTINE_COLUMNS)
    return panel, reports, q


def match_to_tsr(survey: pd.DataFrame, tsr: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """One row per survey firm: tsr_id (or empty), method, status in {matched, ambiguous, unmatched}.

    Candidates share the normalised name AND (the normalised phone OR the normalised address). A survey
    firm with several candidate TSR firms is ambiguous; a TSR firm claimed by several survey firms makes
    all of them ambiguous; so no survey firm is matched to two TSR firms and vice versa."""
    ident = (survey.sort_values("year", key=lambda y: (y - 2005).abs()).drop_duplicates("survey_id")
             [["survey_id", "name", "address", "phone"]])
    s = pd.concat([ident[["survey_id"]], _keys(ident)], axis=1)
    tsr = tsr.drop_duplicates("tsr_id")
    names = map_text(tsr.name, normalize_name)
    wanted = set(s.n)  # phone and address are normalised only for firms whose name some survey firm has
    cand = np.fromiter((n in wanted for n in names), dtype=bool, count=len(names))
    tc = tsr[cand]
    t = pd.concat([tc[["tsr_id"]], _keys(tc, names=[n for n, c in zip(names, cand, strict=True) if c])], axis=1)
    by_phone = s[s.p != ""].merge(t[t.p != ""], on=["n", "p"])[["survey_id", "tsr_id"]].assign(m="phone")
    by_addr = s[s.a != ""].merge(t[t.a != ""], on=["n", "a"])[["survey_id", "tsr_id"]].assign(m="address")
    cand = pd.concat([by_phone, by_addr], ignore_index=True)
    method = cand.groupby(["survey_id", "tsr_id"]).m.agg(lambda x: "+".join(sorted(set(x)))).reset_index()
    n_tsr = method.groupby("survey_id").tsr_id.transform("size")
    n_survey = method.groupby("tsr_id").survey_id.transform("size")
    method["status"] = np.where((n_tsr == 1) & (n_survey == 1), "matched", "ambiguous")
    amb = method[method.status == "ambiguous"].groupby("survey_id").tsr_id.agg(lambda x: ";".join(sorted(x)))
    ok = method[method.status == "matched"].set_index("survey_id")
    out = s[["survey_id"]].copy()
    out["tsr_id"] = ok.tsr_id.reindex(out.survey_id).fillna("").to_numpy()
    out["method"] = ok.m.reindex(out.survey_id).fillna("").to_numpy()
    out["candidates"] = amb.reindex(out.survey_id).fillna("").to_numpy()
    out["status"] = np.where(out.tsr_id != "", "matched", np.where(out.candidates != "", "ambiguous", "unmatched"))
    stats = {"survey_firms": int(len(out)), **{k: int(v) for k, v in out.status.value_counts().items()}}
    stats["match_rate"] = stats.get("matched", 0) / max(len(out), 1)
    return out.reset_index(drop=True), stats
