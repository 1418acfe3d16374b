"""The graph store and the query library on both backends, each result checked against an
independent pandas / networkx computation on the ETL cache."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

import queries

YEAR = 2010


@pytest.fixture(scope="module")
def hub(links):
    """A buyer with many sellers that is also a seller (so every query has rows)."""
    l = links[YEAR]
    sellers = set(l.seller_id)
    deg = l.groupby("buyer_id").size().sort_values(ascending=False)
    return next(b for b in deg.index if b in sellers)


def _sorted(df, cols):
    return df.sort_values(cols).reset_index(drop=True)


def test_counts_per_vintage(store, links, firms):
    got = store.run("MATCH ()-[r:SUPPLIES]->() RETURN r.year AS year, count(*) AS n ORDER BY year")
    assert got.n.tolist() == [len(links[2005]), len(links[2010])]
    assert store.run("MATCH (f:Firm) RETURN count(f) AS n").n[0] == len(firms)
    assert store.vintages() == [2005, 2010]
    pc = store.run("MATCH ()-[r:SUPPLIES]->() WHERE r.year = $year AND r.parent_child RETURN count(*) AS n",
                   {"year": YEAR})
    assert pc.n[0] == links[YEAR].parent_child.sum()


def test_firm_lookup(store, firms, hub):
    got = store.query("firm", firm_id=hub)
    f = firms.loc[hub]
    assert got.name[0] == f["name"] and int(got.pref[0]) == int(f.pref)
    assert list(got.years[0]) == list(f.years)


def test_suppliers_and_customers(store, links, firms, hub):
    l = links[YEAR]
    got = store.query("suppliers_of_firm", firm_id=hub, year=YEAR)
    exp = l[l.buyer_id == hub]
    assert sorted(got.seller_id) == sorted(exp.seller_id)
    m = got.merge(exp, on="seller_id")
    assert np.allclose(m.dist_km_x, m.dist_km_y) and (m.reported_by_x == m.reported_by_y).all()
    assert got.dist_km.is_monotonic_increasing
    cus = store.query("customers_of_firm", firm_id=hub, year=YEAR)
    assert sorted(cus.buyer_id) == sorted(l.loc[l.seller_id == hub, "buyer_id"])
    ego = store.query("firm_ego", firm_id=hub, year=YEAR)
    assert (ego.role == "supplier").sum() == len(got) and (ego.role == "customer").sum() == len(cus)


def test_parameters_are_values_not_code(store):
    assert len(store.query("firm", firm_id="x' OR 1=1 //")) == 0
    assert len(store.query("suppliers_of_firm", firm_id="\" OR true RETURN 1 //", year=YEAR)) == 0


@pytest.mark.parametrize("year", [2005, 2010])
def test_degree_distributions(store, links, year):
    l = links[year]
    exp = l.groupby("buyer_id").size().value_counts().sort_index()
    got = store.query("sellers_per_buyer_distribution", year=year)
    assert got.k.tolist() == exp.index.tolist() and got.buyers.tolist() == exp.tolist()
    exp = l.groupby("seller_id").size().value_counts().sort_index()
    got = store.query("buyers_per_seller_distribution", year=year)
    assert got.k.tolist() == exp.index.tolist() and got.sellers.tolist() == exp.tolist()


def test_top_buyers_and_sellers(store, links):
    l = links[YEAR]
    exp = l.groupby("buyer_id").size().reset_index(name="n").sort_values(["n", "buyer_id"], ascending=[False, True])
    got = store.query("top_buyers", year=YEAR, limit=10)
    assert got.buyer_id.tolist() == exp.buyer_id.head(10).tolist() and got.sellers.tolist() == exp.n.head(10).tolist()
    exp = l.groupby("seller_id").size().reset_index(name="n").sort_values(["n", "seller_id"], ascending=[False, True])
    got = store.query("top_sellers", year=YEAR, limit=10)
    assert got.seller_id.tolist() == exp.seller_id.head(10).tolist()


def _add_drop_pandas(links):
    a = links[2005][["seller_id", "buyer_id"]].assign(in05=True)
    b = links[2010][["seller_id", "buyer_id"]].assign(in10=True)
    m = a.merge(b, how="outer", on=["seller_id", "buyer_id"])
    in05, in10 = m.in05.notna().to_numpy(), m.in10.notna().to_numpy()
    m["status"] = np.select([in05 & in10, in05], ["continuing", "dropped"], "added")
    return m


def test_add_drop(store, links, hub):
    m = _add_drop_pandas(links)
    got = store.query("add_drop_of_buyer", firm_id=hub, year_from=2005, year_to=2010)
    exp = m[m.buyer_id == hub]
    assert dict(zip(got.seller_id, got.status, strict=True)) == dict(zip(exp.seller_id, exp.status, strict=True))
    counts = store.query("add_drop_counts", year_from=2005, year_to=2010).set_index("buyer_id")
    exp = m.pivot_table(index="buyer_id", columns="status", aggfunc="size", fill_value=0)
    exp = exp.reindex(counts.index).fillna(0)
    for c in ("added", "dropped", "continuing"):
        assert (counts[c].to_numpy() == exp[c].to_numpy()).all(), c
    assert (counts.sellers_from == counts.dropped + counts.continuing).all()


def test_distance_and_scope(store, links, firms):
    l = links[YEAR]
    got = store.query("supplier_distance_summary", year=YEAR).set_index("buyer_id")
    g = l.groupby("buyer_id").dist_km
    assert np.allclose(got.mean_km, g.mean().reindex(got.index))
    assert np.allclose(got.median_km, g.median().reindex(got.index))
    assert np.allclose(got.share_within_25km, (l.dist_km < 25).groupby(l.buyer_id).mean().reindex(got.index))
    scope = store.query("sourcing_scope", year=YEAR).set_index("buyer_id")
    s = l.join(firms[["jsic3", "jsic4", "pref"]], on="seller_id")
    exp = s.groupby("buyer_id").agg(i3=("jsic3", "nunique"), i4=("jsic4", "nunique"), p=("pref", "nunique"))
    exp = exp.reindex(scope.index)
    assert (scope.input_industries_3 == exp.i3).all() and (scope.input_industries_4 == exp.i4).all()
    assert (scope.source_prefectures == exp.p).all()


def test_prefecture_flows(store, links, firms):
    l = links[YEAR]
    exp = (l.assign(sp=firms.pref.reindex(l.seller_id).to_numpy(), bp=firms.pref.reindex(l.buyer_id).to_numpy())
           .dropna(subset=["sp", "bp"]).groupby(["sp", "bp"]).size())
    got = store.query("prefecture_flows", year=YEAR).dropna()
    got = got.set_index([got.seller_pref.astype(int), got.buyer_pref.astype(int)]).links
    assert got.sum() == exp.sum()
    assert (got.sort_index().to_numpy() == exp.sort_index().to_numpy()).all()


@pytest.mark.parametrize("direction", ["upstream", "downstream"])
def test_k_hop_reach_against_networkx(store, links, hub, direction):
    g = nx.DiGraph(list(zip(links[YEAR].seller_id, links[YEAR].buyer_id, strict=True)))
    step = g.predecessors if direction == "upstream" else g.successors
    frontier, exp = {hub}, {}
    for hop in (1, 2, 3):
        frontier = {n for f in frontier for n in step(f)}
        exp[hop] = frontier
    got = store.query(f"{direction}_reach", firm_id=hub, year=YEAR, k=3)
    for hop in (1, 2, 3):
        assert set(got.firm_id[got.hop == hop]) == exp[hop], hop
    got2 = store.query(f"{direction}_reach", firm_id=hub, year=YEAR, k=2)
    assert set(got2.hop) <= {1, 2}


def test_links_within_radius(store, links, firms):
    lat, lon, radius = 35.68, 139.75, 30.0
    f = firms[["lat", "lon"]]

    def km(la, lo):
        la, lo = np.radians(la), np.radians(lo)
        a = np.sin((la - np.radians(lat)) / 2) ** 2 + np.cos(la) * np.cos(np.radians(lat)) * np.sin((lo - np.radians(lon)) / 2) ** 2
        return 2 * 6371.0088 * np.arcsin(np.sqrt(a))

    l = links[YEAR]
    sk = km(f.lat.reindex(l.seller_id).to_numpy(), f.lon.reindex(l.seller_id).to_numpy())
    bk = km(f.lat.reindex(l.buyer_id).to_numpy(), f.lon.reindex(l.buyer_id).to_numpy())
    exp = l[(sk <= radius) & (bk <= radius)]
    got = store.query("links_within_radius", lat=lat, lon=lon, radius_km=radius, year=YEAR)
    assert len(exp) > 0
    assert set(zip(got.seller_id, got.buyer_id, strict=True)) == set(zip(exp.seller_id, exp.buyer_id, strict=True))


def test_firms_by_prefecture(store, links, firms):
    got = store.query("firms_by_prefecture", year=YEAR).set_index("pref")
    alive = firms[firms.years.map(lambda y: YEAR in list(y)) & firms.pref.notna()]
    exp_firms = alive.groupby(alive.pref.astype(int)).size()
    assert (got.firms.reindex(exp_firms.index) == exp_firms).all()
    l = links[YEAR]
    buyers = alive[alive.index.isin(l.buyer_id)].groupby("pref").size()
    assert (got.buyers.reindex(buyers.index.astype(int)).to_numpy() == buyers.to_numpy()).all()


def test_igraph_export(store, links):
    g = store.to_igraph(YEAR)
    l = links[YEAR]
    assert g.ecount() == len(l)
    assert g.vcount() == len(set(l.seller_id) | set(l.buyer_id))
    indeg = pd.Series(g.indegree(), index=g.vs["name"])
    assert (indeg.reindex(l.buyer_id.unique()) == l.groupby("buyer_id").size().reindex(l.buyer_id.unique())).all()


def test_every_query_declares_its_columns(embedded_store, hub):
    values = {"firm_id": hub, "year": YEAR, "year_from": 2005, "year_to": 2010, "k": 2, "limit": 3,
              "lat": 35.0, "lon": 135.0, "radius_km": 20.0}
    for name in queries.names():
        q = queries.get(name)
        assert q.description and q.returns, name
        df = embedded_store.query(name, **{k: values[k] for k in q.params})
        assert list(df.columns) == q.returns, name
