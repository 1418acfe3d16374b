"""The graph store: one interface (``GraphStore``), an embedded default and Neo4j."""

from graph.store import GraphStore, StoreError, open_store, query

__all__ = ["GraphStore", "StoreError", "open_store", "query"]
