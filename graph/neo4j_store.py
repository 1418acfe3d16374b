"""Neo4j backend through the official ``neo4j`` driver (Bolt).

Writes are batched ``UNWIND $rows`` statements in explicit transactions. A vintage is loaded in stages so
that a failure leaves the last good state: its links are first written with ``year = -YEAR`` (invisible
to every query, which filters on the real year), then the old links of YEAR are deleted and the staged
ones renamed, with a ``(:Vintage {year, status})`` node recording progress. A load interrupted while
staging leaves the old vintage intact; one interrupted during the short swap marks the vintage
``swapping``, which ``vintages()`` reports as incomplete until the load is re-run (re-running is
idempotent: staged leftovers are removed first).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from neo4j import GraphDatabase

from etl.pipeline import Cache
from graph.model import firm_table, industry_table, link_table, prefecture_table
from graph.store import GraphStore, used_params

SCHEMA = [
    "CREATE CONSTRAINT firm_tsr_id IF NOT EXISTS FOR (f:Firm) REQUIRE f.tsr_id IS UNIQUE",
    "CREATE CONSTRAINT prefecture_code IF NOT EXISTS FOR (p:Prefecture) REQUIRE p.code IS UNIQUE",
    "CREATE CONSTRAINT industry_jsic4 IF NOT EXISTS FOR (i:Industry) REQUIRE i.jsic4 IS UNIQUE",
    "CREATE CONSTRAINT vintage_year IF NOT EXISTS FOR (v:Vintage) REQUIRE v.year IS UNIQUE",
]
SCHEMA_OPTIONAL = ["CREATE INDEX supplies_year IF NOT EXISTS FOR ()-[r:SUPPLIES]-() ON (r.year)"]

UPSERT_FIRMS = """
UNWIND $rows AS r
MERGE (f:Firm {tsr_id: r.tsr_id})
SET f.name = r.name, f.address = r.address, f.pref = r.pref, f.muni = r.muni, f.lat = r.lat, f.lon = r.lon,
    f.geo_precision = r.geo_precision, f.jsic4 = r.jsic4, f.jsic3 = r.jsic3, f.manufacturing = r.manufacturing,
    f.employees = r.employees, f.sales = r.sales, f.founded = r.founded, f.years = r.years
"""
UPSERT_PREFS = """
UNWIND $rows AS r
MERGE (p:Prefecture {code: r.code})
SET p.name = r.name, p.name_en = r.name_en, p.capital_lat = r.capital_lat, p.capital_lon = r.capital_lon,
    p.area_km2 = r.area_km2
"""
UPSERT_INDUSTRIES = """
UNWIND $rows AS r
MERGE (i:Industry {jsic4: r.jsic4})
SET i.jsic3 = r.jsic3, i.name = r.name, i.manufacturing = r.manufacturing
"""
LINK_PREF = """
UNWIND $rows AS r
MATCH (f:Firm {tsr_id: r.tsr_id}), (p:Prefecture {code: r.pref})
MERGE (f)-[:LOCATED_IN]->(p)
"""
LINK_INDUSTRY = """
UNWIND $rows AS r
MATCH (f:Firm {tsr_id: r.tsr_id}), (i:Industry {jsic4: r.jsic4})
MERGE (f)-[:IN_INDUSTRY]->(i)
"""
CREATE_LINKS = """
UNWIND $rows AS r
MATCH (s:Firm {tsr_id: r.seller_id}), (b:Firm {tsr_id: r.buyer_id})
CREATE (s)-[:SUPPLIES {year: $staged, dist_km: r.dist_km, reported_by: r.reported_by,
                       parent_child: r.parent_child, rank_by_buyer: r.rank_by_buyer, rank_by_seller: r.rank_by_seller}]->(b)
"""
DELETE_YEAR = """
MATCH ()-[r:SUPPLIES]->() WHERE r.year = $year
WITH r LIMIT $batch
DELETE r
RETURN count(*) AS n
"""
RENAME_YEAR = """
MATCH ()-[r:SUPPLIES]->() WHERE r.year = $staged
WITH r LIMIT $batch
SET r.year = $year
RETURN count(*) AS n
"""
SET_VINTAGE = "MERGE (v:Vintage {year: $year}) SET v.status = $status, v.links = $links"


def _records(df: pd.DataFrame) -> list[dict]:
    """Rows as plain Python values (None for missing) for the driver."""
    out = df.astype(object).where(df.notna(), None).to_dict("records")
    for r in out:
        for k, v in r.items():
            if isinstance(v, np.generic):
                r[k] = v.item()
            elif isinstance(v, float) and math.isnan(v):
                r[k] = None
            elif isinstance(v, np.ndarray | list):
                r[k] = [int(x) for x in v]
    return out


class Neo4jStore(GraphStore):
    backend = "neo4j"

    def __init__(self, uri: str, user: str, password: str, database: str = "neo4j", batch: int = 5_000) -> None:
        self.database, self.batch = database, batch
        self.driver = GraphDatabase.driver(uri, auth=(user, password))

    def run(self, cypher: str, params: dict | None = None) -> pd.DataFrame:
        with self.driver.session(database=self.database) as s:
            res = s.run(cypher, used_params(cypher, params or {}))
            keys = res.keys()
            return pd.DataFrame([r.values() for r in res], columns=keys)

    def _write(self, cypher: str, rows: list[dict], **params) -> None:
        for i in range(0, len(rows), self.batch):
            self._write_batch(cypher, rows[i:i + self.batch], params)

    def _write_batch(self, cypher: str, chunk: list[dict], params: dict) -> None:
        """One batch in one explicit write transaction (retried by the driver on transient errors)."""
        with self.driver.session(database=self.database) as s:
            s.execute_write(lambda tx: tx.run(cypher, rows=chunk, **params).consume())

    def _loop(self, cypher: str, **params) -> int:
        total = 0
        with self.driver.session(database=self.database) as s:
            while True:
                n = s.execute_write(lambda tx: tx.run(cypher, batch=self.batch, **params).single()["n"])
                total += n
                if n == 0:
                    return total

    def vintages(self) -> list[int]:
        v = self.run("MATCH (v:Vintage) WHERE v.status = 'complete' RETURN v.year AS year ORDER BY year")
        return [int(y) for y in v.year] if len(v) else []

    def vintage_status(self) -> dict[int, str]:
        v = self.run("MATCH (v:Vintage) RETURN v.year AS year, v.status AS status")
        return {int(r.year): r.status for r in v.itertuples()}

    def ensure_schema(self) -> None:
        with self.driver.session(database=self.database) as s:
            for ddl in SCHEMA:
                s.run(ddl).consume()
            for ddl in SCHEMA_OPTIONAL:  # relationship-property indexes are a Neo4j 5 feature
                try:
                    s.run(ddl).consume()
                except Exception:  # noqa: BLE001 - optional speed-up only
                    pass

    def load(self, cache: Cache, years: list[int], progress=None) -> dict:
        step = progress or (lambda m: None)
        self.ensure_schema()
        loaded = set(self.vintage_status())
        all_years = sorted(loaded | {int(y) for y in years})
        step("prefectures and industries")
        self._write(UPSERT_PREFS, _records(prefecture_table()))
        ind = industry_table(cache)
        self._write(UPSERT_INDUSTRIES, _records(ind))
        step("firms")
        firms = firm_table(cache, [y for y in all_years if cache.path(f"firms_{y}").exists()])
        self._write(UPSERT_FIRMS, _records(firms))
        self._write(LINK_PREF, _records(firms.loc[firms.pref.notna(), ["tsr_id", "pref"]]))
        self._write(LINK_INDUSTRY, _records(firms.loc[firms.jsic4.isin(set(ind.jsic4)), ["tsr_id", "jsic4"]]))
        out = {}
        for y in sorted(int(v) for v in years):
            step(f"links {y}")
            out[y] = self._load_links(cache, y)
        return {"vintages": out, "firms": len(firms)}

    def _load_links(self, cache: Cache, year: int) -> int:
        staged = -year
        self._loop(DELETE_YEAR, year=staged)  # leftovers of an interrupted load
        links = link_table(cache, year)
        self._write(CREATE_LINKS, _records(links.drop(columns="year")), staged=staged)
        self.run(SET_VINTAGE, {"year": year, "status": "swapping", "links": len(links)})
        self._loop(DELETE_YEAR, year=year)
        self._loop(RENAME_YEAR, year=year, staged=staged)
        self.run(SET_VINTAGE, {"year": year, "status": "complete", "links": len(links)})
        return len(links)

    def close(self) -> None:
        self.driver.close()
