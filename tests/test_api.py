"""The notebook API (prodnet.open) against independent computations on the ETL cache and the raw files."""

from __future__ import annotations

import networkx as nx
import pandas as pd
import pytest

import prodnet


@pytest.fixture(scope="module")
def net(small_root, cache, tmp_path_factory):
    n = prodnet.open(small_root, work=small_root / ".prodnet", quiet=True)
    yield n
    n.close()


def test_tables_are_the_cache(net, links, cache):
    assert net.years == [2005, 2010]
    for y in (2005, 2010):
        got = net.links(y)
        assert len(got) == len(links[y]) and set(got.columns) >= {"seller_id", "buyer_id", "dist_km"}
        assert net.firms(y).index.is_unique and len(net.firms(y)) == len(cache.read(f"firms_{y}"))
    with pytest.raises(ValueError, match="vintage 1999"):
        net.links(1999)


def test_add_drop_counts_by_set_algebra(net, links):
    a = set(zip(links[2005].seller_id, links[2005].buyer_id, strict=True))
    b = set(zip(links[2010].seller_id, links[2010].buyer_id, strict=True))
    got = net.add_drop(2005, 2010).status.value_counts()
    assert got["continuing"] == len(a & b) and got["dropped"] == len(a - b) and got["added"] == len(b - a)


def test_query_and_cypher(net, links):
    buyer = links[2010].buyer_id.value_counts().index[0]
    q = net.query("suppliers_of_firm", firm_id=buyer, year=2010)
    assert set(q.seller_id) == set(links[2010].loc[links[2010].buyer_id == buyer, "seller_id"])
    c = net.cypher("MATCH (s:Firm)-[r:SUPPLIES]->(b:Firm {tsr_id: $id}) WHERE r.year = $y RETURN count(*) AS n",
                   id=buyer, y=2010)
    assert int(c.n.iloc[0]) == len(q)


def test_query_parameters_are_checked_not_converted(net, links):
    with pytest.raises(ValueError, match="firm_id must be str, got int 101"):
        net.query("suppliers_of_firm", firm_id=101, year=2010)
    with pytest.raises(ValueError, match="unknown parameter.s. id; missing parameter.s. firm_id"):
        net.query("firm", id="0001")
    with pytest.raises(Exception, match="vintage 2008 is not loaded"):
        net.query("top_buyers", year=2008, limit=3)


def test_ego_network_matches_networkx_on_the_links(net, links):
    l10 = links[2010]
    firm = l10.buyer_id.value_counts().index[3]
    full = nx.from_pandas_edgelist(l10, "seller_id", "buyer_id", create_using=nx.DiGraph)
    for depth in (1, 2):
        want = set(nx.ego_graph(full, firm, radius=depth, undirected=True).nodes)
        g = net.ego(firm, 2010, depth=depth)
        assert set(g.nodes) == want
        assert g.number_of_edges() == full.subgraph(want).number_of_edges()
    g1 = net.ego(firm, 2010)
    ego_q = net.query("firm_ego", firm_id=firm, year=2010)
    assert set(g1.predecessors(firm)) == set(ego_q.loc[ego_q.role == "supplier", "partner_id"])
    assert set(g1.successors(firm)) == set(ego_q.loc[ego_q.role == "customer", "partner_id"])
    assert g1.nodes[firm]["jsic4"] == net.firms(2010).loc[firm, "jsic4"]
    u, v = next(iter(g1.edges))
    row = l10[(l10.seller_id == u) & (l10.buyer_id == v)].iloc[0]
    assert g1.edges[u, v]["dist_km"] == pytest.approx(float(row.dist_km))
    with pytest.raises(KeyError, match="not in the 2010 company file"):
        net.ego("no-such-firm", 2010)


def test_igraph_degrees(net, links):
    g = net.igraph(2005)
    assert g.ecount() == len(links[2005])
    indeg = pd.Series(g.indegree(), index=g.vs["name"])
    want = links[2005].groupby("buyer_id").size()
    assert (indeg.reindex(want.index) == want).all()
