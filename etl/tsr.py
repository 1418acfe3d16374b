"""TSR vintages: company file → clean firms (typed, geocoded); linkage file → directed seller → buyer
links by two-way matching (paper section 2), parent–child flags, distances."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

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
    res = [g.geocode(a, pc, None if pd.isna(p) else int(p))
           for a, pc, p in zip(df.loc[todo, "address"], df.loc[todo, "postal_code"], df.loc[todo, "pref_code"],
                               strict=True)]
    if res:
        r = pd.DataFrame(res, index=todo, columns=["lat", "lon", "geo_precision", "pref", "muni"])
        df.loc[todo, ["lat", "lon", "geo_precision"]] = r[["lat", "lon", "geo_precision"]]
        miss_pref = df.loc[todo, "pref_code"].isna()
        df.loc[todo[miss_pref.to_numpy()], "pref_code"] = r.loc[miss_pref.to_numpy(), "pref"]
        miss_muni = df.loc[todo, "municipality_code"] == ""
        df.loc[todo[miss_muni.to_numpy()], "municipality_code"] = r.loc[miss_muni.to_numpy(), "muni"].fillna("")
    old = df.municipality_code != ""  # a pre-merger code from the file becomes the current one
    df.loc[old, "municipality_code"] = [g.current_code(c) for c in df.loc[old, "municipality_code"]]
    need_pref = df.pref_code.isna()
    if need_pref.any():
        df.loc[need_pref, "pref_code"] = [g.prefecture_of(a) for a in df.loc[need_pref, "address"]]
    df["lat"], df["lon"] = df.lat.astype(float), df.lon.astype(float)
    return df


def geocode_summary(firms: pd.DataFrame, g: Geocoder, top: int = 10) -> dict:
    """Firms per geocode precision level and the most frequent address prefixes the geocoder could not
    resolve to a district (what a data owner would fix first)."""
    prec = firms.geo_precision.value_counts()
    todo = ~firms.geo_precision.isin(["provider", "district"])
    prefixes = pd.Series([g.unresolved_prefix(a, None if pd.isna(p) else int(p))
                          for a, p in zip(firms.address[todo], firms.pref_code[todo], strict=True)], dtype=object)
    counts = prefixes.value_counts().head(top)
    return {"precision": {k: int(prec.get(k, 0)) for k in PRECISION_LEVELS},
            "unresolved_prefixes": [[k, int(v)] for k, v in counts.items()]}


def build_links(root: Path, year: int, firm_ids: pd.Series, encoding: str | None = None
                ) -> tuple[pd.DataFrame, FileReport, pd.DataFrame]:
    """Directed seller → buyer links of one vintage from supplier and customer reports.

    A link exists when either side reports it and counts once when both do; self-links, reports
    naming a firm absent from the company file and duplicate reports are rejected with a reason.
    Shareholder reports flag parent–child pairs (either direction)."""
    ck = read_checked(root, LINKAGE, year, encoding)
    df = ck.rows
    known = pa.array(firm_ids, type=pa.string()).unique()
    rules = [
        ((df.relation == "shareholder") & (df["rank"] > 3), "rank", "shareholder rank above 3"),
        (df.duplicated(["tsr_id", "partner_id", "relation"], keep="first"), "partner_id", "duplicate report"),
        (df.tsr_id == df.partner_id, "partner_id", "self-link"),
        (pd.Series(~is_in(df.tsr_id, known), index=df.index), "tsr_id", "reporting firm not in company file"),
        (pd.Series(~is_in(df.partner_id, known), index=df.index), "partner_id", "partner not in company file"),
    ]
    for mask, col, reason in rules:
        ck.reject(mask, col, reason, key=reason)
    df = ck.rows
    rep = ck.report()
    links = two_way_match(df, year)
    rep.notes = {"links": len(links), **{f"reported_by_{k}": int(v) for k, v in links.reported_by.value_counts().items()},
                 "parent_child_links": int(links.parent_child.sum())}
    return links, rep, ck.quarantine()


def two_way_match(reports: pd.DataFrame, year: int) -> pd.DataFrame:
    """Merge buyer-side (``supplier``) and seller-side (``customer``) reports into one row per directed
    pair with ``reported_by`` in {buyer, seller, both} and each side's rank (paper section 2).

    Pairs are matched on integer firm codes (ids sorted, so code order is id order) and sorted by buyer,
    then seller."""
    codes, ids = pd.factorize(pd.concat([reports.tsr_id, reports.partner_id], ignore_index=True), sort=True)
    reporter, partner = codes[:len(reports)].astype(np.int64), codes[len(reports):].astype(np.int64)
    n = max(len(ids), 1)
    rel = reports.relation.to_numpy(dtype=object)
    rank = reports["rank"].to_numpy(dtype=float)
    sup, cus, sh = rel == "supplier", rel == "customer", rel == "shareholder"
    a = pd.DataFrame({"k": partner[sup] * n + reporter[sup], "rank_by_buyer": rank[sup]})
    b = pd.DataFrame({"k": reporter[cus] * n + partner[cus], "rank_by_seller": rank[cus]})
    links = a.merge(b, on="k", how="outer", sort=False)
    seller, buyer = np.divmod(links.k.to_numpy(), n)
    order = np.lexsort((seller, buyer))
    links, seller, buyer = links.iloc[order].reset_index(drop=True), seller[order], buyer[order]
    pairs = np.concatenate([reporter[sh] * n + partner[sh], partner[sh] * n + reporter[sh]])
    by_buyer, by_seller = links.rank_by_buyer.notna().to_numpy(), links.rank_by_seller.notna().to_numpy()
    out = pd.DataFrame({"seller_id": ids[seller], "buyer_id": ids[buyer],
                        "rank_by_buyer": links.rank_by_buyer.astype("Int64"),
                        "rank_by_seller": links.rank_by_seller.astype("Int64"),
                        "reported_by": np.select([by_buyer & by_seller, by_buyer], ["both", "buyer"], "seller"),
                        "parent_child": np.isin(links.k.to_numpy(), pairs)})
    out["year"] = year
    return out


def add_distances(links: pd.DataFrame, firms: pd.DataFrame) -> pd.DataFrame:
    """Great-circle distance (km) between seller and buyer; NaN where either lacks coordinates."""
    xy = firms.set_index("tsr_id")[["lat", "lon", "pref_code"]]
    s = xy.reindex(links.seller_id)
    b = xy.reindex(links.buyer_id)
    links = links.copy()
    links["dist_km"] = haversine_km(s.lat.to_numpy(), s.lon.to_numpy(), b.lat.to_numpy(), b.lon.to_numpy())
    return links
