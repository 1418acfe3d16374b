"""The embedded Cypher store (no server): LadybugDB, the maintained fork of Kuzu.

Engine choice (measured on 850k firms / 8.1M links, 2 cores, see README "Choosing the embedded engine"):
LadybugDB 0.22 and Kuzu 0.11.3 bulk-load alike (COPY from Parquet, 17–28 s, ~1 GB), but LadybugDB answers a
single-firm lookup in 0.5 ms against Kuzu's 8.8 ms, takes parameterised ``UNWIND`` writes at ~43k links/s
against ~235, and is maintained (Kuzu was archived in 2025). This module is the only place that imports it.

Known engine trap (ENGINE_NOTES): a 2-hop pattern filtered on the hop next to a fixed firm can return
wrong counts; the query library chains ``MATCH … WITH DISTINCT …`` instead, and the tests compare every
multi-hop query with pandas.

Loading rebuilds the database from the ETL cache of every loaded vintage into a new file with bulk
``COPY`` and swaps it in with one rename: a failed load leaves the previous store untouched, and loading
the same vintage twice gives the same graph.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import ladybug as engine
import pandas as pd

from etl.pipeline import Cache
from graph.model import firm_table, industry_table, link_table, prefecture_table
from graph.store import GraphStore, StoreError, used_params

ENGINE = "ladybug"
ENGINE_VERSION = engine.__version__

SCHEMA = [
    "CREATE NODE TABLE Firm(tsr_id STRING PRIMARY KEY, name STRING, address STRING, pref INT64, muni STRING, "
    "lat DOUBLE, lon DOUBLE, geo_precision STRING, jsic4 STRING, jsic3 STRING, manufacturing BOOLEAN, "
    "employees INT64, sales DOUBLE, founded INT64, years INT64[])",
    "CREATE NODE TABLE Prefecture(code INT64 PRIMARY KEY, name STRING, name_en STRING, capital_lat DOUBLE, "
    "capital_lon DOUBLE, area_km2 DOUBLE)",
    "CREATE NODE TABLE Industry(jsic4 STRING PRIMARY KEY, jsic3 STRING, name STRING, manufacturing BOOLEAN)",
    "CREATE REL TABLE SUPPLIES(FROM Firm TO Firm, year INT64, dist_km DOUBLE, reported_by STRING, "
    "parent_child BOOLEAN, rank_by_buyer INT64, rank_by_seller INT64)",
    "CREATE REL TABLE LOCATED_IN(FROM Firm TO Prefecture)",
    "CREATE REL TABLE IN_INDUSTRY(FROM Firm TO Industry)",
]


class EmbeddedStore(GraphStore):
    backend = "embedded"

    def __init__(self, path: Path, threads: int = 0) -> None:
        self.path = Path(path)
        self.meta_path = self.path.with_name(self.path.name + ".json")
        self.threads = threads
        self._db = self._conn = None
        meta = self.meta()
        if meta and meta.get("engine_version") != ENGINE_VERSION:
            raise StoreError(
                f"{self.path} was built with {meta.get('engine')} {meta.get('engine_version')}; this is {ENGINE} "
                f"{ENGINE_VERSION}, whose on-disk format may differ. Rebuild it: prodnet load … --rebuild")

    def meta(self) -> dict:
        return json.loads(self.meta_path.read_text()) if self.meta_path.exists() else {}

    def _connection(self):
        if self._conn is None:
            if not self.path.exists():
                raise StoreError(f"no graph at {self.path}: run `prodnet load DATA_ROOT` first")
            self._db = engine.Database(str(self.path), max_num_threads=self.threads)
            self._conn = engine.Connection(self._db)
        return self._conn

    def run(self, cypher: str, params: dict | None = None) -> pd.DataFrame:
        res = self._connection().execute(cypher, used_params(cypher, params or {}))
        return res.get_as_df()

    def vintages(self) -> list[int]:
        return sorted(int(y) for y in self.meta().get("vintages", {}))

    def close(self) -> None:
        self._conn = self._db = None
        gc.collect()

    def load(self, cache: Cache, years: list[int], progress=None, rebuild: bool = False) -> dict:
        step = progress or (lambda m: None)
        meta = {} if rebuild else self.meta()
        all_years = sorted({int(y) for y in meta.get("vintages", {})} | {int(y) for y in years})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmpdir = Path(tempfile.mkdtemp(dir=self.path.parent, prefix=f".{self.path.name}.building-"))
        try:
            t0 = time.perf_counter()
            counts = _build(tmpdir / "graph", tmpdir, cache, all_years, step)
            self.close()
            os.replace(tmpdir / "graph", self.path)
            for suffix in (".wal", ".shadow"):
                stale = self.path.with_name(self.path.name + suffix)
                if stale.exists():
                    stale.unlink()
            new_meta = {"engine": ENGINE, "engine_version": ENGINE_VERSION, "cache": str(cache.dir),
                        "vintages": {str(y): counts["links"][y] for y in all_years},
                        "firms": counts["firms"], "build_seconds": round(time.perf_counter() - t0, 2)}
            tmp_meta = self.meta_path.with_suffix(".tmp")
            tmp_meta.write_text(json.dumps(new_meta, indent=1))
            os.replace(tmp_meta, self.meta_path)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
        return new_meta


def _build(db_path: Path, tmp: Path, cache: Cache, years: list[int], step) -> dict:
    """Create a fresh database at ``db_path`` with every table bulk-copied from Parquet."""
    db = engine.Database(str(db_path))
    conn = engine.Connection(db)
    for ddl in SCHEMA:
        conn.execute(ddl)
    step("firms")
    firms = firm_table(cache, years)
    tables = {"Firm": firms, "Prefecture": prefecture_table(), "Industry": industry_table(cache)}
    ind = set(tables["Industry"].jsic4)
    tables["LOCATED_IN"] = firms.loc[firms.pref.notna(), ["tsr_id", "pref"]]
    tables["IN_INDUSTRY"] = firms.loc[firms.jsic4.isin(ind), ["tsr_id", "jsic4"]]
    for name, df in tables.items():
        _copy(conn, tmp, name, df)
    links = {}
    for y in years:
        step(f"links {y}")
        lt = link_table(cache, y)
        _copy(conn, tmp, "SUPPLIES", lt)
        links[y] = len(lt)
    conn = None
    db = None
    gc.collect()
    return {"firms": len(firms), "links": links}


def _copy(conn, tmp: Path, table: str, df: pd.DataFrame) -> None:
    f = tmp / f"{table}.parquet"
    df.to_parquet(f, index=False)
    conn.execute(f"COPY {table} FROM '{f.as_posix()}'")  # a path we created, not a user value
    f.unlink()
