"""The link-formation sampler draws source prefectures by eq. (15) at the prefecture level: for a buyer in
prefecture h, P(r) ∝ S_sr d(h, r)^(−decay_s), whatever the municipalities inside r (hand-built world)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from etl.synth.network import GravityWorld


def _world(rng: np.random.Generator) -> tuple[GravityWorld, np.ndarray, np.ndarray]:
    """Three prefectures on a line (0, 100, 300 km), two municipalities each, two industries; firms with
    random attractiveness; one buyer firm per municipality in industry 1 buying only industry 0."""
    x = np.array([0.0, 5.0, 100.0, 104.0, 300.0, 310.0])  # municipality positions (km)
    muni_pref = np.array([0, 0, 1, 1, 2, 2])
    muni_dist = np.maximum(np.abs(x[:, None] - x[None, :]), 2.0)
    cap = np.array([0.0, 100.0, 300.0])
    pref_dist = np.abs(cap[:, None] - cap[None, :]) + np.diag([8.0, 8.0, 8.0])
    n_sellers = 60
    firm_muni = np.r_[rng.integers(0, 6, n_sellers), np.arange(6)]
    firm_ind = np.r_[np.zeros(n_sellers, int), np.ones(6, int)]
    attract = np.r_[rng.pareto(1.0, n_sellers) + 1, np.ones(6)]
    io_cum = np.array([[1.0, 1.0], [1.0, 1.0]])
    decay = np.array([1.6, 1.0])
    gw = GravityWorld(firm_ind, firm_muni, attract, muni_dist, muni_pref, pref_dist, decay, io_cum)
    S = np.bincount(muni_pref[firm_muni[:n_sellers]], weights=attract[:n_sellers], minlength=3)
    return gw, S, pref_dist ** (-decay[0])


def test_prefecture_shares_follow_eq15():
    rng = np.random.default_rng(3)
    gw, S, kern = _world(rng)
    n_draw = 40_000
    for buyer in range(60, 66):  # the six buyer firms, two per prefecture
        sellers = gw.sample(np.full(n_draw, buyer), rng)
        pref = gw.muni_pref[gw.firm_muni[sellers]]
        h = gw.muni_pref[gw.firm_muni[buyer]]
        expected = S * kern[h] / (S * kern[h]).sum()
        observed = np.bincount(pref, minlength=3)
        assert stats.chisquare(observed, expected * n_draw).pvalue > 1e-4, (buyer, observed, expected * n_draw)


def test_municipality_inside_prefecture_by_local_gravity():
    """Inside the drawn prefecture: P(m | r) ∝ supply_m × d(buyer's municipality, m)^(−decay_s)."""
    rng = np.random.default_rng(4)
    gw, _, _ = _world(rng)
    sup = np.bincount(gw.firm_muni[:60], weights=gw.attract[:60], minlength=6)
    for buyer in (60, 61, 62, 63):
        sellers = gw.sample(np.full(40_000, buyer), rng)
        m = gw.firm_muni[sellers]
        for r in range(3):
            cols = np.flatnonzero(gw.muni_pref == r)
            w = sup[cols] * gw.muni_dist[gw.firm_muni[buyer], cols] ** (-gw.decay[0])
            obs = np.array([(m == c).sum() for c in cols])
            assert stats.chisquare(obs, w / w.sum() * obs.sum()).pvalue > 1e-4, (buyer, r, obs, w)


def test_threaded_sampling_draws_as_the_sequential_one(monkeypatch):
    """Large calls sample the industries on two threads from uniforms drawn up front: the same sellers
    and the same generator state after the call as sampling them one by one."""
    import etl.synth.network as nw

    w, _, _ = _world(np.random.default_rng(5))
    attract = np.where(w.firm_ind3 == 1, 0.0, w.attract)  # industry 1 without supply
    gw = GravityWorld(w.firm_ind3, w.firm_muni, attract, w.muni_dist, w.muni_pref, w.pref_dist, w.decay,
                      np.array([[0.5, 1.0], [0.7, 1.0]]))  # both industries drawn
    buyers = np.random.default_rng(6).integers(0, 66, 30_000)
    got = {}
    for threshold in (0, 10**9):
        monkeypatch.setattr(nw, "PARALLEL_DRAWS", threshold)
        rng = np.random.default_rng(7)
        got[threshold] = gw.sample(buyers, rng), rng.random()
    assert np.array_equal(got[0][0], got[10**9][0]) and got[0][1] == got[10**9][1]
    assert (got[0][0] == -1).any() and (got[0][0] >= 0).any()
