"""The graph store: one interface (``GraphStore``), an embedded default and Neo4j."""

from graph.store import Freshness, GraphStore, QueryError, StoreError, open_store, query

__all__ = ["Freshness", "GraphStore", "QueryError", "StoreError", "open_store", "query"]
