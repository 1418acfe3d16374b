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

from etl.geo import prefectures
from etl.pipeline import Cache

FIRM_PROPS = ["tsr_id", "name", "address", "pref", "muni", "lat", "lon", "geo_precision", "jsic4", "jsic3",
              "manufacturing", "employees", "sales", "founded", "years"]
LINK_PROPS = ["year", "dist_km", "reported_by", "parent_child", "rank_by_buyer", "rank_by_seller"]


def firm_table(cache: Cache, years: list[int]) -> pd.DataFrame:
    """One row per firm over ``years``: latest vintage's attributes and the list of its vintages."""
    parts = [cache.read(f"firms_{y}").assign(_year=y) for y in sorted(years)]
    allf = pd.concat(parts, ignore_index=True)
    yrs = allf.groupby("tsr_id")["_year"].agg(lambda s: sorted(int(v) for v in s))
    latest = allf.drop_duplicates("tsr_id", keep="last").set_index("tsr_id")
    jsic = cache.read("industry_jsic").set_index("jsic4")
    out = pd.DataFrame({
        "tsr_id": latest.index.to_numpy(), "name": latest.name.to_numpy(), "address": latest.address.to_numpy(),
        "pref": latest.pref_code.astype("Int64").to_numpy(), "muni": latest.municipality_code.to_numpy(),
        "lat": latest.lat.to_numpy(float), "lon": latest.lon.to_numpy(float),
        "geo_precision": latest.geo_precision.to_numpy(), "jsic4": latest.jsic4.to_numpy(),
        "jsic3": latest.jsic3.to_numpy(),
        "manufacturing": jsic.manufacturing.reindex(latest.jsic4).fillna(0).astype(int).to_numpy() == 1,
        "employees": latest.employees.astype("Int64").to_numpy(), "sales": latest.sales.to_numpy(float),
        "founded": latest.founded.astype("Int64").to_numpy(),
        "years": yrs.reindex(latest.index).to_numpy(),
    })
    return out


def link_table(cache: Cache, year: int) -> pd.DataFrame:
    links = cache.read(f"links_{year}")
    return pd.DataFrame({
        "seller_id": links.seller_id, "buyer_id": links.buyer_id, "year": np.full(len(links), year, np.int64),
        "dist_km": links.dist_km.astype(float), "reported_by": links.reported_by,
        "parent_child": links.parent_child.astype(bool),
        "rank_by_buyer": links.rank_by_buyer.astype("Int64"), "rank_by_seller": links.rank_by_seller.astype("Int64"),
    })


def prefecture_table() -> pd.DataFrame:
    p = prefectures()
    return pd.DataFrame({"code": p.pref_code.astype(np.int64), "name": p.name_ja, "name_en": p.name_en,
                         "capital_lat": p.capital_lat, "capital_lon": p.capital_lon,
                         "area_km2": p.area_km2.astype(float)})


def industry_table(cache: Cache) -> pd.DataFrame:
    j = cache.read("industry_jsic")
    return pd.DataFrame({"jsic4": j.jsic4, "jsic3": j.jsic3, "name": j.name,
                         "manufacturing": j.manufacturing.fillna(0).astype(int) == 1})
