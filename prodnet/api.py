"""The notebook API: ``net = prodnet.open("data/small")`` and everything as DataFrames, graphs and fits.

``open`` runs the ETL (reused when the inputs did not change) and gives a :class:`Network` over the data
root: the clean tables of the columnar cache, the graph store (opened on first use), the paper's samples
and fits, and ``run_all``.
"""

from __future__ import annotations

from pathlib import Path

import igraph as ig
import networkx as nx
import pandas as pd

from analytics.network import add_drop_pairs
from etl.pipeline import Cache, default_work_dir, run_etl

LINK_COLUMNS = ["seller_id", "buyer_id", "dist_km", "reported_by", "parent_child", "rank_by_buyer", "rank_by_seller"]


class Network:
    """A data root after ETL: tables, graph store, samples and fits of the paper.

    Not created directly: use :func:`prodnet.open`."""

    def __init__(self, root: Path, work: Path, cache: Cache, report: dict, store: str, store_kw: dict) -> None:
        self.root, self.work, self.cache, self.etl_report = root, work, cache, report
        self._store_kind, self._store_kw, self._store = store, store_kw, None
        self.years = sorted(int(k.split("/")[1]) for k in report if k.startswith("tsr/"))

    def __repr__(self) -> str:
        return f"<prodnet.Network {self.root} vintages {self.years} store={self._store_kind}>"

    # -- graph store -------------------------------------------------------------------------------------
    @property
    def store(self):
        """The graph store (``graph.GraphStore``), (re)loaded from the cache unless it is current for it."""
        if self._store is None:
            from graph import open_store

            if self._store_kind == "embedded":
                self._store = open_store("embedded", path=self.work / "graph.lbdb", **self._store_kw)
            else:
                self._store = open_store(self._store_kind, **self._store_kw)
            if not self._store.is_current(self.cache, self.years):
                self._store.load(self.cache, self.years)
        return self._store

    def query(self, name: str, **params) -> pd.DataFrame:
        """A named query of the library (``prodnet queries`` lists them), e.g.
        ``net.query("suppliers_of_firm", firm_id="000123456", year=2010)``."""
        return self.store.query(name, **params)

    def cypher(self, text: str, **params) -> pd.DataFrame:
        """Ad hoc Cypher; values travel only as ``$parameters``: ``net.cypher("MATCH (f:Firm {tsr_id: $id})
        RETURN f.name AS name", id="000123456")``."""
        return self.store.run(text, params)

    # -- tables --------------------------------------------------------------------------------------------
    def _year(self, year: int) -> int:
        if int(year) not in self.years:
            raise ValueError(f"vintage {year} is not in {self.root} (vintages: {self.years})")
        return int(year)

    def links(self, year: int) -> pd.DataFrame:
        """Buyer–seller links of a vintage after two-way matching (section 2), one row per directed pair:
        seller_id, buyer_id (tsr_id text), dist_km (great circle), reported_by (buyer/seller/both),
        parent_child (either firm a shareholder of the other), rank_by_buyer, rank_by_seller."""
        return self.cache.read(f"links_{self._year(year)}")[LINK_COLUMNS]

    def firms(self, year: int) -> pd.DataFrame:
        """Firms of a vintage's company file, cleaned and geocoded, indexed by tsr_id: name, address,
        pref_code, municipality_code, lat, lon, geo_precision, jsic4, jsic3, employees, sales, founded, …"""
        return self.cache.read(f"firms_{self._year(year)}").set_index("tsr_id")

    def add_drop(self, y0: int, y1: int) -> pd.DataFrame:
        """Every buyer–seller pair of either vintage (section 3.2): seller_id, buyer_id, status
        (continuing / dropped / added), dist_km. All links, parent–child pairs included; the regression
        samples of eq. (16) apply their own rules (see :meth:`sample`)."""
        return add_drop_pairs(self.links(y0), self.links(y1))

    def igraph(self, year: int) -> ig.Graph:
        """Directed igraph of a vintage (seller → buyer), vertices named by tsr_id, every link attribute on
        the edges."""
        return ig.Graph.DataFrame(self.links(year), directed=True, use_vids=False)

    def ego(self, firm_id: str, year: int, depth: int = 1) -> nx.DiGraph:
        """The firm's suppliers and customers up to ``depth`` links away in a vintage, as a networkx
        DiGraph (edges seller → buyer) with every firm and link attribute. Every link among the
        included firms is kept."""
        links, firms = self.links(year), self.firms(year)
        if firm_id not in firms.index:
            raise KeyError(f"firm {firm_id!r} is not in the {year} company file")
        nodes = {firm_id}
        frontier = {firm_id}
        for _ in range(int(depth)):
            touch = links[links.seller_id.isin(frontier) | links.buyer_id.isin(frontier)]
            frontier = (set(touch.seller_id) | set(touch.buyer_id)) - nodes
            nodes |= frontier
        sub = links[links.seller_id.isin(nodes) & links.buyer_id.isin(nodes)]
        g = nx.from_pandas_edgelist(sub, "seller_id", "buyer_id", edge_attr=LINK_COLUMNS[2:],
                                    create_using=nx.DiGraph)
        g.add_node(firm_id)
        attrs = firms.reindex(list(g.nodes)).astype(object)
        nx.set_node_attributes(g, attrs.where(attrs.notna(), None).to_dict("index"))
        return g

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open(root: str | Path, store: str = "embedded", work: str | Path | None = None,  # noqa: A001 - prodnet.open
         encoding: str | None = None, quiet: bool = False, **store_kw) -> Network:
    """Open a data root in the contract layout: run the ETL (reused when unchanged, with progress) and
    return a :class:`Network`. ``store`` is ``embedded`` (default, no server) or ``neo4j`` (settings
    from ``NEO4J_URI`` etc.)."""
    from prodnet.progress import steps

    root = Path(root)
    work = Path(work) if work else default_work_dir(root)
    with steps("open", quiet=quiet) as st:
        report = run_etl(root, work, None, encoding, progress=st)
    return Network(root, work, Cache(work), report, store, store_kw)
