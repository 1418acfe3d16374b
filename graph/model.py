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

from etl.geo import prefectures
from etl.pipeline import Cache

FIRM_PROPS = ["tsr_id", "name", "address", "pref", "muni", "lat", "lon", "geo_precision", "jsic4", "jsic3",
              "manufacturing", "employees", "sales", "founded", "years"]
_FIRM_SOURCE = ["tsr_id", "name", "address", "pref_code", "municipality_code", "lat", "lon", "geo_precision",
                "jsic4", "jsic3", "employees", "sales", "founded"]
LINK_PROPS = ["year", "dist_km", "reported_by", "parent_child", "rank_by_buyer", "rank_by_seller"]


def firm_table(cache: Cache, years: list[int]) -> pd.DataFrame:
    """One row per firm over ``years``: latest vintage's attributes and the list of its vintages."""
    ys = sorted(int(y) for y in years)
    parts = [cache.read(f"firms_{y}", columns=_FIRM_SOURCE) for y in ys]
    allf = pd.concat(parts, ignore_index=True)
    code = pd.factorize(allf.tsr_id)[0]
    vintage_bit = np.repeat(np.left_shift(1, np.arange(len(ys), dtype=np.int64)), [len(x) for x in parts])
    present = np.zeros(code.max() + 1 if len(code) else 0, np.int64)  # bit i set: in the company file of ys[i]
    np.bitwise_or.at(present, code, vintage_bit)
    keep = ~allf.tsr_id.duplicated(keep="last").to_numpy()
    latest = allf[keep].reset_index(drop=True)
    lists = {m: [y for i, y in enumerate(ys) if m >> i & 1] for m in np.unique(present).tolist()}
    manufacturing = cache.read("industry_jsic").set_index("jsic4").manufacturing
    return pd.DataFrame({
        "tsr_id": latest.tsr_id, "name": latest.name, "address": latest.address,
        "pref": latest.pref_code.astype("Int64").to_numpy(), "muni": latest.municipality_code,
        "lat": latest.lat.to_numpy(float), "lon": latest.lon.to_numpy(float),
        "geo_precision": latest.geo_precision, "jsic4": latest.jsic4, "jsic3": latest.jsic3,
        "manufacturing": manufacturing.reindex(latest.jsic4).fillna(0).astype(int).to_numpy() == 1,
        "employees": latest.employees.astype("Int64").to_numpy(), "sales": latest.sales.to_numpy(float),
        "founded": latest.founded.astype("Int64").to_numpy(),
        "years": pd.Series([list(lists[m]) for m in present[code[keep]].tolist()], dtype=object),
    })


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
