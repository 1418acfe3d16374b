"""One interface, two backends: ``open_store("embedded", path=…)`` or ``open_store("neo4j")``.

Freshness has one source of truth on both backends: the store itself. Every load writes a
``(:StoreMeta {key: 'store'})`` node holding the fingerprints of the clean tables it was built from (one
per vintage, one for the industry table) and its status; a write through ``run(…, write=True)`` marks it
modified. ``GraphStore.is_current(cache, years)`` compares that stamp with the cache."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import igraph as ig
import pandas as pd

from etl.pipeline import Cache

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
# Comments, string literals and `quoted identifiers` are removed before looking for write clauses.
_NOT_CODE = re.compile(r"//[^\n]*|/\*.*?\*/|'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"|`[^`]*`", re.S)
WRITE_CLAUSES = ("CREATE", "MERGE", "DELETE", "DETACH", "SET", "REMOVE", "DROP", "ALTER", "COPY", "INSTALL",
                 "IMPORT", "EXPORT", "ATTACH", "CHECKPOINT", "FOREACH")
# A keyword, not a property (n.set), parameter ($set), label (:Set), map key ({set: 1}) or part of a name.
_WRITE = re.compile(r"(?<![\w.$:])(" + "|".join(WRITE_CLAUSES) + r")(?![\w])(?!\s*:)", re.I)

READ_STAMP = ("MATCH (m:StoreMeta) WHERE m.key = 'store' RETURN m.status AS status, m.vintages AS vintages, "
              "m.industry AS industry, m.modified AS modified, m.note AS note")
WRITE_STAMP = ("MERGE (m:StoreMeta {key: 'store'}) SET m.status = $status, m.vintages = $vintages, "
               "m.industry = $industry, m.modified = false, m.note = $note")
MARK_MODIFIED = "MERGE (m:StoreMeta {key: 'store'}) SET m.modified = true, m.note = $note"


class StoreError(RuntimeError):
    """A store that cannot be used as asked (missing, incompatible, incomplete, stale, locked, bad Cypher)."""


class QueryError(StoreError):
    """The engine refused a statement (syntax, unknown table or property, type error)."""


def used_params(cypher: str, params: dict) -> dict:
    """The parameters a query text uses. Values always travel as parameters, never in the text; unused
    ones are dropped because Kuzu-family engines reject them."""
    names = set(_PARAM.findall(_NOT_CODE.sub(" ", cypher)))
    missing = names - set(params)
    if missing:
        raise StoreError(f"query needs parameter(s) {', '.join(sorted(missing))}: pass -p NAME=VALUE")
    return {k: v for k, v in params.items() if k in names}


def write_clauses(cypher: str) -> list[str]:
    """The write clauses (CREATE, MERGE, SET, DELETE, …) of a Cypher text, ignoring strings and comments."""
    return sorted({m.upper() for m in _WRITE.findall(_NOT_CODE.sub(" ", cypher))})


def _file_digest(paths: list[Path]) -> str:
    h = hashlib.blake2b(digest_size=12)
    for p in paths:
        with open(p, "rb") as f:
            h.update(hashlib.file_digest(f, "blake2b").digest())
    return h.hexdigest()


def cache_stamp(cache: Cache, years: list[int]) -> dict:
    """Fingerprints (content hashes) of the clean tables a store of ``years`` is built from; a vintage
    missing from the cache has no entry."""
    vint = {str(y): _file_digest([cache.path(f"firms_{y}"), cache.path(f"links_{y}")]) for y in sorted(years)
            if cache.path(f"firms_{y}").exists() and cache.path(f"links_{y}").exists()}
    ind = cache.path("industry_jsic")
    return {"vintages": vint, "industry": _file_digest([ind]) if ind.exists() else None}


def stamp_params(cache: Cache, years: list[int], status: str) -> dict:
    """Parameters of ``WRITE_STAMP`` for a store built from ``cache`` (``years``)."""
    s = cache_stamp(cache, years)
    return {"status": status, "vintages": json.dumps(s["vintages"]), "industry": s["industry"] or "",
            "note": f"built {time.strftime('%Y-%m-%d %H:%M:%S')}"}


@dataclass(frozen=True)
class Freshness:
    """Whether a store is current for a cache and vintages; ``reason`` says why not."""

    current: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.current


class GraphStore(ABC):
    backend: str = ""

    def run(self, cypher: str, params: dict | None = None, write: bool = False) -> pd.DataFrame:
        """Run Cypher with parameters; rows as a DataFrame. Read-only unless ``write=True``, which also
        marks the store as modified (the next ``run-all`` rebuilds it)."""
        found = write_clauses(cypher)
        if found and not write:
            raise StoreError(f"the query writes ({', '.join(found)}) but the store is opened read-only; "
                             "add --write to change the graph (the next run-all then rebuilds it)")
        p = used_params(cypher, params or {})
        if write:
            self._execute(MARK_MODIFIED, {"note": f"written {time.strftime('%Y-%m-%d %H:%M:%S')} by process "
                                                  f"{os.getpid()}"}, write=True)
        return self._execute(cypher, p, write=write)

    @abstractmethod
    def _execute(self, cypher: str, params: dict, write: bool = False) -> pd.DataFrame:
        """Run one statement on the backend (no checks); engine errors become ``StoreError``."""

    @abstractmethod
    def load(self, cache: Cache, years: list[int], progress=None, rebuild: bool = False) -> dict:
        """Make the store hold ``years`` (plus the vintages it already holds that are still in the cache,
        unless ``rebuild``) exactly as in the cache; idempotent."""

    @abstractmethod
    def vintages(self) -> list[int]:
        """Vintages completely loaded."""

    def stamp(self) -> dict:
        """What the store records about its build: status, vintages {year: fingerprint}, industry
        fingerprint, modified, note; ``{}`` when it records nothing (never loaded, or built before stamps)."""
        try:
            df = self._execute(READ_STAMP, {})
        except QueryError:  # no StoreMeta table: built before stamps existed
            return {}
        if df.empty:
            return {}
        r = df.iloc[0]
        return {"status": r.status, "vintages": json.loads(r.vintages or "{}"), "industry": r.industry or None,
                "modified": bool(r.modified), "note": r.note or ""}

    def check_reachable(self) -> None:  # noqa: B027 - a no-op default: only server backends can be unreachable
        """Raise StoreError at once if the store cannot be reached (a server backend); embedded: nothing."""

    def is_current(self, cache: Cache, years: list[int]) -> Freshness:
        """Is this store exactly what a load of ``years`` from ``cache`` would build? Compares the stamp
        written by the last load with the content of the cache's clean tables."""
        try:
            st = self.stamp()
        except StoreError as e:
            return Freshness(False, str(e))
        if not st:
            return Freshness(False, "the store records no complete load")
        if st["status"] != "complete":
            return Freshness(False, "its last load did not finish")
        if st["modified"]:
            return Freshness(False, f"it was changed by a write ({st['note']})")
        held = {int(y) for y in st["vintages"]}
        missing = sorted(set(map(int, years)) - held)
        if missing:
            return Freshness(False, f"vintage(s) {', '.join(map(str, missing))} not loaded")
        now = cache_stamp(cache, sorted(held))
        for y, fp in sorted(st["vintages"].items()):
            if now["vintages"].get(y) != fp:
                return Freshness(False, f"the clean tables of {y} changed since the store was built"
                                 if y in now["vintages"] else f"vintage {y} is no longer in the cache")
        if now["industry"] != st["industry"]:
            return Freshness(False, "the industry table changed since the store was built")
        return Freshness(True)

    def years_to_load(self, cache: Cache, years: list[int], rebuild: bool) -> list[int]:
        """``years`` plus, unless ``rebuild``, the vintages the store holds that are still in the cache."""
        try:
            held = set() if rebuild else {int(y) for y in self.stamp().get("vintages", {})}
        except StoreError:  # unreadable (missing, other engine version): nothing to keep
            held = set()
        kept = {y for y in held if cache.path(f"firms_{y}").exists() and cache.path(f"links_{y}").exists()}
        return sorted(kept | {int(y) for y in years})

    def query(self, name: str, **params) -> pd.DataFrame:
        """Run a named query of the library (``queries/NAME.cypher``). Parameters are checked against the
        query's header, and a vintage that the store does not hold is an error, not an empty answer."""
        from queries import YEAR_PARAMS, get

        q = get(name)
        q.check(params)
        years = {params[k] for k in YEAR_PARAMS if k in params}
        if years and not years <= set(self.vintages()):
            raise StoreError(f"{name}: vintage {', '.join(map(str, sorted(years - set(self.vintages()))))} is "
                             f"not loaded in this store (loaded: {', '.join(map(str, self.vintages())) or 'none'})")
        return self.run(q.text_for(self.backend), params)

    def edges(self, year: int) -> pd.DataFrame:
        """All SUPPLIES links of a vintage: seller_id, buyer_id, dist_km, parent_child."""
        return self.run("MATCH (s:Firm)-[r:SUPPLIES]->(b:Firm) WHERE r.year = $year "
                        "RETURN s.tsr_id AS seller_id, b.tsr_id AS buyer_id, r.dist_km AS dist_km, "
                        "r.parent_child AS parent_child", {"year": int(year)})

    def to_igraph(self, year: int) -> ig.Graph:
        """Directed igraph of a vintage, vertices named by tsr_id (seller → buyer)."""
        e = self.edges(year)
        return ig.Graph.DataFrame(e[["seller_id", "buyer_id", "dist_km"]], directed=True, use_vids=False)

    @abstractmethod
    def close(self) -> None:
        """Release the connection or database handle."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def first_line(e: BaseException) -> str:
    """An engine message on one line (engines add hints and carets on following lines)."""
    text = getattr(e, "message", None) or str(e)
    lines = [x.strip() for x in str(text).splitlines() if x.strip()]
    return " ".join(lines[:2]) if lines else type(e).__name__


def neo4j_settings() -> dict:
    """Connection settings from the environment only (never from code or files in the repo)."""
    uri = os.environ.get("NEO4J_URI")
    if not uri:
        raise StoreError("set NEO4J_URI (and NEO4J_USER, NEO4J_PASSWORD, optionally NEO4J_DATABASE)")
    return {"uri": uri, "user": os.environ.get("NEO4J_USER", "neo4j"),
            "password": os.environ.get("NEO4J_PASSWORD", ""), "database": os.environ.get("NEO4J_DATABASE", "neo4j")}


_current: GraphStore | None = None


def open_store(kind: str = "embedded", path: str | Path | None = None, **kw) -> GraphStore:
    """Open a store and make it the current one for ``graph.query``. ``path`` is the embedded store's
    file and ``lock_timeout`` how long a writer waits for another (both ignored by Neo4j, whose settings
    come from the environment unless given as keywords)."""
    global _current
    if kind == "embedded":
        from graph.embedded import EmbeddedStore

        if path is None:
            raise StoreError("the embedded store needs a path (e.g. DATA_ROOT/.prodnet/graph.lbdb)")
        _current = EmbeddedStore(Path(path), **kw)
    elif kind == "neo4j":
        from graph.neo4j_store import Neo4jStore

        kw.pop("lock_timeout", None)  # a server has no file lock to wait for
        given = {"uri", "user", "password"} <= set(kw)
        _current = Neo4jStore(**(kw if given else neo4j_settings() | kw))
    else:
        raise StoreError(f"unknown store {kind!r}: embedded or neo4j")
    return _current


def query(name: str, store: GraphStore | None = None, **params) -> pd.DataFrame:
    """``graph.query("suppliers_of_firm", firm_id="000123", year=2010)`` on the current store."""
    s = store or _current
    if s is None:
        raise StoreError("no store open: call graph.open_store(...) first or pass store=")
    return s.query(name, **params)
