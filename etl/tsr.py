"""TSR vintages: company file → clean firms (typed, geocoded); linkage file → directed seller → buyer
links by two-way matching (paper section 2), parent–child flags, distances."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.contract import COMPANY, LINKAGE
from etl.geo import PRECISION_LEVELS, Geocoder, haversine_km
from etl.jsic_codes import map_codes, read_concordance
from etl.report import FileReport
from etl.validate import is_in, read_checked

FIRM_COLUMNS = ["tsr_id", "name", "address", "postal_code", "pref_code", "municipality_code", "lat", "lon",
                "geo_precision", "phone", "jsic4", "jsic3", "jsic_sub1", "jsic_sub2", "employees", "sales",
                "founded", "establishments"]


def clean_company(root: Path, year: int, encoding: str | None = None,
                  geocoder: Geocoder | None = None) -> tuple[pd.DataFrame, FileReport, pd.DataFrame]:
    """Validated, geocoded firms of one vintage, the file's report and its quarantine (rejected rows and
    blanked values)."""
    ck = read_checked(root, COMPANY, year, encoding)
    codes = read_concordance(root, encoding)[0]
    map_codes(ck, year, codes, "jsic_main", 4, required=True)
    for c in ("jsic_sub1", "jsic_sub2"):
        map_codes(ck, year, codes, c, 4, required=False)
    rep = ck.report()
    firms = _geocode(ck.rows, geocoder or Geocoder())
    firms["jsic4"] = firms.jsic_main
    firms["jsic3"] = firms.jsic_main.str[:3]
    rep.notes = {f"geocode_{k}": int(v) for k, v in firms.geo_precision.value_counts().items()}
    for c in ("employees", "founded", "establishments", "pref_code"):
        firms[c] = firms[c].astype("Int64")
    return firms[FIRM_COLUMNS].reset_index(drop=True), rep, ck.quarantine()


def _geocode(df: pd.DataFrame, g: Geocoder) -> pd.DataFrame:
    """Provider coordinates when present; else the offline geocoder (district, postal code,
    municipality, prefecture capital); prefecture from the address when pref_code is empty."""
    df = df.copy()
    has = df.lat.notna() & df.lon.notna()
    df["geo_precision"] = np.where(has, "provider", "none")
    todo = df.index[~has]
    res = g.geocode_all(_values(df.loc[todo, "address"]), _values(df.loc[todo, "postal_code"]),
                        _prefs(df.loc[todo, "pref_code"]))
    if res:
        r = pd.DataFrame(res, index=todo, columns=["lat", "lon", "geo_precision", "pref", "muni"])
        df.loc[todo, ["lat", "lon", "geo_precision"]] = r[["lat", "lon", "geo_precision"]]
        miss_pref = df.loc[todo, "pref_code"].isna()
        df.loc[todo[miss_pref.to_numpy()], "pref_code"] = r.loc[miss_pref.to_numpy(), "pref"]
        miss_muni = df.loc[todo, "municipality_code"] == ""
        df.loc[todo[miss_muni.to_numpy()], "municipality_code"] = r.loc[miss_muni.to_numpy(), "muni"].fillna("")
    old = df.municipality_code != ""  # a pre-merger code from the file becomes the current one
    codes = _values(df.loc[old, "municipality_code"])
    current = {c: g.current_code(c) for c in set(codes)}
    df.loc[old, "municipality_code"] = [current[c] for c in codes]
    need_pref = df.pref_code.isna()
    if need_pref.any():
        df.loc[need_pref, "pref_code"] = [g.prefecture_of(a) for a in _values(df.loc[need_pref, "address"])]
    df["lat"], df["lon"] = df.lat.astype(float), df.lon.astype(float)
    return df


def _values(s: pd.Series) -> list:
    """A column as a Python list (iterating an Arrow-backed column value by value is slow)."""
    return s.to_numpy(dtype=object).tolist()


def _prefs(s: pd.Series) -> list[int | None]:
    return [None if pd.isna(p) else int(p) for p in _values(s)]


def geocode_summary(firms: pd.DataFrame, g: Geocoder, top: int = 10) -> dict:
    """Firms per geocode precision level and the most frequent address prefixes the geocoder could not
    resolve to a district (what a data owner would fix first)."""
    prec = firms.geo_precision.value_counts()
    todo = ~is_in(firms.geo_precision, ["provider", "district"])
    prefixes = pd.Series(g.unresolved_prefixes(_values(firms.address[todo]), _prefs(firms.pref_code[todo])),
                         dtype=object)
    counts = prefixes.value_counts().head(top)
    return {"precision": {k: int(prec.get(k, 0)) for k in PRECISION_LEVELS},
            "unresolved_prefixes": [[k, int(v)] for k, v in counts.items()]}


def build_links(root: Path, year: int, firm_ids: pd.Series, encoding: str | None = None
                ) -> tuple[pd.DataFrame, FileReport, pd.DataFrame]:
    """Directed seller → buyer links of one vintage from supplier and customer reports.

    A link exists when either side reports it and counts once when both do; self-links, reports
    naming a firm absent from the company file and duplicate reports are rejected with a reason.
    Shareholder reports flag parent–child pairs (either direction). Ids are compared as integer codes:
    the position in the sorted firm ids, or past the end for an id absent from the company file."""
    ck = read_checked(root, LINKAGE, year, encoding)
    df = ck.rows
    firm_arr = pa.array(firm_ids, type=pa.string())
    known = firm_arr.unique()
    known = known.take(pc.array_sort_indices(known))
    known_row = pc.index_in(known, value_set=firm_arr).to_numpy(zero_copy_only=False).astype(np.int64)
    reporter, partner = (_codes(df[c], known) for c in ("tsr_id", "partner_id"))
    relation = np.select([(df.relation == r).to_numpy() for r in ("supplier", "customer")], [0, 1], 2)
    n = np.int64(max(reporter.max(initial=0), partner.max(initial=0)) + 1)
    report_key = pd.Series((reporter * n + partner) * 3 + relation, index=df.index)
    absent = len(known)
    # a known id has one code in both columns; ids absent from the company file are coded per column
    self_link = (reporter == partner) & (reporter < absent)
    unknown = (reporter >= absent) & (partner >= absent)
    self_link[unknown] = df.tsr_id.to_numpy()[unknown] == df.partner_id.to_numpy()[unknown]
    ck.reject_in_turn([(m, col, reason, reason) for m, col, reason in (
        ((df.relation == "shareholder") & (df["rank"] > 3), "rank", "shareholder rank above 3"),
        (report_key.duplicated(keep="first"), "partner_id", "duplicate report"),
        (pd.Series(self_link, index=df.index), "partner_id", "self-link"),
        (pd.Series(reporter >= absent, index=df.index), "tsr_id", "reporting firm not in company file"),
        (pd.Series(partner >= absent, index=df.index), "partner_id", "partner not in company file"),
    )])
    kept = df.index.get_indexer(ck.rows.index)
    rep = ck.report()
    links = two_way_match(ck.rows, year, (reporter[kept], partner[kept], pd.Index(known.to_numpy(zero_copy_only=False))),
                          code_rows=known_row)
    rep.notes = {"links": len(links), **{f"reported_by_{k}": int(v) for k, v in links.reported_by.value_counts().items()},
                 "parent_child_links": int(links.parent_child.sum())}
    return links, rep, ck.quarantine()


def _codes(ids: pd.Series, known: pa.Array) -> np.ndarray:
    """Position of each id in the sorted ``known`` ids; ids not there get codes from ``len(known)`` on."""
    arr = pa.array(ids, type=pa.string())
    pos = pc.index_in(arr, value_set=known)
    out = pos.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    miss = out < 0
    if miss.any():
        out[miss] = len(known) + pd.factorize(arr.filter(pa.array(miss)).to_numpy(zero_copy_only=False))[0]
    return out


def two_way_match(reports: pd.DataFrame, year: int, codes: tuple[np.ndarray, np.ndarray, pd.Index] | None = None,
                  code_rows: np.ndarray | None = None) -> pd.DataFrame:
    """Merge buyer-side (``supplier``) and seller-side (``customer``) reports (no duplicate report) into one
    row per directed pair with ``reported_by`` in {buyer, seller, both} and each side's rank (paper
    section 2), sorted by buyer, then seller.

    Pairs are matched on integer firm codes: ``codes`` = (reporter codes, partner codes, the ids in code
    order, sorted), else the sorted ids of ``reports`` are coded here. With ``code_rows`` (the row of each
    coded id in the vintage's clean company table) the links also carry ``seller_row`` and ``buyer_row``,
    so that later steps find a link's firms by position instead of looking its ids up again."""
    if codes is None:
        c, ids = pd.factorize(pd.concat([reports.tsr_id, reports.partner_id], ignore_index=True), sort=True)
        codes = (c[:len(reports)].astype(np.int64), c[len(reports):].astype(np.int64), ids)
    reporter, partner, ids = codes
    n = np.int64(max(len(ids), 1))
    rel = reports.relation.to_numpy(dtype=object)
    rank = reports["rank"].to_numpy(dtype=float)
    sup, cus, sh = rel == "supplier", rel == "customer", rel == "shareholder"
    a = reporter[sup] * n + partner[sup]  # buyer * n + seller: sorted keys are in (buyer, seller) order
    b = partner[cus] * n + reporter[cus]
    keys, where = np.unique(np.concatenate([a, b]), return_inverse=True)
    by_buyer, by_seller = np.full(len(keys), np.nan), np.full(len(keys), np.nan)
    by_buyer[where[:len(a)]] = rank[sup]
    by_seller[where[len(a):]] = rank[cus]
    pairs = np.concatenate([reporter[sh] * n + partner[sh], partner[sh] * n + reporter[sh]])
    pos = np.minimum(np.searchsorted(keys, pairs), max(len(keys) - 1, 0))
    parent_child = np.zeros(len(keys), dtype=bool)
    if len(keys):
        parent_child[pos[keys[pos] == pairs]] = True
    buyer, seller = np.divmod(keys, n)
    has_b, has_s = ~np.isnan(by_buyer), ~np.isnan(by_seller)
    out = pd.DataFrame({"seller_id": ids[seller], "buyer_id": ids[buyer],
                        "rank_by_buyer": pd.array(by_buyer, dtype="Float64").astype("Int64"),
                        "rank_by_seller": pd.array(by_seller, dtype="Float64").astype("Int64"),
                        "reported_by": np.select([has_b & has_s, has_b], ["both", "buyer"], "seller"),
                        "parent_child": parent_child})
    out["year"] = year
    if code_rows is not None:
        out["seller_row"], out["buyer_row"] = code_rows[seller].astype(np.int32), code_rows[buyer].astype(np.int32)
    return out


def add_distances(links: pd.DataFrame, firms: pd.DataFrame) -> pd.DataFrame:
    """Great-circle distance (km) between seller and buyer; NaN where either lacks coordinates. The links
    find their firms by ``seller_row``/``buyer_row``, their rows in ``firms`` (``build_links``)."""
    lat, lon = firms.lat.to_numpy(dtype=float, na_value=np.nan), firms.lon.to_numpy(dtype=float, na_value=np.nan)

    def at(side: str) -> tuple[np.ndarray, np.ndarray]:
        pos = links[f"{side}_row"].to_numpy(np.int64)
        return lat[pos], lon[pos]

    (slat, slon), (blat, blon) = at("seller"), at("buyer")
    links = links.copy()
    links["dist_km"] = haversine_km(slat, slon, blat, blon)
    return links
