"""The graph model shared by both backends, and the tables a load writes (built from the ETL cache).

(:Firm {tsr_id, name, address, pref, muni, lat, lon, geo_precision, jsic4, jsic3, manufacturing, employees,
        sales, founded, years})  — attributes of the latest loaded vintage; ``years`` lists the vintages
        in which the firm is in the company file.
(:Firm)-[:SUPPLIES {year, dist_km, reported_by, parent_child, rank_by_buyer, rank_by_seller}]->(:Firm)
(:Firm)-[:LOCATED_IN]->(:Prefecture {code, name, name_en, capital_lat, capital_lon, area_km2})
(:Firm)-[:IN_INDUSTRY]->(:Industry {jsic4, jsic3, name, manufacturing})
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.geo import prefectures
from etl.pipeline import Cache

FIRM_PROPS = ["tsr_id", "name", "address", "pref", "muni", "lat", "lon", "geo_precision", "jsic4", "jsic3",
              "manufacturing", "employees", "sales", "founded", "years"]
_FIRM_SOURCE = ["tsr_id", "name", "address", "pref_code", "municipality_code", "lat", "lon", "geo_precision",
                "jsic4", "jsic3", "employees", "sales", "founded"]
LINK_PROPS = ["year", "dist_km", "reported_by", "parent_child", "rank_by_buyer", "rank_by_seller"]


def firm_arrow(cache: Cache, years: list[int]) -> pa.Table:
    """One row per firm over ``years`` (columns ``FIRM_PROPS``): the attributes of the latest vintage whose
    company file lists it, and ``years``, the vintages whose company files list it. Rows: the firms of each
    vintage absent from every later one, vintage by vintage, in their order in the clean company tables.
    Built with Arrow's hash look-ups and kernels (no per-firm Python objects: 850k firms)."""
    ys = sorted(int(y) for y in years)
    parts = [cache.read_arrow(f"firms_{y}", columns=_FIRM_SOURCE) for y in ys]
    ids = [_string(t["tsr_id"]) for t in parts]
    keep = [pc.invert(_in_any(ids[i], ids[i + 1:])) for i in range(len(ys))]  # ids: the company file's key
    latest = pa.concat_tables([t.filter(k) for t, k in zip(parts, keep, strict=True)])
    lid = _string(latest["tsr_id"])
    present = np.column_stack([pc.is_in(lid, value_set=i).to_numpy(zero_copy_only=False) for i in ids])
    offsets = np.r_[0, np.cumsum(present.sum(axis=1))].astype(np.int32)
    years_list = pa.ListArray.from_arrays(pa.array(offsets), pa.array(np.broadcast_to(np.array(ys, np.int64),
                                                                                          present.shape)[present]))
    ind = cache.read_arrow("industry_jsic", ["jsic4", "manufacturing"])
    mfg = ind.filter(pc.equal(ind["manufacturing"], 1))["jsic4"]
    return pa.table({
        "tsr_id": lid, "name": _string(latest["name"]), "address": _string(latest["address"]),
        "pref": latest["pref_code"].cast(pa.int64()), "muni": _string(latest["municipality_code"]),
        "lat": latest["lat"].cast(pa.float64()), "lon": latest["lon"].cast(pa.float64()),
        "geo_precision": _string(latest["geo_precision"]), "jsic4": _string(latest["jsic4"]),
        "jsic3": _string(latest["jsic3"]),
        "manufacturing": pc.fill_null(pc.is_in(latest["jsic4"], value_set=mfg.cast(latest["jsic4"].type)), False),
        "employees": latest["employees"].cast(pa.int64()), "sales": latest["sales"].cast(pa.float64()),
        "founded": latest["founded"].cast(pa.int64()), "years": years_list,
    })


def _string(col: pa.ChunkedArray) -> pa.Array:
    return col.combine_chunks().cast(pa.large_string()) if len(col) else pa.array([], pa.large_string())


def _in_any(ids: pa.Array, later: list[pa.Array]) -> pa.Array:
    """Is each id in any of the ``later`` id arrays?"""
    out = pa.array(np.zeros(len(ids), bool))
    for other in later:
        out = pc.or_(out, pc.is_in(ids, value_set=other))
    return out


def firm_table(cache: Cache, years: list[int]) -> pd.DataFrame:
    """``firm_arrow`` as pandas: nullable integers (``Int64``), ``years`` as lists."""
    t = firm_arrow(cache, years)
    df = t.drop_columns(["years"]).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    df["years"] = pd.Series(t["years"].to_pylist(), dtype=object)
    return df


def link_arrow(cache: Cache, years: list[int]) -> pa.Table:
    """The SUPPLIES rows of ``years`` (seller_id, buyer_id, then ``LINK_PROPS``), one vintage after another."""
    parts = []
    for y in years:
        t = cache.read_arrow(f"links_{y}", ["seller_id", "buyer_id", "dist_km", "reported_by", "parent_child",
                                            "rank_by_buyer", "rank_by_seller"])
        parts.append(pa.table({
            "seller_id": t["seller_id"], "buyer_id": t["buyer_id"], "year": pa.array(np.full(len(t), y, np.int64)),
            "dist_km": t["dist_km"].cast(pa.float64()), "reported_by": t["reported_by"],
            "parent_child": t["parent_child"].cast(pa.bool_()), "rank_by_buyer": t["rank_by_buyer"].cast(pa.int64()),
            "rank_by_seller": t["rank_by_seller"].cast(pa.int64())}))
    return pa.concat_tables(parts)


def link_table(cache: Cache, year: int) -> pd.DataFrame:
    """The SUPPLIES rows of one vintage as pandas (ranks nullable ``Int64``)."""
    t = link_arrow(cache, [year])
    return t.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get).astype({"year": np.int64})


def prefecture_table() -> pd.DataFrame:
    p = prefectures()
    return pd.DataFrame({"code": p.pref_code.astype(np.int64), "name": p.name_ja, "name_en": p.name_en,
                         "capital_lat": p.capital_lat, "capital_lon": p.capital_lon,
                         "area_km2": p.area_km2.astype(float)})


def industry_table(cache: Cache) -> pd.DataFrame:
    j = cache.read("industry_jsic")
    return pd.DataFrame({"jsic4": j.jsic4, "jsic3": j.jsic3, "name": j.name,
                         "manufacturing": j.manufacturing.fillna(0).astype(int) == 1})
