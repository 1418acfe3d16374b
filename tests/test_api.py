"""The notebook API (prodnet.open) against independent computations on the ETL cache and the raw files."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

import prodnet
from analytics.econometrics.iv import feiv


@pytest.fixture(scope="module", params=["small", "fixture"])
def net(request, tmp_path_factory):
    if request.param == "small":
        root = request.getfixturevalue("small_root")
    else:
        from tests.fixture_root import build_fixture_root

        root = build_fixture_root(tmp_path_factory.mktemp("api_fixture") / "root")
    n = prodnet.open(root, work=root / ".prodnet", quiet=True)
    n.kind = request.param
    yield n
    n.close()


@pytest.fixture(scope="module")
def links(net) -> dict:
    """Cleaned links of both vintages, read from the ETL cache directly."""
    return {y: net.cache.read(f"links_{y}") for y in (2005, 2010)}


def test_tables_are_the_cache(net, links):
    assert net.years == [2005, 2010]
    for y in (2005, 2010):
        got = net.links(y)
        assert len(got) == len(links[y]) and set(got.columns) >= {"seller_id", "buyer_id", "dist_km"}
        assert net.firms(y).index.is_unique and len(net.firms(y)) == len(net.cache.read(f"firms_{y}"))
    with pytest.raises(ValueError, match="vintage 1999"):
        net.links(1999)


def test_add_drop_counts_by_set_algebra(net, links):
    a = set(zip(links[2005].seller_id, links[2005].buyer_id, strict=True))
    b = set(zip(links[2010].seller_id, links[2010].buyer_id, strict=True))
    pairs = net.add_drop(2005, 2010)
    got = pairs.status.value_counts()
    assert got["continuing"] == len(a & b) and got["dropped"] == len(a - b) and got["added"] == len(b - a)
    both = set(net.firms(2005).index) & set(net.firms(2010).index)
    for side in ("seller", "buyer"):
        assert pairs[f"{side}_in_both"].tolist() == [i in both for i in pairs[f"{side}_id"]]
    exits = pairs[(pairs.status == "dropped") & ~(pairs.seller_in_both & pairs.buyer_in_both)]
    assert 0 < len(exits) < got["dropped"]  # the fixture has both kinds of drop


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
    with pytest.raises(TypeError, match="firm ids are text"):  # 12 is neither "12" nor "0012"
        net.ego(12, 2010)


def test_igraph_degrees(net, links):
    g = net.igraph(2005)
    assert g.ecount() == len(links[2005])
    indeg = pd.Series(g.indegree(), index=g.vs["name"])
    want = links[2005].groupby("buyer_id").size()
    assert (indeg.reindex(want.index) == want).all()


# ---------------------------------------------------------------- samples and fits, on both roots

FE16 = "in_ind + b_ind + src_pref + b_pref"
# (table, column, sample keywords, formula written out here, vcov): the test's own statement of each column
SPECS = {
    "table_3": (2, {}, "d_log_sellers ~ imp_starter + log_tfp | ind4 + pref", {"cluster": "pref"}),
    "table_4": (3, {}, "y ~ lnd_t_rho + lnd_t_air | s_ref + s_r", {"cluster": "s_r"}),
    "table_4 firm θ": (4, {"theta": "theta_firm"}, "y ~ lnd_t | s_ref + s_r", {"cluster": "s_r"}),
    "table_4 home": (7, {"reference": "home"}, "y ~ lnd_t | s_ref + s_r", {"cluster": "s_r"}),
    "table_5": (6, {}, "y ~ lnd_theta_cp_rho + lnd_theta_cp_air | sector_r + buyer", {"cluster": "buyer"}),
    "table_6": (1, {}, "off ~ dom + log_tfp + tfp_x_theta_cp | sector12", {"cluster": "tsr_id"}),
    "table_7": (7, {"characteristic": "sales"}, f"y ~ rel_sales + log_sales | {FE16} | D + D_sales ~ shock + Z_sales",
                "robust"),
    "table_7 OLS": (3, {}, f"y ~ D + D_sales + rel_sales + log_sales | {FE16}", "robust"),
    "table_8": (6, {"characteristic": "dist"}, f"y ~ rel_dist + log_sales | {FE16} | D + D_dist ~ shock + Z_dist",
                "robust"),
    "table_8 OLS": (2, {}, f"y ~ D + D_dist + rel_dist + log_sales | {FE16}", "robust"),
    "table_9": (7, {"kind": "add"}, "y ~ log_sales | b_ind + b_pref + ind | D + D_rauch ~ shock + Z_rauch", "robust"),
    "table_9 OLS": (3, {"kind": "add"}, "y ~ D + D_rauch + log_sales | b_ind + b_pref + ind", "robust"),
}
# what the hand-written root (48 firms) cannot estimate: spec → the reason's start
NOT_ESTIMABLE_ON_FIXTURE = {"table_4 firm θ": "Table 4 column 4", "table_4 home": "Table 4 column 7", "table_6": "Table 6: not estimable: no imports by "
                            "product sector", "table_7": "Table 7 column 7", "table_8": "Table 8 column 6",
                            "table_9": "Table 9 column 7"}


@pytest.mark.parametrize("spec", list(SPECS))
def test_sample_is_the_frame_the_table_estimates_on(net, spec):
    """Refitting the column with the formula written out above on ``net.sample`` reproduces the table's
    coefficients, standard errors and observation count exactly; the fit ``net.fit`` returns is the table's."""
    from analytics.guard import NotEstimable

    table = spec.split()[0]
    column, kw, formula, vcov = SPECS[spec]
    if net.kind == "fixture" and spec in NOT_ESTIMABLE_ON_FIXTURE:
        with pytest.raises(NotEstimable, match=NOT_ESTIMABLE_ON_FIXTURE[spec]):
            net.fit(table, column=column)
        return
    want = net.fit(table, column=column)
    ex = net.table(table)
    assert want is list(ex.reg.columns.values())[column - 1]
    got = feiv(formula, net.sample(table, **kw), vcov=vcov)
    assert got.nobs == want.nobs and list(got.coef.index) == list(want.coef.index)
    np.testing.assert_allclose(got.coef, want.coef, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got.se, want.se, rtol=1e-10, atol=1e-12)


def test_fit_with_another_vcov(net):
    """Same coefficients, buyer-clustered SEs equal to an explicit clustered refit on the sample."""
    column = 3 if net.kind == "fixture" else 7
    base = net.fit("table_7", column=column)
    cl = net.fit("table_7", column=column, vcov={"cluster": "buyer_id"})
    _, kw, formula, _ = SPECS["table_7 OLS" if column == 3 else "table_7"]
    ref = feiv(formula, net.sample("table_7"), vcov={"cluster": "buyer_id"})
    np.testing.assert_allclose(cl.coef, base.coef, rtol=1e-12)
    np.testing.assert_allclose(cl.se, ref.se, rtol=1e-12)
    assert cl.vcov_type == "cluster" and cl.n_clusters == net.sample("table_7").buyer_id.nunique()
    assert not np.allclose(cl.se, base.se)
    whole = net.table("table_7", vcov={"cluster": "buyer_id"})  # the table function's own vcov argument
    np.testing.assert_allclose(list(whole.reg.columns.values())[column - 1].se, cl.se, rtol=1e-12)
    with pytest.raises(ValueError, match="columns 1-8, got 9"):
        net.fit("table_7", column=9)
    with pytest.raises(ValueError, match="unknown sample 'table_77'"):
        net.sample("table_77")


def test_sample_aliases(net):
    """The equation names are the tables' samples."""
    for alias, table, kw in (("eq1", "table_3", {}), ("eq15", "table_4", {"reference": "home", "theta": "theta_firm"}),
                             ("eq16_drop", "table_7", {}), ("eq16_add", "table_8", {}), ("eq19", "table_9", {"kind": "add"})):
        pd.testing.assert_frame_equal(net.sample(alias, **kw), net.sample(table, **kw))
    with pytest.raises(ValueError, match="characteristic must be one of dist, sales, emp, got 'size'"):
        net.sample("table_8", characteristic="size")


def test_samples_rebuilt_with_pandas(net):
    """Samples of eq. (16), (19) and (1) by set algebra on the cleaned links: pairs of the sample's buyers whose
    seller is in both vintages, parent–child pairs of either vintage removed; drop = y0 links, add = y1 links."""
    st = net.study()
    buyers = set(st.sample_buyers(exclude_importers=True))
    both = set(net.firms(2005).index) & set(net.firms(2010).index)
    l0, l1 = net.links(2005), net.links(2010)
    pc = {(s, b) for l in (l0, l1) for s, b in zip(l.seller_id[l.parent_child], l.buyer_id[l.parent_child],
                                                      strict=True)}

    def pairs(l):
        return {(s, b) for s, b in zip(l.seller_id, l.buyer_id, strict=True)
                if b in buyers and s in both and (s, b) not in pc}

    p0, p1 = pairs(l0), pairs(l1)
    for name, base, other, status in (("eq16_drop", p0, p1, "dropped"), ("eq16_add", p1, p0, "added")):
        s = net.sample(name)
        assert set(zip(s.seller_id, s.buyer_id, strict=True)) == base and len(s) == len(base)
        got = set(zip(s.seller_id[s.y == 1], s.buyer_id[s.y == 1], strict=True))
        assert got == base - other and (s.status[s.y == 1] == status).all()
    emp = net.firms(2005).employees.reindex(s.seller_id).astype(float)
    mean = emp.groupby(s.buyer_id.to_numpy()).transform("mean")
    np.testing.assert_allclose(net.sample("eq16_add").rel_emp, np.log(emp / mean).to_numpy(), rtol=1e-12)
    ind = net.firms(2005).jsic3
    mfg3 = set(st.chars.index)
    i0 = {(b, ind[s]) for s, b in p0 if ind[s] in mfg3}
    i1 = {(b, ind[s]) for s, b in p1 if ind[s] in mfg3}
    d9 = net.sample("eq19", kind="drop")
    assert set(zip(d9.buyer_id, d9.ind, strict=True)) == i0 and len(d9) == len(i0)
    assert set(zip(d9.buyer_id[d9.y == 1], d9.ind[d9.y == 1], strict=True)) == i0 - i1
    a9 = net.sample("eq19", kind="add")  # every buyer × industry except the dropped ones; y: newly sourced
    assert len(a9) == len(buyers) * len(mfg3) - len(i0 - i1)
    assert set(zip(a9.buyer_id[a9.y == 1], a9.ind[a9.y == 1], strict=True)) == i1 - i0
    t3 = net.sample("table_3")  # eq. (1): buyers; sellers under 5 employees (in that vintage) not counted
    assert set(t3.index) == buyers and len(t3) == len(buyers)
    emp = {y: net.firms(y).employees.astype(float).fillna(0).to_dict() for y in (2005, 2010)}
    n = {y: pd.Series([b for s, b in p if emp[y].get(s, 0) >= 5], dtype=object).value_counts()
         for y, p in ((2005, p0), (2010, p1))}
    want = np.log(n[2010].reindex(t3.index)) - np.log(n[2005].reindex(t3.index))
    pd.testing.assert_series_equal(t3.d_log_sellers, want.astype(float), check_names=False, rtol=1e-12)
    only = net.sample("table_7", characteristic="emp")
    assert {"rel_emp", "D_emp", "Z_emp"} <= set(only.columns) and "rel_sales" not in only.columns
    assert len(only) == len(p0)


def test_run_all_returns_the_exhibits(net, tmp_path):
    """``net.run_all`` holds the exhibits the files were written from; ``analytics.run_all`` still returns the
    summary dict alone."""
    import json

    res = net.run_all(tmp_path, only=["table_6", "table_7", "figure_1"], quiet=True)
    assert list(res) == ["figure_1", "table_6", "table_7"]
    written = json.loads((tmp_path / "summary.json").read_text())
    assert res.summary["errors"] == written["errors"] and set(res.summary["exhibits"]) == set(written["exhibits"])
    assert res.report.exists() and res.figures["figure_1"].exists()
    t7, mine = res["table_7"], net.table("table_7")
    for label, f in mine.reg.columns.items():
        g = t7.reg.columns[label]
        assert (f is None) == (g is None)
        if f is not None:
            np.testing.assert_allclose(g.coef, f.coef, rtol=1e-12)
    csv = pd.read_csv(tmp_path / "tables" / "table_7.csv")
    assert len(csv) == len(t7.tidy()) and (csv.term == t7.tidy().term).all()
    if net.kind == "fixture":
        assert res.errors == {"table_6": res.summary["exhibits"]["table_6"]["error"]}
        assert res.errors["table_6"].startswith("not estimable: no imports by product sector")
    else:
        assert res.errors == {} and res.summary["errors"] == []
    with pytest.raises(KeyError, match="no exhibit 'table_9'"):
        res["table_9"]
    assert len(net.query("top_buyers", year=2010, limit=3)) == 3  # the store reopens after the run
