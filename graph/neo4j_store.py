"""Neo4j backend through the official ``neo4j`` driver (Bolt).

Writes are batched ``UNWIND $rows`` statements in explicit transactions. A vintage is loaded in stages so
that a failure leaves the last good state: its links are first written with ``year = -YEAR`` (invisible
to every query, which filters on the real year), then the old links of YEAR are deleted and the staged
ones renamed, with a ``(:Vintage {year, status})`` node recording progress. A load interrupted while
staging leaves the old vintage intact; one interrupted during the short swap marks the vintage
``swapping``, which ``vintages()`` reports as incomplete until the load is re-run (re-running is
idempotent: staged leftovers are removed first).

A load that would change anything beyond re-staging the vintages the store already holds from the same
clean tables (new vintage, changed tables, a store modified by a write, ``rebuild``) first marks the build
stamp ``(:StoreMeta)`` as ``building``, empties the graph and loads every vintage again; the stamp says
``complete`` only when it finished, so an interrupted load is never taken for a current store.
Queries run in read transactions; writes only through ``run(…, write=True)``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from neo4j import GraphDatabase
from neo4j.exceptions import AuthError, Neo4jError, ServiceUnavailable

from etl.pipeline import Cache
from graph.model import firm_table, industry_table, link_table, prefecture_table
from graph.store import WRITE_STAMP, GraphStore, QueryError, StoreError, first_line, stamp_params

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
MARK_BUILDING = "MERGE (m:StoreMeta {key: 'store'}) SET m.status = 'building'"
WIPE = ["MATCH ()-[r]->() WITH r LIMIT $batch DELETE r RETURN count(*) AS n"] + [
    f"MATCH (n:{label}) WITH n LIMIT $batch DELETE n RETURN count(*) AS n"
    for label in ("Firm", "Prefecture", "Industry", "Vintage")]


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
        self.database, self.batch, self.uri, self.user = database, batch, uri, user
        self.driver = GraphDatabase.driver(uri, auth=(user, password))
        self._reachable = False

    def check_reachable(self) -> None:
        """Connect once, failing at once with a StoreError when the server refuses or cannot be found (the
        driver would otherwise retry each transaction for about 30 s)."""
        if self._reachable:
            return
        try:
            self.driver.verify_connectivity()
        except AuthError as e:
            raise StoreError(f"{self.uri}: authentication failed for user {self.user!r} (NEO4J_USER, NEO4J_PASSWORD;"
                             " the local Bolt test server's user is root)") from e
        except (ServiceUnavailable, OSError) as e:
            raise StoreError(f"cannot reach the Neo4j server at {self.uri}: {first_line(e)}") from e
        self._reachable = True

    def _execute(self, cypher: str, params: dict, write: bool = False) -> pd.DataFrame:
        self.check_reachable()

        def work(tx):
            res = tx.run(cypher, params)
            return res.keys(), [r.values() for r in res]

        try:
            with self.driver.session(database=self.database) as s:
                keys, rows = (s.execute_write if write else s.execute_read)(work)
        except AuthError as e:
            raise StoreError(f"{self.uri}: authentication failed for user {self.user!r} (NEO4J_USER, NEO4J_PASSWORD;"
                             " the local Bolt test server's user is root)") from e
        except ServiceUnavailable as e:
            raise StoreError(f"cannot reach the Neo4j server at {self.uri}: {first_line(e)}") from e
        except Neo4jError as e:
            raise QueryError(f"Cypher error: {first_line(e)}") from e
        return pd.DataFrame(rows, columns=keys)

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
        v = self._execute("MATCH (v:Vintage) WHERE v.status = 'complete' RETURN v.year AS year ORDER BY year", {})
        return [int(y) for y in v.year] if len(v) else []

    def vintage_status(self) -> dict[int, str]:
        v = self._execute("MATCH (v:Vintage) RETURN v.year AS year, v.status AS status", {})
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

    def load(self, cache: Cache, years: list[int], progress=None, rebuild: bool = False) -> dict:
        step = progress or (lambda m: None)
        self.ensure_schema()
        all_years = self.years_to_load(cache, years, rebuild)
        stamp = stamp_params(cache, all_years, "complete")  # before reading: a cache changed meanwhile looks stale
        held = sorted(int(y) for y in self.stamp().get("vintages", {}))
        if rebuild or held != all_years or not self.is_current(cache, held):
            step("emptying the graph")
            self._execute(MARK_BUILDING, {}, write=True)
            for cypher in WIPE:
                self._loop(cypher)
            years = all_years
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
        self._execute(WRITE_STAMP, stamp, write=True)
        return {"vintages": out, "firms": len(firms)}

    def _load_links(self, cache: Cache, year: int) -> int:
        staged = -year
        self._loop(DELETE_YEAR, year=staged)  # leftovers of an interrupted load
        links = link_table(cache, year)
        self._write(CREATE_LINKS, _records(links.drop(columns="year")), staged=staged)
        self._execute(SET_VINTAGE, {"year": year, "status": "swapping", "links": len(links)}, write=True)
        self._loop(DELETE_YEAR, year=year)
        self._loop(RENAME_YEAR, year=year, staged=staged)
        self._execute(SET_VINTAGE, {"year": year, "status": "complete", "links": len(links)}, write=True)
        return len(links)

    def close(self) -> None:
        self.driver.close()
