"""One interface, two backends: ``open_store("embedded", path=…)`` or ``open_store("neo4j", uri=…)``."""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from pathlib import Path

import igraph as ig
import pandas as pd

from etl.pipeline import Cache

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


class StoreError(RuntimeError):
    """A store that cannot be used as asked (missing, incompatible, incomplete vintage)."""


def used_params(cypher: str, params: dict) -> dict:
    """The parameters a query text uses. Values always travel as parameters, never in the text; unused
    ones are dropped because Kuzu-family engines reject them (ENGINE_NOTES)."""
    names = set(_PARAM.findall(cypher))
    missing = names - set(params)
    if missing:
        raise StoreError(f"query needs parameter(s) {', '.join(sorted(missing))}")
    return {k: v for k, v in params.items() if k in names}


class GraphStore(ABC):
    backend: str = ""

    @abstractmethod
    def run(self, cypher: str, params: dict | None = None) -> pd.DataFrame:
        """Run Cypher with parameters; rows as a DataFrame."""

    @abstractmethod
    def load(self, cache: Cache, years: list[int], progress=None) -> dict:
        """Load (or reload) vintages from the ETL cache; idempotent, keeps other loaded vintages."""

    @abstractmethod
    def vintages(self) -> list[int]:
        """Vintages completely loaded."""

    def query(self, name: str, **params) -> pd.DataFrame:
        """Run a named query of the library (``queries/NAME.cypher``)."""
        from queries import get

        return self.run(get(name).text_for(self.backend), params)

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


def neo4j_settings() -> dict:
    """Connection settings from the environment only (never from code or files in the repo)."""
    uri = os.environ.get("NEO4J_URI")
    if not uri:
        raise StoreError("set NEO4J_URI (and NEO4J_USER, NEO4J_PASSWORD, optionally NEO4J_DATABASE)")
    return {"uri": uri, "user": os.environ.get("NEO4J_USER", "neo4j"),
            "password": os.environ.get("NEO4J_PASSWORD", ""), "database": os.environ.get("NEO4J_DATABASE", "neo4j")}


_current: GraphStore | None = None


def open_store(kind: str = "embedded", path: str | Path | None = None, **kw) -> GraphStore:
    """Open a store and make it the current one for ``graph.query``."""
    global _current
    if kind == "embedded":
        from graph.embedded import EmbeddedStore

        if path is None:
            raise StoreError("the embedded store needs a path (e.g. DATA_ROOT/.prodnet/graph.lbdb)")
        _current = EmbeddedStore(Path(path), **kw)
    elif kind == "neo4j":
        from graph.neo4j_store import Neo4jStore

        _current = Neo4jStore(**(neo4j_settings() | kw))
    else:
        raise StoreError(f"unknown store {kind!r}: embedded or neo4j")
    return _current


def query(name: str, store: GraphStore | None = None, **params) -> pd.DataFrame:
    """``graph.query("suppliers_of_firm", firm_id="000123", year=2010)`` on the current store."""
    s = store or _current
    if s is None:
        raise StoreError("no store open: call graph.open_store(...) first or pass store=")
    return s.query(name, **params)
