"""Graph and feature benchmarks on a data root (run ``prodnet load ROOT`` first):

- every query of the library on the embedded store (median of repeats, warm store);
- igraph export; add/drop counts for all buyers by the project (Cypher query) vs plain pandas vs plain
  networkx vs a numpy lower bound on the Parquet cache;
- power-law fit vs the ``powerlaw`` package;
- optionally (``--bolt``) load and query on the local ArcadeDB Bolt server, as a ratio to embedded.

Usage: python -m benchmarks.bench_graph ROOT [--bolt] [--repeats 3]"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

import queries
from analytics import power_law as pl
from benchmarks.common import save, timed
from etl.pipeline import Cache
from graph import open_store


def _params(store, year: int = 2010) -> dict:
    hub = store.run("MATCH (s:Firm)-[r:SUPPLIES]->(b:Firm) WHERE r.year = $y RETURN b.tsr_id AS id, count(*) AS n "
                    "ORDER BY n DESC LIMIT 200", {"y": year})
    mid = hub.id.iloc[-1]  # a large but not extreme buyer
    return {"firm_id": mid, "year": year, "year_from": 2005, "year_to": 2010, "k": 2, "limit": 20,
            "lat": 35.68, "lon": 139.75, "radius_km": 10.0}


def bench_queries(store, repeats: int) -> list[dict]:
    p = _params(store)
    rows = []
    for name in queries.names():
        q = queries.get(name)
        args = {k: p[k] for k in q.params}
        store.query(name, **args)  # warm
        t, df = timed(lambda a=args, n=name: store.query(n, **a), repeats)
        rows.append({"what": f"query {name}", "seconds": t, "rows": len(df)})
        print(rows[-1], flush=True)
    ts = []
    for _ in range(200):
        t0 = time.perf_counter()
        store.query("firm_ego", firm_id=p["firm_id"], year=2010)
        ts.append(time.perf_counter() - t0)
    rows.append({"what": "single-firm ego query (median of 200, warm)", "seconds": float(np.median(ts)),
                 "ms": 1000 * float(np.median(ts))})
    return rows


def bench_add_drop(store, cache: Cache, repeats: int) -> list[dict]:
    rows = []
    t, df = timed(lambda: store.query("add_drop_counts", year_from=2005, year_to=2010), repeats)
    rows.append({"what": "add/drop counts, all buyers: prodnet Cypher (embedded)", "seconds": t, "rows": len(df)})

    def pandas_way():
        a = cache.read("links_2005")[["seller_id", "buyer_id"]].assign(a=1)
        b = cache.read("links_2010")[["seller_id", "buyer_id"]].assign(b=1)
        m = a.merge(b, how="outer", on=["seller_id", "buyer_id"])
        m["added"], m["dropped"] = m.a.isna(), m.b.isna()
        return m.groupby("buyer_id")[["added", "dropped"]].sum()

    t, _ = timed(pandas_way, repeats)
    rows.append({"what": "add/drop counts: plain pandas (merge on ids from Parquet)", "seconds": t})

    def numpy_bound():
        a, b = cache.read("links_2005"), cache.read("links_2010")
        ids = pd.Index(pd.concat([a.seller_id, a.buyer_id, b.seller_id, b.buyer_id]).unique())
        n = len(ids)
        ka = ids.get_indexer(a.seller_id).astype(np.int64) * n + ids.get_indexer(a.buyer_id)
        kb = ids.get_indexer(b.seller_id).astype(np.int64) * n + ids.get_indexer(b.buyer_id)
        dropped = ~np.isin(ka, kb)
        return np.bincount((ka % n)[dropped], minlength=n)

    t, _ = timed(numpy_bound, repeats)
    rows.append({"what": "add/drop counts: numpy lower bound (Parquet read + integer keys)", "seconds": t})

    def networkx_way():
        g5 = nx.DiGraph(zip(cache.read("links_2005").seller_id, cache.read("links_2005").buyer_id, strict=True))
        g10 = nx.DiGraph(zip(cache.read("links_2010").seller_id, cache.read("links_2010").buyer_id, strict=True))
        return {b: (len(set(g10.predecessors(b)) - set(g5.predecessors(b))) if b in g5 else 0) for b in g10}

    t, _ = timed(networkx_way, 1)
    rows.append({"what": "add/drop counts: plain networkx (build two DiGraphs, set differences)", "seconds": t})
    base = rows[0]["seconds"]
    for r in rows[1:]:
        r["ratio_vs_prodnet"] = r["seconds"] / base
    for r in rows:
        print(r, flush=True)
    return rows


def bench_igraph_powerlaw(store, repeats: int) -> list[dict]:
    rows = []
    t, g = timed(lambda: store.to_igraph(2010), 1)
    rows.append({"what": "igraph export of the 2010 vintage", "seconds": t, "edges": g.ecount()})
    k = np.asarray(g.indegree())
    k = k[k > 0]
    t, f = timed(lambda: pl.fit(k), repeats)
    rows.append({"what": "power-law fit (CSN, x_min search): prodnet", "seconds": t, "alpha": f.alpha, "xmin": f.xmin})
    import powerlaw

    t2, f2 = timed(lambda: powerlaw.Fit(k, discrete=True, verbose=False).alpha, 1)
    rows.append({"what": "power-law fit: powerlaw package", "seconds": t2, "alpha": f2, "ratio_vs_prodnet": t2 / t})
    for r in rows:
        print(r, flush=True)
    return rows


def bench_bolt(cache: Cache, repeats: int) -> list[dict]:
    from graph.boltserver import bolt_server
    from graph.neo4j_store import Neo4jStore

    rows = []
    pw = secrets.token_hex(12)
    with tempfile.TemporaryDirectory() as d:
        emb = open_store("embedded", path=Path(d) / "g.lbdb")
        t_emb, _ = timed(lambda: emb.load(cache, [2005, 2010]), 1)
        with bolt_server(Path(d), pw) as uri:
            s = Neo4jStore(uri, "root", pw)
            t_bolt, _ = timed(lambda: s.load(cache, [2005, 2010]), 1)
            rows.append({"what": "load both vintages: embedded (LadybugDB)", "seconds": t_emb})
            rows.append({"what": "load both vintages: Bolt server (ArcadeDB, not Neo4j)", "seconds": t_bolt,
                         "ratio_vs_embedded": t_bolt / t_emb})
            p = _params(emb)
            for name in ("firm", "suppliers_of_firm", "sellers_per_buyer_distribution", "sourcing_scope"):
                args = {k: p[k] for k in queries.get(name).params}
                te, _ = timed(lambda a=args, n=name: emb.query(n, **a), repeats)
                tb, _ = timed(lambda a=args, n=name: s.query(n, **a), repeats)
                rows.append({"what": f"query {name}: Bolt (ArcadeDB) vs embedded", "seconds": tb, "embedded_seconds": te,
                             "ratio_vs_embedded": tb / te})
            s.close()
        emb.close()
    for r in rows:
        print(r, flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--bolt", action="store_true", help="also benchmark the local Bolt server (small roots)")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    root = Path(a.root)
    cache = Cache(root / ".prodnet")
    store = open_store("embedded", path=root / ".prodnet" / "graph.lbdb")
    tag = os.environ.get("BENCH_TAG", root.name)
    rows = bench_queries(store, a.repeats) + bench_add_drop(store, cache, a.repeats) + bench_igraph_powerlaw(store, a.repeats)
    print(save(f"graph_{tag}", rows))
    if a.bolt:
        store.close()
        print(save(f"bolt_{tag}", bench_bolt(cache, a.repeats)))


if __name__ == "__main__":
    main()
