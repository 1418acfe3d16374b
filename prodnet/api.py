"""The notebook API: ``net = prodnet.open("data/small")`` and everything as DataFrames, graphs and fits.

``open`` runs the ETL (reused when the inputs did not change) and gives a :class:`Network` over the data
root: the clean tables of the columnar cache, the graph store (opened on first use), the paper's samples
and fits, and ``run_all``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import igraph as ig
import networkx as nx
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analytics.exhibits import Exhibit
from analytics.network import add_drop_pairs
from analytics.study import require_text_ids
from etl.pipeline import Cache, default_work_dir, run_etl

LINK_COLUMNS = ["seller_id", "buyer_id", "dist_km", "reported_by", "parent_child", "rank_by_buyer", "rank_by_seller"]

# names of the regression samples and tables: alias → canonical table name
ALIASES = {"eq1": "table_3", "eq15": "table_4", "eq16_drop": "table_7", "eq16_add": "table_8", "eq19": "table_9"}
TABLES = ("table_3", "table_4", "table_5", "table_6", "table_7", "table_8", "table_9")
EQ15_SPECS = (("nearest", "theta_cp"), ("nearest", "theta_firm"), ("home", "theta_cp"))  # Table 4's column groups
EQ16_CHARACTERISTICS = ("dist", "sales", "emp")


def table_name(name: str) -> str:
    """The canonical table name of a sample or table name (``eq16_drop`` → ``table_7``)."""
    t = ALIASES.get(name, name)
    if t not in TABLES:
        raise ValueError(f"unknown sample {name!r}; known: {', '.join(TABLES + tuple(ALIASES))}")
    return t


@dataclass
class RunResult:
    """What ``Network.run_all`` produced: every exhibit by id (``res["table_7"].tidy()``,
    ``res["table_7"].reg.columns``), the figures, the report and the summary dict of ``analytics.run_all``."""

    out: Path
    summary: dict
    exhibits: dict[str, Exhibit] = field(default_factory=dict)

    def __getitem__(self, exhibit_id: str) -> Exhibit:
        if exhibit_id not in self.exhibits:
            raise KeyError(f"no exhibit {exhibit_id!r}; produced: {', '.join(self.exhibits)}")
        return self.exhibits[exhibit_id]

    def __iter__(self):
        return iter(self.exhibits)

    @property
    def report(self) -> Path:
        return self.out / "report.html"

    @property
    def figures(self) -> dict[str, Path]:
        """Figure id → PNG path, for the figures that were drawn."""
        return {k: e.figure for k, e in self.exhibits.items() if e.figure is not None}

    @property
    def errors(self) -> dict[str, str]:
        """Exhibit id → reason, for the exhibits not produced."""
        return {k: e.error for k, e in self.exhibits.items() if e.error}


class Network:
    """A data root after ETL: tables, graph store, samples and fits of the paper.

    Not created directly: use :func:`prodnet.open`."""

    def __init__(self, root: Path, work: Path, cache: Cache, report: dict, store: str, store_kw: dict) -> None:
        self.root, self.work, self.cache, self.etl_report = root, work, cache, report
        self._store_kind, self._store_kw, self._store = store, store_kw, None
        self._studies: dict = {}
        self._tables: dict = {}
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
        (continuing / dropped / added), dist_km, and seller_in_both / buyer_in_both: the firm is in the
        company files of both vintages. A pair dropped or added where one of them is not is a firm's exit
        or entry rather than a change of partner. All links, parent–child pairs included; the regression
        samples of eq. (16) apply their own rules (see :meth:`sample`)."""
        pairs = add_drop_pairs(self.links(y0), self.links(y1))
        listed = [pd.Index(self.cache.read(f"firms_{self._year(y)}", columns=["tsr_id"]).tsr_id) for y in (y0, y1)]
        both = pa.array(listed[0].intersection(listed[1]))
        for side in ("seller", "buyer"):  # Arrow's hash look-up: pandas' isin on Arrow strings is slow here
            side_ids = pa.array(pairs[f"{side}_id"]).cast(both.type)
            pairs[f"{side}_in_both"] = pc.is_in(side_ids, value_set=both).to_numpy(zero_copy_only=False)
        return pairs

    def igraph(self, year: int) -> ig.Graph:
        """Directed igraph of a vintage (seller → buyer), vertices named by tsr_id, every link attribute on
        the edges."""
        return ig.Graph.DataFrame(self.links(year), directed=True, use_vids=False)

    def ego(self, firm_id: str, year: int, depth: int = 1) -> nx.DiGraph:
        """The firm's suppliers and customers up to ``depth`` links away in a vintage, as a networkx
        DiGraph (edges seller → buyer) with every firm and link attribute. Every link among the
        included firms is kept."""
        require_text_ids([firm_id])
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

    # -- the paper's samples and fits --------------------------------------------------------------------
    def study(self, y0: int | None = None, y1: int | None = None):
        """Features and samples of the paper for vintages ``y0`` → ``y1`` (default: the first and last
        vintage of the root), as ``analytics.study.build`` assembles them; computed once and cached."""
        from analytics import study

        y0, y1 = self._year(y0 or self.years[0]), self._year(y1 or self.years[-1])
        if (y0, y1) not in self._studies:
            self._studies[y0, y1] = study.build(self.cache, self.store, y0, y1)
        return self._studies[y0, y1]

    def sample(self, name: str, *, y0: int | None = None, y1: int | None = None, **kw) -> pd.DataFrame:
        """The frame a table of the paper is estimated on, row for row (each column drops only the rows
        missing one of its own variables, and fixed-effect singletons, as the estimator does).

        Common rules (``analytics.study``): manufacturing buyers present in both vintages and matched to
        the BSJBSA in both survey years; sellers present in both vintages; parent–child links removed.

        - ``"table_3"`` / ``"eq1"``: one row per buyer (index tsr_id), existing importers excluded; changes
          between vintages of log sellers, input industries, source regions, DHS and log distance and the
          add-vs-drop distance, sellers under 5 employees dropped (``restricted=False``: every link kept).
        - ``"table_4"`` / ``"eq15"``: buyer × 3-digit input industry × source prefecture ≠ the reference,
          in ``year`` (default y0); ``reference`` ``"nearest"`` (default) or ``"home"``; ``theta``
          ``"theta_cp"`` (default) or ``"theta_firm"``. Columns 1–3 of Table 4 use (nearest, theta_cp),
          4–6 (nearest, theta_firm), 7–9 (home, theta_cp).
        - ``"table_5"``: buyer × input sector (12) × all 47 prefectures in y0, y = 1 when the buyer sources
          there; buyers with importers included.
        - ``"table_6"``: survey firms of y0 (all industries) matched to TSR with a productivity × 12 sectors:
          off (imports of the sector), dom (buys from a TSR seller of the sector).
        - ``"table_7"`` / ``"eq16_drop"`` and ``"table_8"`` / ``"eq16_add"``: buyer–seller pairs of non-
          importing buyers, continuing vs dropped (y0 links) or continuing vs added (y1 links); seller
          characteristics of y0 relative to the buyer's mean (``mean="arithmetic"`` or ``"geometric"``);
          ``characteristic`` (``dist``, ``sales`` or ``emp``) keeps only that characteristic's columns
          (rel_x, D_x, Z_x), the rows are the same.
        - ``"table_9"`` / ``"eq19"``: buyer × 3-digit manufacturing input industry, non-importing buyers;
          ``kind="drop"`` (default; industries sourced in y0) or ``"add"`` (all others, dropped excluded).
        """
        from analytics import offshoring, regressions

        t, st = table_name(name), self.study(y0, y1)
        if t == "table_3":
            return regressions.buyer_outcomes(st, st.regression_buyers(exclude_importers=True), **kw)
        if t == "table_4":
            ref, theta = kw.pop("reference", "nearest"), kw.pop("theta", "theta_cp")
            return regressions.eq15_frame(st, kw.pop("year", None) or st.y0, ref, theta, **kw)
        if t == "table_5":
            return regressions.incidence_frame(st, **kw)
        if t == "table_6":
            return offshoring.offshoring_frame(st, **kw)
        if t == "table_9":  # a copy: the study keeps its sample for the tables
            return regressions.industry_sample(st, kw.pop("kind", "drop"), **kw).copy()
        x = kw.pop("characteristic", None)
        p = regressions.pair_sample(st, "drop" if t == "table_7" else "add", **kw).copy()
        if x is None:
            return p
        if x not in EQ16_CHARACTERISTICS:
            raise ValueError(f"characteristic must be one of {', '.join(EQ16_CHARACTERISTICS)}, got {x!r}")
        other = [f"{pre}_{o}" for o in EQ16_CHARACTERISTICS if o != x for pre in ("rel", "D", "Z")]
        return p.drop(columns=other)

    def table(self, name: str, year: int | None = None, vcov=None) -> Exhibit:
        """A regression table of the paper computed in this process (cached): ``table("table_7")``;
        ``year`` for Table 4 (A5 is Table 4 in y1), ``vcov`` for Tables 7–9, which accept one."""
        from analytics import offshoring, regressions

        t, st = table_name(name), self.study()
        key = (t, year, repr(vcov))
        if key not in self._tables:
            fn = offshoring.table_6 if t == "table_6" else getattr(regressions, t)
            args = {"table_4": {"year": year}}.get(t, {}) | ({"vcov": vcov} if vcov and t in
                                                              ("table_7", "table_8", "table_9") else {})
            self._tables[key] = fn(st, **args)
        return self._tables[key]

    def fit(self, name: str, column: int, vcov=None, year: int | None = None):
        """The fit of column ``column`` (1, 2, … in the table's order) of a table, as the table estimates
        it (``vcov=None``) or refitted on the same sample (``net.sample``) with ``vcov``: ``"robust"``,
        ``"iid"``, ``{"cluster": "buyer_id"}``, … Raises ``NotEstimable`` with the table's reason when the
        column (or the table) cannot be estimated on this data."""
        from analytics.econometrics.iv import feiv
        from analytics.guard import NotEstimable

        t = table_name(name)
        ex = self.table(t, year=year)
        if ex.error:
            raise NotEstimable(f"{ex.label}: {ex.error}")
        labels = list(ex.reg.columns)
        if not 1 <= int(column) <= len(labels):
            raise ValueError(f"{ex.label} has columns 1-{len(labels)}, got {column}")
        label = labels[int(column) - 1]
        f = ex.reg.columns[label]
        if f is None:
            raise NotEstimable(f"{ex.label} column {column} ({label}): {ex.reg.column_note(label)}")
        if vcov is None:
            return f
        kw: dict = {}
        if t == "table_4":
            kw = dict(zip(("reference", "theta"), EQ15_SPECS[(int(column) - 1) // 3], strict=True)) | {"year": year}
        elif t == "table_9":
            kw = {"kind": label.split()[1]}
        return feiv(f.extra["formula"], self.sample(t, **kw), vcov=vcov)

    def run_all(self, out: str | Path, **kw) -> RunResult:
        """Every table and figure of the paper into ``out`` (``analytics.run_all``: tables/, figures/,
        report.html, summary.json), returned as a :class:`RunResult`. Keywords go to ``analytics.run_all``
        (``only=["table_7"]``, ``y0``, ``y1``, ``isolate``, …)."""
        from analytics.run import run_all

        self.close()  # the run opens the store itself
        summary, exhibits = run_all(self.root, out, store=self._store_kind, work=self.work, return_exhibits=True,
                                    **kw, **self._store_kw)
        return RunResult(Path(out), summary, {e.id: e for e in exhibits})

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
