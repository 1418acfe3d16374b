"""Network features against independent computations (plain pandas loops, networkx, the powerlaw
package, igraph's power_law_fit) and against the generator's planted degree exponent."""

from __future__ import annotations

import igraph as ig
import networkx as nx
import numpy as np
import pandas as pd
import powerlaw
import pytest

from analytics import network as nw
from analytics import power_law as pl


def test_ccdf_against_counting(links):
    k = nw.degrees(links[2005])
    c = nw.ccdf(k.to_numpy())
    for kk in (1, 2, 5, 20):
        row = c[c.k >= kk].iloc[0]
        assert row.share_ge == pytest.approx((k >= row.k).mean())
    assert c.share_ge.iloc[0] == 1.0 and c.share_ge.is_monotonic_decreasing


def test_add_drop_against_set_algebra(links):
    pairs = nw.add_drop_pairs(links[2005], links[2010])
    s05 = set(zip(links[2005].seller_id, links[2005].buyer_id, strict=True))
    s10 = set(zip(links[2010].seller_id, links[2010].buyer_id, strict=True))
    got = {s: set(zip(g.seller_id, g.buyer_id, strict=True)) for s, g in pairs.groupby("status")}
    assert got["continuing"] == s05 & s10 and got["dropped"] == s05 - s10 and got["added"] == s10 - s05
    by = nw.add_drop_by_buyer(pairs)
    b = links[2005].buyer_id.iloc[0]
    assert by.loc[b, "sellers_from"] == (links[2005].buyer_id == b).sum()
    assert by.loc[b, "dropped"] == sum(1 for (s, bb) in s05 - s10 if bb == b)


def test_industry_add_drop(links, firms):
    pairs = nw.add_drop_pairs(links[2005], links[2010])
    ind = nw.add_drop_by_industry(pairs, firms).set_index(["buyer_id", "ind"])
    b = pairs.buyer_id.value_counts().index[0]
    i05 = set(firms.jsic3.reindex(links[2005].seller_id[links[2005].buyer_id == b]))
    i10 = set(firms.jsic3.reindex(links[2010].seller_id[links[2010].buyer_id == b]))
    sub = ind.loc[b]
    assert set(sub.index[sub.added]) == i10 - i05 and set(sub.index[sub.dropped]) == i05 - i10


def test_distance_metrics_by_loop(links):
    d = nw.distance_by_buyer(links[2005], links[2010]).dropna()
    b = d.index[0]
    x05 = links[2005].dist_km[links[2005].buyer_id == b].to_numpy()
    x10 = links[2010].dist_km[links[2010].buyer_id == b].to_numpy()
    assert d.loc[b, "mean_km_from"] == pytest.approx(x05.mean())
    assert d.loc[b, "median_km_to"] == pytest.approx(np.median(x10))
    assert d.loc[b, "dhs_mean_km"] == pytest.approx((x10.mean() - x05.mean()) / ((x10.mean() + x05.mean()) / 2))
    assert d.dhs_mean_km.between(-2, 2).all()
    pairs = nw.add_drop_pairs(links[2005], links[2010])
    avd = nw.add_vs_drop_distance(pairs)
    bb = avd.index[0]
    p = pairs[pairs.buyer_id == bb]
    a, dr = p.dist_km[p.status == "added"].mean(), p.dist_km[p.status == "dropped"].mean()
    assert avd[bb] == pytest.approx((a - dr) / ((a + dr) / 2))
    curve = nw.distance_link_curve(links[2005])
    assert curve.links.sum() == links[2005].dist_km.notna().sum()
    assert curve.links.iloc[:3].sum() == (links[2005].dist_km < 25).sum()


def test_sourcing_scope(links, firms):
    s = nw.sourcing_scope(links[2010], firms)
    b = s.sellers.idxmax()
    sel = firms.reindex(links[2010].seller_id[links[2010].buyer_id == b])
    assert s.loc[b].tolist() == [len(sel), sel.jsic3.nunique(), sel.jsic4.nunique(), sel.pref.nunique()]


def test_assortativity_against_networkx(links):
    l = links[2010]
    a = nw.assortativity(l)
    g = nx.DiGraph(list(zip(l.seller_id, l.buyer_id, strict=True)))
    r = nx.degree_pearson_correlation_coefficient(g, x="out", y="in")
    assert a["newman_r"] == pytest.approx(r, abs=1e-9)
    kin = dict(g.in_degree())
    kout = dict(g.out_degree())
    buyers = [v for v in g if kin[v] > 0]
    mean_partner = [np.mean([kout[s] for s in g.predecessors(v)]) for v in buyers]
    slope = np.polyfit(np.log([kin[v] for v in buyers]), np.log(mean_partner), 1)[0]
    assert a["slope_buyers"] == pytest.approx(slope, rel=1e-9)


def test_reach_and_components_against_networkx(links):
    l = links[2010]
    g = nw.graph(l)
    G = nx.DiGraph(list(zip(l.seller_id, l.buyer_id, strict=True)))
    hub = l.buyer_id.value_counts().index[0]
    exp = set(nx.single_source_shortest_path_length(G.reverse(), hub, cutoff=2)) - {hub}
    assert nw.reach(g, hub, 2, "upstream") == exp
    c = nw.components(l)
    assert c["weak_components"] == nx.number_weakly_connected_components(G)
    assert c["largest_strong"] == max(len(x) for x in nx.strongly_connected_components(G))


def test_power_law_fit_against_powerlaw_and_igraph(links):
    k = nw.degrees(links[2010]).to_numpy()
    f = pl.fit(k)
    ref = powerlaw.Fit(k, discrete=True, verbose=False)
    assert f.xmin == ref.xmin and f.alpha == pytest.approx(ref.alpha, abs=1e-4)
    r = ig.statistics.power_law_fit(k, method="discrete")
    assert f.alpha == pytest.approx(r.alpha, abs=1e-4) and f.xmin == r.xmin
    # lognormal comparison as the powerlaw package computes it
    R, p = ref.distribution_compare("power_law", "lognormal", normalized_ratio=True)
    pl.compare(k, f)
    assert f.lr_lognormal[0] == pytest.approx(R, abs=0.02)


def test_power_law_recovers_a_planted_exponent():
    rng = np.random.default_rng(3)
    x = np.concatenate([pl.sample(30_000, 2.35, 4, rng), rng.integers(1, 4, 20_000)])
    f = pl.fit_full(x, n_boot=25, seed=1)
    assert f.xmin == 4 and abs(f.alpha - 2.35) < 3 * f.alpha_se
    assert f.gof_p > 0.1  # a true power law is not rejected
    y = np.round(rng.lognormal(1.0, 0.6, 30_000)).astype(int) + 1
    assert pl.fit_full(y, n_boot=25, seed=1, min_tail=200).gof_p < 0.1  # a lognormal body is


def _coded(links: dict, ids) -> dict:
    code = {i: k for k, i in enumerate(sorted(ids))}
    return {y: l.assign(s=l.seller_id.map(code).astype("int64"), b=l.buyer_id.map(code).astype("int64"))
            for y, l in links.items()}


def test_add_drop_on_integer_codes_equals_string_match():
    """Hand-made links with ids of other styles (letters, leading zeros, unequal lengths): the coded path
    (integer firm codes in the order of the ids) gives the string merge's rows, statuses and order."""
    rng = np.random.default_rng(3)
    ids = np.array([f"{p}{i}" for p, i in zip(rng.choice(["0", "A-", "z", ""], 60), rng.integers(1, 999, 60),
                                              strict=True)])
    ids = np.unique(ids)
    links = {}
    for y in (2005, 2010):
        pairs = {(s, b) for s, b in zip(rng.choice(ids, 300), rng.choice(ids, 300), strict=True) if s != b}
        s, b = zip(*sorted(pairs, key=lambda _: rng.random()), strict=True)
        links[y] = pd.DataFrame({"seller_id": s, "buyer_id": b, "dist_km": rng.uniform(1, 900, len(s))})
    links[2010] = pd.concat([links[2010], links[2005].sample(80, random_state=1)]).drop_duplicates(
        ["seller_id", "buyer_id"])
    by_string = nw.add_drop_pairs(links[2005], links[2010])
    c = _coded(links, ids)
    by_code = nw.add_drop_pairs(c[2005], c[2010])
    assert (by_string.status == "continuing").sum() >= 80
    pd.testing.assert_frame_equal(by_code.drop(columns=["s", "b"]), by_string)
    empty = nw.add_drop_pairs(c[2005].iloc[:0], c[2010])
    assert set(empty.status) == {"added"} and len(empty) == len(c[2010])
