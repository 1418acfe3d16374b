"""The embedded Cypher store (no server): LadybugDB, the maintained fork of Kuzu.

Engine choice (measured on 850k firms / 8.1M links, 2 cores, see README "Choosing the embedded engine"):
LadybugDB 0.22 and Kuzu 0.11.3 bulk-load alike (COPY from Parquet, 17–28 s, ~1 GB), but LadybugDB answers a
single-firm lookup in 0.5 ms against Kuzu's 8.8 ms, takes parameterised ``UNWIND`` writes at ~43k links/s
against ~235, and is maintained (Kuzu was archived in 2025). This module is the only place that imports it.

Known engine trap: a 2-hop pattern filtered on the hop next to a fixed firm can return wrong counts; the
query library chains ``MATCH … WITH DISTINCT …`` instead, and the tests compare every multi-hop query
with pandas.

Loading rebuilds the database from the ETL cache of every loaded vintage into a new file with one bulk
``COPY`` per table (in a ``.NAME.building-PID-…`` folder next to it) and swaps it in with one rename: a
failed or killed load leaves the previous store untouched, the next load removes the folders of dead loads,
and loading the same vintage twice gives the same graph. The build stamp (``StoreMeta``) is written inside
the new database, so it is swapped in together with the data.

Queries open the database read-only, so any number of processes can read it at once, also while a
load is building its replacement. Only ``run(…, write=True)`` opens it for writing; when another process
already does, the error names that process.
"""

from __future__ import annotations

import gc
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import ladybug as engine
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from etl.pipeline import Cache
from graph.model import firm_arrow, industry_table, prefecture_table
from graph.store import WRITE_STAMP, Freshness, GraphStore, QueryError, StoreError, first_line, stamp_params

ENGINE = "ladybug"
ENGINE_VERSION = engine.__version__

SCHEMA = [
    "CREATE NODE TABLE Firm(tsr_id STRING PRIMARY KEY, name STRING, address STRING, pref INT64, muni STRING, "
    "lat DOUBLE, lon DOUBLE, geo_precision STRING, jsic4 STRING, jsic3 STRING, manufacturing BOOLEAN, "
    "employees INT64, sales DOUBLE, founded INT64, years INT64[])",
    "CREATE NODE TABLE Prefecture(code INT64 PRIMARY KEY, name STRING, name_en STRING, capital_lat DOUBLE, "
    "capital_lon DOUBLE, area_km2 DOUBLE)",
    "CREATE NODE TABLE Industry(jsic4 STRING PRIMARY KEY, jsic3 STRING, name STRING, manufacturing BOOLEAN)",
    "CREATE NODE TABLE StoreMeta(key STRING PRIMARY KEY, status STRING, vintages STRING, industry STRING, "
    "modified BOOLEAN, note STRING)",
    "CREATE REL TABLE SUPPLIES(FROM Firm TO Firm, year INT64, dist_km DOUBLE, reported_by STRING, "
    "parent_child BOOLEAN, rank_by_buyer INT64, rank_by_seller INT64)",
    "CREATE REL TABLE LOCATED_IN(FROM Firm TO Prefecture)",
    "CREATE REL TABLE IN_INDUSTRY(FROM Firm TO Industry)",
]
_LOCK_PID = re.compile(r"held by PID (\d+)")


def holder(pid: int) -> str:
    """``process PID (command line)`` for a message, or just the PID when it cannot be read."""
    try:
        cmd = " ".join(" ".join(psutil.Process(pid).cmdline()).split())[:100]
    except (psutil.Error, OSError):
        return f"process {pid}"
    return f"process {pid} ({cmd})" if cmd else f"process {pid}"


def clean_leftovers(path: Path) -> list[Path]:
    """Remove the build folders of loads that were killed (their process no longer runs)."""
    removed = []
    for d in path.parent.glob(f".{path.name}.building-*"):
        m = re.match(r"(\d+)-", d.name.rsplit(".building-", 1)[1])
        if m and psutil.pid_exists(int(m.group(1))) and int(m.group(1)) != os.getpid():
            continue  # a load running now
        shutil.rmtree(d, ignore_errors=True)
        removed.append(d)
    return removed


class EmbeddedStore(GraphStore):
    backend = "embedded"

    def __init__(self, path: Path, threads: int = 0, lock_timeout: float = 0.0) -> None:
        self.path = Path(path)
        self.meta_path = self.path.with_name(self.path.name + ".json")
        self.threads, self.lock_timeout = threads, lock_timeout
        self._db = self._conn = None
        self._writable = False

    def engine_stamp(self) -> dict:
        """The engine that wrote the file (a sidecar JSON, readable without opening the database)."""
        return json.loads(self.meta_path.read_text()) if self.meta_path.exists() else {}

    def _open(self, write: bool):
        meta = self.engine_stamp()
        if meta and meta.get("engine_version") != ENGINE_VERSION:
            raise StoreError(
                f"{self.path} was built with {meta.get('engine')} {meta.get('engine_version')}; this is {ENGINE} "
                f"{ENGINE_VERSION}, whose on-disk format may differ. Rebuild it: prodnet load DATA_ROOT --rebuild")
        if not self.path.exists():
            raise StoreError(f"no graph at {self.path}: run `prodnet load DATA_ROOT` first")
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                return engine.Database(str(self.path), max_num_threads=self.threads, read_only=not write)
            except RuntimeError as e:
                m = _LOCK_PID.search(str(e))
                if not m:
                    raise StoreError(f"{self.path}: cannot open the graph: {first_line(e)}") from e
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"{self.path} is open for writing by {holder(int(m.group(1)))}; wait for it to finish "
                        f"or close it, then retry (queries without --write do not wait)") from e
                time.sleep(0.5)

    def _connection(self, write: bool = False):
        if self._conn is None or (write and not self._writable):
            self.close()
            self._db = self._open(write)
            self._conn = engine.Connection(self._db)
            self._writable = write
        return self._conn

    def _execute(self, cypher: str, params: dict, write: bool = False) -> pd.DataFrame:
        conn = self._connection(write)
        try:
            return conn.execute(cypher, params).get_as_df()
        except RuntimeError as e:
            raise QueryError(f"Cypher error: {first_line(e)}") from e

    def vintages(self) -> list[int]:
        return sorted(int(y) for y in self.stamp().get("vintages", {})) if self.path.exists() else []

    def is_current(self, cache: Cache, years: list[int]) -> Freshness:
        if not self.path.exists():  # a state, not an error: the next load builds it
            return Freshness(False, "no graph built yet")
        return super().is_current(cache, years)

    def close(self) -> None:
        self._conn = self._db = None
        self._writable = False
        gc.collect()

    def load(self, cache: Cache, years: list[int], progress=None, rebuild: bool = False) -> dict:
        step = progress or (lambda m: None)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        clean_leftovers(self.path)
        all_years = self.years_to_load(cache, years, rebuild or not self.path.exists())
        self.close()
        tmpdir = Path(tempfile.mkdtemp(dir=self.path.parent, prefix=f".{self.path.name}.building-{os.getpid()}-"))
        try:
            t0 = time.perf_counter()
            counts = _build(tmpdir / "graph", cache, all_years, step)
            for suffix in (".wal", ".shadow"):  # the old file's logs must not be replayed on the new one
                self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
            os.replace(tmpdir / "graph", self.path)
            tmp_meta = self.meta_path.with_suffix(".tmp")
            tmp_meta.write_text(json.dumps({"engine": ENGINE, "engine_version": ENGINE_VERSION}, indent=1))
            os.replace(tmp_meta, self.meta_path)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
        return {"vintages": counts["links"], "firms": counts["firms"],
                "build_seconds": round(time.perf_counter() - t0, 2)}


def _build(db_path: Path, cache: Cache, years: list[int], step) -> dict:
    """Create a fresh database at ``db_path`` with one bulk ``COPY`` per table, then its stamp: the node
    tables and their links from Arrow tables, the links of all vintages straight from the cache's Parquet."""
    stamp = stamp_params(cache, years, "complete")  # before reading: a cache changed meanwhile looks stale
    db = engine.Database(str(db_path))
    conn = engine.Connection(db)
    for ddl in SCHEMA:
        conn.execute(ddl)
    step("firms")
    firms = firm_arrow(cache, years)
    industries = pa.Table.from_pandas(industry_table(cache), preserve_index=False)
    tables = {"Firm": firms, "Prefecture": pa.Table.from_pandas(prefecture_table(), preserve_index=False),
              "Industry": industries,
              "LOCATED_IN": firms.filter(pc.is_valid(firms["pref"])).select(["tsr_id", "pref"]),
              "IN_INDUSTRY": firms.filter(pc.is_in(firms["jsic4"], value_set=industries["jsic4"]))
                                  .select(["tsr_id", "jsic4"])}
    n_firms = len(firms)
    for name, table in tables.items():
        _copy(conn, name, table)
    del firms, industries, tables
    step(f"links {', '.join(map(str, years))}")
    files = [cache.path(f"links_{y}") for y in years]
    _copy(conn, "SUPPLIES", files)
    conn.execute(WRITE_STAMP, stamp)
    conn = None
    db = None
    gc.collect()
    return {"firms": n_firms, "links": {y: pq.ParquetFile(f).metadata.num_rows for y, f in zip(years, files, strict=True)}}


# The cache's link columns in the order of the SUPPLIES schema (the ETL writes ``year`` as the vintage).
_LINK_COLUMNS = ("seller_id, buyer_id, CAST(year AS INT64), CAST(dist_km AS DOUBLE), reported_by, "
                 "CAST(parent_child AS BOOLEAN), CAST(rank_by_buyer AS INT64), CAST(rank_by_seller AS INT64)")


def _copy(conn, table: str, rows: pa.Table | list[Path]) -> None:
    """Bulk-load ``table`` (columns in the order of its schema) from an Arrow table, passed as a parameter,
    or from the cache's link files. A path cannot be a parameter, so each is a quoted string literal with
    quotes and backslashes escaped (a data root named ``O'Brien``)."""
    if isinstance(rows, pa.Table):
        conn.execute(f"COPY {table} FROM $rows", {"rows": rows})
        return
    files = ", ".join("'" + f.as_posix().replace("\\", "\\\\").replace("'", "\\'") + "'" for f in rows)
    conn.execute(f"COPY {table} FROM (LOAD FROM [{files}] RETURN {_LINK_COLUMNS})")
