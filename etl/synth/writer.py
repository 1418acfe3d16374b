"""Write a synthetic world in the raw layout of DATA_CONTRACT.md, plus ``truth.json`` and ``truth/``."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.synth.network import member
from etl.synth.survey import (
    OLD_REVISION_YEARS,
    YEARS_SURVEY,
    concordance_rows,
    outsourcing_abroad,
    productivity_paths,
    renumbering,
    to_old,
)
from etl.synth.world import World

_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_FULLWIDTH_HYPHEN = str.maketrans("0123456789-", "０１２３４５６７８９－")
# Heisei mergers (old name, old JIS code, ward or city holding the old municipality's districts, date),
# from the municipalities' records; 2005 firms there are partly written under the old name, and the
# table is written as geo/municipality_changes.csv.
MERGERS = (("浦和市", "11204", "11107", "2001-05-01"), ("与野市", "11220", "11105", "2001-05-01"),
           ("岩槻市", "11213", "11110", "2005-04-01"), ("清水市", "22204", "22103", "2003-04-01"),
           ("浜北市", "22218", "22136", "2005-07-01"), ("新津市", "15207", "15105", "2005-03-21"),
           ("更埴市", "20216", "20218", "2003-09-01"))
_BLOCK = r"(?:([一二三四五六七八九十]+)丁目)?(\d+)番(\d+)号$"
_BLOCK_RE = re.compile(_BLOCK)


def _reports(w: World, links: pd.DataFrame, alive: np.ndarray, rng) -> tuple[pa.Table, dict, np.ndarray]:
    """linkage.csv rows for one vintage: top-24 supplier and customer reports, shareholder reports of
    parent–child pairs and holding companies, and counted noise (duplicates, dangling, self).

    The rows are built and shuffled as integer codes (reporter and partner: firm indices, and past them
    the fresh dangling ids; relation: an index into ``RELATIONS``) and written as dictionary columns:
    the CSV is the one of the strings, without taking millions of strings in Python's thread."""
    f, p = w.firms, w.planted
    n_f = len(f)
    s, b = links.seller.to_numpy(), links.buyer.to_numpy()
    by_b, by_s = links.rank_b.to_numpy() > 0, links.rank_s.to_numpy() > 0  # rank 0: not reported
    # shareholders: the child reports the parent; the seller is the parent half of the time
    pc = links[links.parent_child]
    seller_parent = rng.random(len(pc)) < 0.5
    child = np.where(seller_parent, pc.buyer, pc.seller)
    parent = np.where(seller_parent, pc.seller, pc.buyer)
    alive_idx = np.flatnonzero(alive)
    holders = rng.choice(alive_idx, size=int(0.02 * len(alive_idx)), replace=False)
    hold_parent = rng.choice(alive_idx, size=len(holders))
    sh = pd.DataFrame({"child": np.r_[child, holders], "parent": np.r_[parent, hold_parent]})
    sh = sh[sh.child != sh.parent].drop_duplicates()
    sh["rank"] = sh.groupby("child").cumcount() + 1
    sh = sh[sh["rank"] <= 3]
    valid = _Rows(np.r_[b[by_b], s[by_s], sh.child.to_numpy()], np.r_[s[by_b], b[by_s], sh.parent.to_numpy()],
                  np.repeat(np.arange(3, dtype=np.int8), [by_b.sum(), by_s.sum(), len(sh)]),
                  np.r_[links.rank_b.to_numpy()[by_b], links.rank_s.to_numpy()[by_s], sh["rank"].to_numpy()])
    n = len(valid.reporter)
    dup = valid.take(rng.choice(n, size=int(p.dup_report_rate * n), replace=False))
    n_dangle = int(p.dangling_report_rate * n)
    fresh = np.char.zfill(rng.integers(10**9, 2 * 10**9, n_dangle).astype(str), 10)
    dangling_partner = np.where(rng.random(n_dangle) < 0.5, rng.choice(np.flatnonzero(~alive), n_dangle),
                                n_f + np.arange(n_dangle))
    # reporters drawn without replacement so that no noise row repeats another (counted apart from duplicates)
    dangle = _Rows(rng.choice(alive_idx, n_dangle, replace=False), dangling_partner,
                   rng.choice(2, n_dangle).astype(np.int8), rng.integers(1, 25, n_dangle))
    n_self = max(1, int(p.self_report_rate * n))
    me = rng.choice(alive_idx, n_self, replace=False)
    selfr = _Rows(me, me, rng.choice(2, n_self).astype(np.int8), rng.integers(1, 25, n_self))
    rows = _Rows.concat([valid, dup, dangle, selfr])
    # DataFrame.sample(frac=1.0)'s draws, on positions
    rows = rows.take(pd.Series(np.arange(len(rows.reporter))).sample(frac=1.0, random_state=rng).to_numpy())
    ids = _arrow(f.tsr_id)
    out = rows.table(pa.concat_arrays([ids, pa.array(fresh, ids.type)]))
    # parent-child flag as the data will show it: a shareholder report between the pair, either way
    shk = np.sort(sh.child.to_numpy().astype(np.int64) * n_f + sh.parent.to_numpy())
    flagged = member(s.astype(np.int64) * n_f + b, shk) | member(b.astype(np.int64) * n_f + s, shk)
    counts = {"report_rows": int(out.num_rows), "supplier_rows": int(by_b.sum()), "customer_rows": int(by_s.sum()),
              "shareholder_rows": int(len(sh)), "duplicate_rows": int(len(dup.reporter)), "dangling_rows": int(n_dangle),
              "self_rows": int(n_self), "links": int(len(links)),
              "reported_by_buyer_only": int((by_b & ~by_s).sum()), "reported_by_seller_only": int((~by_b & by_s).sum()),
              "reported_by_both": int((by_b & by_s).sum()), "parent_child_links": int(flagged.sum())}
    return out, counts, flagged


RELATIONS = ("supplier", "customer", "shareholder")  # linkage.csv's relation, by code


@dataclass
class _Rows:
    """linkage.csv rows as codes: reporter and partner (firm indices, or past them fresh ids), relation
    (index into ``RELATIONS``), rank."""

    reporter: np.ndarray
    partner: np.ndarray
    relation: np.ndarray
    rank: np.ndarray

    def take(self, idx: np.ndarray) -> _Rows:
        return _Rows(self.reporter[idx], self.partner[idx], self.relation[idx], self.rank[idx])

    @staticmethod
    def concat(parts: list[_Rows]) -> _Rows:
        return _Rows(*(np.concatenate([getattr(r, c) for r in parts]) for c in ("reporter", "partner", "relation",
                                                                                  "rank")))

    def table(self, ids: pa.Array) -> pa.Table:
        """The rows with reporter and partner as ``ids`` (by code) and relation as its name, dictionary
        columns (written as their values)."""
        def coded(codes: np.ndarray, values: pa.Array) -> pa.DictionaryArray:
            return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), values)

        return pa.table({"tsr_id": coded(self.reporter, ids), "partner_id": coded(self.partner, ids),
                         "relation": pa.DictionaryArray.from_arrays(pa.array(self.relation, pa.int8()),
                                                                    pa.array(RELATIONS, ids.type)),
                         "rank": pa.array(self.rank, pa.int64())})


def _arrow(s: pd.Series) -> pa.Array:
    """The values of a string column as one Arrow array."""
    a = pa.array(s)
    return a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a


_COMPANY_SOURCE = ["tsr_id", "name", "address", "muni_code", "muni_name", "banchi", "pref_code", "lat", "lon", "phone",
                   "jsic4", "employees", "sales05", "sales10", "founded"]  # the firm columns company.csv is made of


def _company(w: World, year: int, alive: np.ndarray, rng) -> tuple[pd.DataFrame, dict]:
    f = w.firms.loc[alive, _COMPANY_SOURCE]
    n = len(f)
    provider = rng.random(n) < w.planted.provider_geocode_rate
    level = rng.choice(["district", "municipality", "prefecture"], size=n, p=[0.95, 0.04, 0.01])
    pname = np.where(f.address.str[:4].isin(["神奈川県", "和歌山県", "鹿児島県"]), f.address.str[:4], f.address.str[:3])
    # survey firms keep notations the survey matching reads alike; the others get any notation
    in_survey = np.isin(f.index.to_numpy(), w.buyer_panel.firm.to_numpy())
    district = _mixed_notation(f.address, in_survey, rng)
    muni_code = f.muni_code.to_numpy().copy()
    if year <= 2005:
        district, muni_code = _pre_merger_names(f, pname, district, muni_code, in_survey, rng)
    addr = np.where(level == "district", district,
                    np.where(level == "municipality", pname + f.muni_name + "字" + f.banchi, pname + "所在地不詳"))
    emp = f.employees.to_numpy() if year <= 2005 else np.round(f.employees * np.exp(rng.normal(0, 0.08, n)))
    sales = f.sales05 if year <= 2005 else f.sales10
    sub1 = np.where(rng.random(n) < 0.2, w.jsic.jsic4.sample(n, replace=True, random_state=rng).to_numpy(), "")
    df = pd.DataFrame({
        "tsr_id": f.tsr_id, "name": f.name, "address": addr, "postal_code": "",
        "pref_code": np.where(rng.random(n) < 0.03, "", f.pref_code.astype(str)),
        "municipality_code": np.where(level == "district", muni_code, ""),
        "lat": np.where(provider, _float_text(f.lat.round(6)), ""),
        "lon": np.where(provider, _float_text(f.lon.round(6)), ""),
        "phone": f.phone, "jsic_main": f.jsic4, "jsic_sub1": sub1, "jsic_sub2": "",
        "employees": np.asarray(emp, dtype=np.int64), "sales": np.round(sales.to_numpy(), 0).astype(np.int64),
        "founded": f.founded, "establishments": 1 + rng.poisson(np.asarray(emp) / 60.0),
    })
    expect = pd.Series(np.where(provider, "provider", level)).value_counts().to_dict()
    return df, {"company_rows": n, "expected_geocode_levels": {k: int(v) for k, v in expect.items()}}


def _float_text(s: pd.Series) -> np.ndarray:
    """``s.astype(str)`` of a float column (Python's shortest round-trip ``repr``), by an Arrow cast where
    the two agree but for Arrow's missing ``.0`` on whole numbers: finite values that both write in fixed
    notation (0 or |x| ≥ 1e-4, and no exponent in Arrow's text); else by pandas."""
    x = s.to_numpy(dtype=np.float64)
    ax = np.abs(x)
    if np.all(np.isfinite(x) & ((ax >= 1e-4) | (x == 0))):
        text = pc.cast(pa.array(x), pa.string())
        if not pc.any(pc.match_substring(text, "e")).as_py():
            whole = pc.invert(pc.match_substring(text, "."))
            return pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text).to_numpy(zero_copy_only=False)
    return s.astype(str).to_numpy()


def _mixed_notation(addr: pd.Series, keep_chome: np.ndarray, rng) -> np.ndarray:
    """Block numbers as business files write them: ``二丁目12番3号``, ``2-12-3``, ``２－１２－３``,
    ``2丁目12番地の3``, ``二丁目12-3``; rows in ``keep_chome`` only get width and 番/号 variants."""
    style = rng.choice([0, 1, 2, 3, 4], size=len(addr))
    style[keep_chome & (style != 0)] = 4
    out = addr.to_numpy(dtype=object).copy()
    for i in np.flatnonzero(style):
        out[i] = _block_notation(out[i], int(style[i]))
    return out


def _block_notation(addr: str, style: int) -> str:
    """``addr`` with its block number (``_BLOCK``) in notation ``style`` 1–4 (see ``_mixed_notation``);
    unchanged without a block number."""
    m = _BLOCK_RE.search(addr)
    if m is None:
        return addr
    kanji, a, b = m.groups()
    head = addr[:m.start()]
    chome = _kanji_number(kanji) if kanji is not None else ""
    if style == 1:
        return head + (chome + "-" if chome else "") + a + "-" + b
    if style == 2:
        return (head + (chome + "-" if chome else "") + a + "-" + b).translate(_FULLWIDTH_HYPHEN)
    if style == 3:
        return head + (chome + "丁目" if chome else "") + a + "番地の" + b
    return head + (kanji + "丁目" if kanji is not None else "") + a + "-" + b


@functools.cache
def _kanji_number(kanji: str) -> str:
    from kanjize import kanji2number

    return str(kanji2number(kanji))


def _pre_merger_names(f: pd.DataFrame, pname: np.ndarray, addr: np.ndarray, muni_code: np.ndarray,
                      in_survey: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """Half of the firms of each merged municipality (outside the survey) under the pre-merger name and code."""
    addr, muni_code = addr.copy(), muni_code.copy()
    for old, old_code, ward, _ in MERGERS:
        m = (f.muni_code.to_numpy() == ward) & ~in_survey & (rng.random(len(f)) < 0.5)
        if m.any():
            cut = [len(p) + len(n) for p, n in zip(pname[m], f.muni_name.to_numpy()[m], strict=True)]
            addr[m] = [p + old + a[c:] for p, a, c in zip(pname[m], addr[m], cut, strict=True)]
            muni_code[m] = old_code
    return addr, muni_code


def municipality_changes() -> pd.DataFrame:
    """The generator's geo/municipality_changes.csv."""
    return pd.DataFrame([{"old_name": o, "old_code": c, "new_code": w, "effective": d} for o, c, w, d in MERGERS])


def _expected_levels(comp: pd.DataFrame) -> dict[str, int]:
    """Geocode level a correct geocoder must reach for each company row (for copied rows)."""
    lvl = np.where(comp.lat != "", "provider", np.where(comp.municipality_code != "", "district",
                   np.where(comp.address.str.contains("字"), "municipality", "prefecture")))
    return {k: int(v) for k, v in pd.Series(lvl).value_counts().items()}


def _variant_name(name: pd.Series, rng) -> pd.Series:
    r = rng.random(len(name))
    out = np.where(r < 0.3, name.str.replace("株式会社", "(株)", regex=False),
                   np.where(r < 0.5, name.str.replace("株式会社", "㈱", regex=False), name))
    out = pd.Series(out, index=name.index)
    out = out.where(rng.random(len(name)) > 0.2, out.str.replace("(株)", "（株） ", regex=False))
    return out


def _variant_address(addr: pd.Series, rng) -> pd.Series:
    r = rng.random(len(addr))
    out = np.where(r < 0.4, addr.str.translate(_FULLWIDTH), addr)
    out = pd.Series(out, index=addr.index)
    hy = rng.random(len(addr)) < 0.3
    out[hy] = out[hy].str.replace(r"(\d+|[０-９]+)番(\d+|[０-９]+)号$", r"\1-\2", regex=True)
    return out


def _variant_phone(phone: pd.Series, rng) -> pd.Series:
    r = rng.random(len(phone))
    parts = phone.str.split("-", expand=True)
    return pd.Series(np.where(r < 0.3, phone.str.replace("-", "", regex=False),
                              np.where(r < 0.5, parts[0] + "(" + parts[1] + ")" + parts[2], phone)), index=phone.index)


def _survey_ident(w: World, n_extra: int, rng) -> pd.DataFrame:
    """Identities of the surveyed firms in survey notation: the TSR-matched panel, then survey-only firms."""
    f, panel = w.firms, w.buyer_panel
    n = len(panel)
    firm = f.iloc[panel.firm.to_numpy()]
    survey_id = np.char.zfill(rng.choice(10**8, n + n_extra, replace=False).astype(str), 8)
    ident = pd.DataFrame({"survey_id": survey_id[:n], "name": _variant_name(firm.name.reset_index(drop=True), rng),
                          "address": _variant_address(firm.address.reset_index(drop=True), rng),
                          "phone": _variant_phone(firm.phone.reset_index(drop=True), rng),
                          "jsic3": firm.jsic3.to_numpy(), "tsr_id": firm.tsr_id.to_numpy()})
    other = f.sample(n_extra, random_state=rng)
    ident_x = pd.DataFrame({"survey_id": survey_id[n:], "name": "株式会社" + other.name_core.to_numpy() + "本社",
                            "address": other.address.str.replace("番", "の", regex=False).to_numpy(),
                            "phone": "09" + pd.Series(rng.integers(10**7, 10**8, n_extra)).astype(str).to_numpy(),
                            "jsic3": other.jsic3.to_numpy(), "tsr_id": ""})
    return pd.concat([ident, ident_x], ignore_index=True)


def _survey_years(n: int, n_extra: int, p, rng) -> tuple[np.ndarray, np.ndarray]:
    """First and last survey year of each firm: panel firms are surveyed in 2005 and 2010 (their import
    status), some first in 2004 or 2005 and some not in 2011; survey-only firms enter or exit in 2006–2009."""
    first, last = np.full(n + n_extra, 2003), np.full(n + n_extra, 2011)
    enter = rng.random(n) < p.survey_entry_share
    first[:n][enter] = rng.choice([2004, 2005], enter.sum())
    first_x, last_x = first[n:], last[n:]
    r, y = rng.random(n_extra), rng.integers(2006, 2010, n_extra)
    first_x[r < 0.3], last_x[(r >= 0.3) & (r < 0.6)] = y[r < 0.3], y[(r >= 0.3) & (r < 0.6)]
    last[:n][rng.random(n) < p.survey_exit_share] = 2010
    return first, last


def _sector_sets(off05: np.ndarray, m: int, rng) -> np.ndarray:
    """Broad sectors each firm imports whenever it imports: its 2005 offshoring sectors, else 1–3 at random."""
    sect = np.zeros((m, 12), bool)
    sect[: len(off05)] = off05
    need = ~sect.any(1)
    k = rng.integers(1, 4, m)
    rank = np.argsort(np.argsort(rng.random((m, 12)), axis=1), axis=1)
    sect[need] = (rank < k[:, None])[need]
    return sect


def _bsjbsa(w: World, rng) -> tuple[dict[int, pd.DataFrame], pd.DataFrame, dict, dict[int, pd.DataFrame]]:
    """BSJBSA panel 2003–2011 (current JSIC codes): matched TSR firms in survey notation plus survey-only
    firms, with entry and exit; import paths by status; the planted production structure (Planted.prod_*);
    imports by broad sector (the 2005 ones carry the planted Table 6 effects); foreign outsourcing."""
    panel, p, dr = w.buyer_panel, w.planted, w.survey_draws
    f = w.firms
    n = len(panel)
    n_extra = int(round(n * p.survey_only_share / (1 - p.survey_only_share)))
    ident = _survey_ident(w, n_extra, rng)
    firm = f.iloc[panel.firm.to_numpy()]
    status = np.r_[panel.status.to_numpy(), np.full(n_extra, "non")]
    m = len(ident)
    first, last = _survey_years(n, n_extra, p, rng)
    emp0 = np.r_[np.maximum(firm.employees.to_numpy(), 50), rng.integers(50, 400, n_extra)].astype(float)
    sales0 = np.r_[firm.sales05.to_numpy() / 1000, rng.lognormal(np.log(3000), 1, n_extra)]
    start_year = rng.integers(2006, 2011, m)
    stop_year = rng.integers(2006, 2011, m)
    occasional = (status == "non") & (rng.random(m) < 0.15)
    occ_year = rng.choice([2003, 2004, 2006, 2007, 2008, 2009, 2011], m)
    intensity = np.clip(rng.beta(2, 9, m), 0.01, 0.9)
    asia = np.clip(rng.beta(8, 2, m), 0.2, 1.0)
    ax, ex = productivity_paths(n_extra, p, rng)
    a_all, e_all = np.vstack([dr["a"], ax]), np.vstack([dr["e"], ex])
    sect = _sector_sets(dr["off"], m, rng)
    sect_w = rng.gamma(1.0, 1.0, (m, 12)) * sect
    sect_w = 0.8 * sect_w / sect_w.sum(1, keepdims=True)
    rate = pd.Series(rng.beta(2, 30, ident.jsic3.nunique()), index=ident.jsic3.unique()).reindex(ident.jsic3).to_numpy()
    reports_fo = rng.random(m) < p.fo_report_share
    logk = np.log(sales0 * 0.8)
    years, sectors = {}, {}
    for ti, y in enumerate(YEARS_SURVEY):
        t = y - 2005
        imp = np.select([status == "continuing", status == "starter", status == "stopper"],
                        [np.ones(m, bool), y >= start_year, y < stop_year], occasional & (occ_year == y))
        if y in (2005, 2010):
            imp = np.select([status == "continuing", status == "starter", status == "stopper"],
                            [np.ones(m, bool), np.full(m, y == 2010), np.full(m, y == 2005)], np.zeros(m, bool))
        a = a_all[:, ti]
        inv = np.exp(logk - 1.6 + 1.5 * a)
        emp = np.maximum(np.round(emp0 * np.exp(0.3 * a + 0.01 * t + rng.normal(0, 0.05, m))), 1)
        va = np.exp(p.prod_year_trend * t + a + p.prod_beta_k * logk + p.prod_beta_l * np.log(emp) + e_all[:, ti])
        sales = va / 0.3
        purchases = sales * 0.6
        imports = np.where(imp, purchases * intensity * (1 + 0.035 * max(t, 0)), 0.0)
        here = (first <= y) & (last >= y)
        df = ident.drop(columns="tsr_id").assign(
            employees=emp.astype(np.int64), sales=sales.round(1), purchases=purchases.round(1),
            value_added=va.round(1), tangible_assets=np.exp(logk).round(1), investment=inv.round(1),
            wages=(va * 0.55).round(1), imports_total=imports.round(1), imports_asia=(imports * asia).round(1),
            imports_europe=(imports * (1 - asia) * 0.4).round(1),
            imports_north_america=(imports * (1 - asia) * 0.35).round(1),
            imports_other=(imports * (1 - asia) * 0.25).round(1),
            exports_total=np.where(rng.random(m) < 0.3, sales * 0.1, 0).round(1),
            outsourcing_abroad=outsourcing_abroad(purchases, rate, reports_fo, rng))
        years[int(y)] = df[here].reset_index(drop=True)
        ii, ss = np.nonzero(sect & (here & (df.imports_total.to_numpy() > 0))[:, None])
        sectors[int(y)] = pd.DataFrame({"survey_id": ident.survey_id.to_numpy()[ii], "sector12": ss + 1,
                                        "imports": np.maximum((imports[ii] * sect_w[ii, ss]).round(1), 0.1)})
        logk = np.log(0.8 * np.exp(logk) + inv)
    alt = status[:n][panel.manufacturing.to_numpy() == 1]
    truth = {"bsjbsa_firms": int(m), "bsjbsa_in_tsr": int(n), "bsjbsa_not_in_tsr": int(n_extra),
             "firms_per_year": {int(y): int(len(d)) for y, d in years.items()},
             "panel_first_surveyed_after_2003": int((first[:n] > 2003).sum()),
             "panel_not_surveyed_2011": int((last[:n] < 2011).sum()),
             "mfg_starters": int((alt == "starter").sum()), "table6": w.truth.counts.get("table6", {})}
    return years, ident[["survey_id", "tsr_id"]], truth, sectors


def _foreign_outsourcing(s: pd.DataFrame) -> pd.Series:
    """Foreign outsourcing over purchases per 3-digit industry, over the firms that report it."""
    r = s[s.outsourcing_abroad.notna()]
    g = r.groupby("jsic3")[["outsourcing_abroad", "purchases"]].sum()
    return g.outsourcing_abroad / g.purchases


def _wages(w: World, survey: dict[int, pd.DataFrame], rng) -> tuple[pd.DataFrame, dict]:
    """Seed 000: wages by skill per manufacturing 3-digit industry with a planted effect of the change in
    offshoring (imports over purchases) that depends on the industry's initial (2005) foreign outsourcing."""
    p = w.planted
    mfg3 = w.characteristics.jsic3.to_numpy()
    off = {}
    for y in (2005, 2010):
        s = survey[y][survey[y].jsic3.isin(mfg3)].groupby("jsic3")[["imports_total", "purchases"]].sum()
        off[y] = s.imports_total / s.purchases
    d_off = (off[2010] - off[2005]).reindex(mfg3)
    fo = _foreign_outsourcing(survey[2005]).reindex(mfg3)
    ok = (d_off.notna() & fo.notna()).to_numpy()
    d_off, fo, mfg3 = d_off[ok], fo[ok], mfg3[ok]
    fo_std = ((fo - fo.mean()) / fo.std()).to_numpy()
    noise = rng.normal(0, p.wage_noise_sd, len(mfg3))
    d_ineq = 0.02 + p.wage_b1 * d_off.to_numpy() + p.wage_b2 * d_off.to_numpy() * fo_std + p.wage_b3 * fo_std + noise
    ineq05 = rng.normal(0.35, 0.08, len(mfg3))
    wl05 = rng.lognormal(np.log(3200), 0.12, len(mfg3))
    rows = []
    for y in YEARS_SURVEY:
        frac = (y - 2005) / 5
        ineq = ineq05 + frac * d_ineq
        wl = wl05 * (1 + 0.004 * (y - 2005))
        rows.append(pd.DataFrame({"jsic3": mfg3, "year": y, "wage_high": (wl * np.exp(ineq)).round(1),
                                  "wage_low": wl.round(1), "emp_high": rng.integers(2000, 60000, len(mfg3)),
                                  "emp_low": rng.integers(5000, 150000, len(mfg3))}))
    return pd.concat(rows, ignore_index=True), {"wage_industries": int(len(mfg3)),
                                                "noise": dict(zip(mfg3, np.round(noise, 10), strict=True))}


class _BackgroundFiles:
    """Files written by one background thread while the caller goes on building the next table.

    A thread, not a forked process (a fork while a thread of a compiled library holds a lock deadlocks the
    child): pyarrow's CSV and Parquet writers release the GIL. The frames handed over are not modified
    afterwards. ``wait`` returns once every file is written and raises the first error of any of them."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="synth-writer")
        self._pending: list[Future] = []

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        """``fn(*args, **kwargs)`` in the writer thread, after the files submitted before it."""
        fut = self._pool.submit(fn, *args, **kwargs)
        self._pending.append(fut)
        return fut

    def csv(self, df: pd.DataFrame | pa.Table, path: Path, encoding: str = "utf-8") -> Future:
        """``_write_csv(df, path, encoding)`` in the writer thread; the future gives the encoding used."""
        return self.submit(_write_csv, df, path, encoding)

    def wait(self) -> None:
        for fut in self._pending:
            fut.result()

    def __enter__(self) -> _BackgroundFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=exc[0] is not None)


def _write_csv(df: pd.DataFrame | pa.Table, path: Path, encoding: str = "utf-8") -> str:
    """CSV through pyarrow (fast); re-encoded to ``encoding`` when every character fits, else UTF-8."""
    import pyarrow.csv as pacsv

    path.parent.mkdir(parents=True, exist_ok=True)
    table = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, preserve_index=False)
    if encoding == "utf-8":
        pacsv.write_csv(table, str(path))
        return encoding
    buf = pa.BufferOutputStream()
    pacsv.write_csv(table, buf)
    data = buf.getvalue().to_pybytes()
    del table, buf
    try:
        chunks = _transcoded(data, encoding)
    except UnicodeEncodeError:
        chunks, encoding = [data], "utf-8"
    with open(path, "wb") as fh:
        fh.writelines(chunks)
    return encoding


def _transcoded(data: bytes, encoding: str, chunk: int = 1 << 22) -> list[bytes]:
    """UTF-8 ``data`` in ``encoding`` (a stateless codec), in pieces of about ``chunk`` bytes cut after a
    line: a codec call holds the GIL, so the generator's other thread runs between the pieces. Raises
    UnicodeEncodeError when a character does not fit."""
    out, start = [], 0
    while start < len(data):
        end = data.find(b"\n", start + chunk)
        end = len(data) if end < 0 else end + 1
        out.append(data[start:end].decode("utf-8").encode(encoding))
        start = end
    return out


def write_world(w: World, out: Path, rng) -> dict:
    """Write every contract file and the truth; return the truth dict."""
    with WorldWriter(out, rng) as writer:
        writer.start(w)
        return writer.finish(w)


class WorldWriter:
    """Writes a world's files in two parts: ``start`` (the 2005 vintage, which needs only the world as of
    2005, so that it can run in a thread while the 2010 network is built) and ``finish`` (the rest and
    truth.json). Every draw is on ``rng``, in the same order, one part after the other. The files
    themselves are written by a background thread (``_BackgroundFiles``) while the next table is built."""

    def __init__(self, out: Path, rng) -> None:
        self.out, self.rng = Path(out), rng
        self.files = _BackgroundFiles()
        self._first: dict | None = None

    def __enter__(self) -> WorldWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.files.__exit__(*exc)

    def start(self, w: World) -> None:
        """The 2005 files (``w`` as of 2005 is enough)."""
        twins = w.buyer_panel.firm.to_numpy()[self.rng.choice(len(w.buyer_panel), replace=False,
                                                               size=max(2, len(w.buyer_panel) // 800))]
        rng_c = np.random.default_rng([w.truth.seed, 4])
        old = renumbering(w.jsic, w.planted.jsic_renumber_share, rng_c)
        self._first = {"twins": twins, "rng_c": rng_c, "old": old,
                       2005: _write_vintage(w, 2005, w.links05, twins, old, self.out, self.rng, self.files)}

    def finish(self, w: World) -> dict:
        """The 2010 files, the survey's, the industry tables, the truth files; returns the truth."""
        if self._first is None:
            raise RuntimeError("WorldWriter.finish before start")
        twins, rng_c, old, v05 = (self._first[k] for k in ("twins", "rng_c", "old", 2005))
        rng, out, files = self.rng, self.out, self.files
        v10 = _write_vintage(w, 2010, w.links10, twins, old, out, rng, files)
        truth = {"scale": w.truth.scale, "seed": w.truth.seed, "planted": w.truth.planted,
                 "counts": dict(w.truth.counts), "industries": w.truth.industries, "encodings": {},
                 "jsic_renumbered": {k: v for k, v in old.items() if len(k) == 3}}
        for v in (v05, v10):
            truth["encodings"][f"tsr/{v.year}/company.csv"] = v.encoding
            truth["counts"][f"reports_{v.year}"] = v.reports
            truth["counts"][f"company_{v.year}"] = v.company
        tdir = out / "truth"
        tdir.mkdir(parents=True, exist_ok=True)
        files.submit(_write_parquet, [v05.links, v10.links], tdir / "links.parquet")
        survey, key, bt, sectors = _bsjbsa(w, rng)
        for y, df in survey.items():
            coded = df.assign(jsic3=to_old(df.jsic3, old)) if y in OLD_REVISION_YEARS else df
            truth["encodings"][f"bsjbsa/{y}.csv"] = files.csv(coded, out / f"bsjbsa/{y}.csv", "cp932")
            files.csv(sectors[y], out / f"bsjbsa/imports_by_sector/{y}.csv")
        if old:
            files.csv(concordance_rows(old, w.jsic, rng_c), out / "industry/jsic_concordance.csv")
        truth["counts"]["bsjbsa"] = bt | {"ambiguous_twins": int(len(twins))}
        wages, wt = _wages(w, survey, rng)
        truth["counts"]["wages"] = wt
        files.csv(wages, out / "industry/wages.csv")
        _write_industry(w, out, files)
        truth["wes"] = w.wes.round(8).to_dict()
        files.submit(_firms_truth(w).to_parquet, tdir / "firms.parquet", index=False)
        files.submit(key.to_parquet, tdir / "bsjbsa_key.parquet", index=False)
        twin_ids = w.firms.tsr_id.to_numpy()[twins]
        files.submit(pd.DataFrame({"tsr_id": twin_ids}).to_parquet, tdir / "ambiguous_twins.parquet", index=False)
        files.wait()
        truth["encodings"] = {k: v.result() for k, v in truth["encodings"].items()}
        truth["counts"].update(w.oracle_counts())
        (out / "truth.json").write_text(json.dumps(truth, indent=1, ensure_ascii=False, default=_json_default))
        return truth


@dataclass
class _Vintage:
    """What one vintage's TSR files add to the truth."""

    year: int
    reports: dict  # counts of linkage.csv
    company: dict  # counts of company.csv
    encoding: Future  # company.csv's encoding, once written
    links: pd.DataFrame  # its rows of truth/links.parquet


def _write_vintage(w: World, year: int, links: pd.DataFrame, twins: np.ndarray, old: dict[str, str], out: Path,
                   rng, files: _BackgroundFiles) -> _Vintage:
    """tsr/{year}/linkage.csv and company.csv (with the ambiguous twins' copies)."""
    f = w.firms
    alive = (f.alive05 if year == 2005 else f.alive10).to_numpy()
    rep, rc, flagged = _reports(w, links, alive, rng)
    files.csv(rep, out / f"tsr/{year}/linkage.csv")
    comp, cc = _company(w, year, alive, rng)
    twin = comp[comp.tsr_id.isin(f.tsr_id.to_numpy()[twins])].copy()
    twin["tsr_id"] = np.char.zfill(rng.integers(2 * 10**9, 3 * 10**9, len(twin)).astype(str), 10)
    comp = pd.concat([comp, twin], ignore_index=True)
    if year in OLD_REVISION_YEARS:
        comp["jsic_main"], comp["jsic_sub1"] = to_old(comp.jsic_main, old), to_old(comp.jsic_sub1, old)
    cc["company_rows"] = int(len(comp))
    lv = cc["expected_geocode_levels"]
    for lvl, n in _expected_levels(twin).items():
        lv[lvl] = lv.get(lvl, 0) + n
    enc = files.csv(comp, out / f"tsr/{year}/company.csv", "cp932" if year == 2005 else "utf-8")
    ids = f.tsr_id.array.take
    links_t = pd.DataFrame({"seller_id": ids(links.seller.to_numpy()), "buyer_id": ids(links.buyer.to_numpy()),
                            "year": year, "parent_child": flagged})
    return _Vintage(year, rc, cc, enc, links_t)


def _write_industry(w: World, out: Path, files: _BackgroundFiles) -> None:
    """The industry tables (no draws) and geo/municipality_changes.csv."""
    files.csv(w.jsic.drop(columns="firm_weight").assign(
        sector12=w.jsic.sector12.astype("Int64")), out / "industry/jsic.csv")
    files.csv(w.characteristics[["jsic3", "rho", "theta_cp", "air_share", "rauch"]].round(6),
              out / "industry/characteristics.csv")
    files.csv(w.exports, out / "industry/world_exports.csv")
    files.csv(municipality_changes(), out / "geo/municipality_changes.csv")


def _write_parquet(frames: list[pd.DataFrame], path: Path) -> None:
    """The frames, concatenated, as one Parquet file."""
    pd.concat(frames, ignore_index=True).to_parquet(path, index=False)


def _firms_truth(w: World) -> pd.DataFrame:
    """truth/firms.parquet: each firm's location, industry, u and employees, with the survey panel's
    D, import status, shock and the calibration columns."""
    bp = w.buyer_panel
    firms_t = w.firms[["tsr_id", "lat", "lon", "pref_code", "muni_code", "jsic4", "u", "employees"]].copy()
    firms_t["D"] = 0.0
    firms_t.loc[bp.firm.to_numpy(), "D"] = bp.D.to_numpy()
    firms_t["status"] = ""
    firms_t.loc[bp.firm.to_numpy(), "status"] = bp.status.to_numpy()
    firms_t["shock"] = np.nan
    firms_t.loc[bp.firm.to_numpy(), "shock"] = bp.shock.to_numpy()
    for c in ("imp05", "start_s_std", "start_rest"):  # import starting at another π, for calibration
        firms_t[c] = np.nan
        firms_t.loc[bp.firm.to_numpy(), c] = bp[c].to_numpy(float)
    return firms_t


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(type(o))
