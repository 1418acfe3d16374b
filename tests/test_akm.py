"""AKM / AKM0 shift-share inference (Adão, Kolesár and Morales 2019) on the ADH (2013) data shipped with
the reference implementation (R package ShiftShareSE): column (1) of AKM's Table V (first stage, reduced
form and 2SLS of the change in the employment share on import exposure, weighted, with controls),
against the package's published figures, and EHW / region-clustered SEs against linearmodels."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from linearmodels.iv import IV2SLS

from analytics.econometrics import akm

ADH = Path(__file__).parent / "data" / "adh"
CONTROLS = ["t2", "l_shind_manuf_cbp", "l_sh_popedu_c", "l_sh_popfborn", "l_sh_empl_f", "l_sh_routine33",
            "l_task_outsource"]


@pytest.fixture(scope="module")
def adh():
    d = pd.read_csv(ADH / "reg.csv")
    W = pd.read_parquet(ADH / "W.parquet").to_numpy()
    sic = pd.read_csv(ADH / "sic.csv").sic.to_numpy()
    Z = np.column_stack([np.ones(len(d)), d[CONTROLS].to_numpy(),
                         pd.get_dummies(d.division, drop_first=True).to_numpy(float)])
    return d, W, sic, Z


def _kw(adh, sector):
    d, W, sic, Z = adh
    return dict(shares=W, controls=Z, weights=d.weights.to_numpy(), region_clusters=d.statefip.to_numpy(),
                sector_clusters=None if sector is None else (sic // 10 if sector == 3 else sic))


def test_published_vignette_figures(adh):
    """ShiftShareSE vignette (version 1.1.0), first stage and 2SLS of AKM Table V column (1), sector
    clusters = 3-digit SIC; figures as printed (7 significant digits)."""
    d = adh[0]
    fs = akm.ss_ols(d.shock, d.IV, **_kw(adh, 3))
    assert fs.beta == pytest.approx(0.6310409, abs=5e-8)
    for m, v in {"homoskedastic": 0.02732516, "ehw": 0.08700719, "region_cluster": 0.09142372,
                 "akm": 0.05296055}.items():
        assert fs.se[m] == pytest.approx(v, rel=1e-6)
    assert fs.ci_low["akm"] == pytest.approx(0.5272402, rel=1e-6)
    assert (fs.ci_low["ehw"], fs.ci_high["ehw"]) == pytest.approx((0.4605100, 0.8015719), rel=1e-6)
    iv = akm.ss_iv(d.d_sh_empl, d.shock, d.IV, **_kw(adh, 3))
    assert iv.beta == pytest.approx(-0.7742267, rel=1e-6)
    assert iv.se["ehw"] == pytest.approx(0.1647892, rel=1e-6)


# The package's own test suite (tests/testthat/test_se.R), full precision: shares completed by the residual
# sector 1 − Σ_s w_is; sector clusters none ("a"), 3-digit SIC ("c") and 4-digit SIC ("c45").
# (lower, upper) of the 95% AKM and AKM0 intervals.
PUBLISHED = {
    ("fs", None): {"akm": (0.493624884787726, 0.768456991583788), "akm0": (0.52121433426454, 0.89616408526085)},
    ("fs", 3): {"akm": (0.527427476422162, 0.734654399949352), "akm0": (0.537540779056916, 0.837791645754481)},
    ("rf", None): {"akm": (-0.797658160917427, -0.179479273328377), "akm0": (-1.10172812169929, -0.248312181652566)},
    ("rf", 3): {"akm": (-0.813632317601625, -0.163505116644179), "akm0": (-1.24990650017766, -0.238657191113524)},
    ("iv", None): {"akm": (-1.19566933629636, -0.352783981257112), "akm0": (-1.41976305923031, -0.412527307627578)},
    ("iv", 4): {"akm": (-1.19978482171306, -0.348668495840406), "akm0": (-1.47638570382798, -0.418641064338139)},
    ("iv", 3): {"akm": (-1.25393055741664, -0.294522760136827), "akm0": (-1.71727689062525, -0.385713006721926)},
}
P_AKM0 = {("rf", None): 0.0109671394048494e-2, ("rf", 3): 0.0395206084935484e-2,
          ("iv", None): 0.0109671394048494e-2, ("iv", 3): 0.0395206084935484e-2, ("fs", 3): 0.131003064802671e-2}


@pytest.mark.parametrize("key", list(PUBLISHED))
def test_akm_akm0_match_reference_implementation(adh, key):
    d = adh[0]
    what, sector = key
    kw = _kw(adh, sector) | {"residual_sector": True}
    r = (akm.ss_iv(d.d_sh_empl, d.shock, d.IV, **kw) if what == "iv" else
         akm.ss_ols(d.shock if what == "fs" else d.d_sh_empl, d.IV, **kw))
    for m, (lo, hi) in PUBLISHED[key].items():
        assert (r.ci_low[m], r.ci_high[m]) == pytest.approx((lo, hi), rel=1e-6)
    if key in P_AKM0:
        assert r.p["akm0"] == pytest.approx(P_AKM0[key], rel=1e-6)


def test_rf_and_iv_akm0_tests_coincide(adh):
    """Under the null β = 0 the AKM0 tests of the reduced form and the 2SLS are the same test."""
    d = adh[0]
    rf = akm.ss_ols(d.d_sh_empl, d.IV, **_kw(adh, 3))
    iv = akm.ss_iv(d.d_sh_empl, d.shock, d.IV, **_kw(adh, 3))
    assert rf.p["akm0"] == pytest.approx(iv.p["akm0"], rel=1e-10)
    assert iv.ci_low["akm0"] < iv.ci_low["akm"] < iv.beta < iv.ci_high["akm"]


def test_ehw_and_region_clusters_match_linearmodels(adh):
    d, _, _, Z = adh
    exog = pd.DataFrame(Z, columns=[f"c{i}" for i in range(Z.shape[1])])
    kw = _kw(adh, 3)
    iv = akm.ss_iv(d.d_sh_empl, d.shock, d.IV, **kw)
    m = IV2SLS(d.d_sh_empl, exog, d[["shock"]], d[["IV"]], weights=d.weights)
    assert m.fit(cov_type="robust").std_errors["shock"] == pytest.approx(iv.se["ehw"], rel=1e-8)
    cl = m.fit(cov_type="clustered", clusters=d.statefip).std_errors["shock"]
    assert cl == pytest.approx(iv.se["region_cluster"], rel=1e-8)  # both without small-sample factor
    fs = akm.ss_ols(d.shock, d.IV, **kw)
    ols = IV2SLS(d.shock, pd.concat([d[["IV"]], exog], axis=1), None, None, weights=d.weights)
    assert ols.fit(cov_type="robust", debiased=True).std_errors["IV"] == pytest.approx(fs.se["ehw"], rel=1e-8)
    lm_cl = ols.fit(cov_type="clustered", clusters=d.statefip, debiased=True).std_errors["IV"]
    assert lm_cl == pytest.approx(fs.se["region_cluster"], rel=1e-8)


def test_akm_of_shocks_that_explain_nothing_is_near_zero_meat():
    """Hand-checkable: residuals orthogonal to every share column give AKM SE 0 (no shock-level variation)."""
    rng = np.random.default_rng(0)
    n, S = 40, 5
    W = rng.dirichlet(np.ones(S), n)
    x = W @ rng.normal(size=S)
    y = 2.0 * x + 0.0
    r = akm.ss_ols(y, x, W, controls=np.ones((n, 1)))
    assert r.beta == pytest.approx(2.0)
    assert r.se["akm"] == pytest.approx(0.0, abs=1e-10)


# ---------------------------------------------------------------- feiv(vcov=ShiftShareVcov)

def _pairs(seed: int = 3, n_units: int = 120, S: int = 30):
    """Buyer–seller style rows written here: units (buyers) with binary exposure to S shocks, several rows
    per unit, a unit-level endogenous variable driven by the shift-share instrument, a row-level
    characteristic r interacted with both, one FE set."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    phi = (rng.random((n_units, S)) < 0.2).astype(float)
    shocks = rng.normal(size=S)
    z_unit = phi @ shocks
    rows = rng.integers(3, 9, n_units)
    unit = np.repeat(np.arange(n_units), rows)
    n = len(unit)
    d_unit = (0.6 * z_unit + rng.normal(size=n_units) > 0).astype(float)
    r = rng.normal(size=n)
    df = pd.DataFrame({"unit": unit, "r": r, "shock": z_unit[unit], "D": d_unit[unit],
                       "fe": rng.integers(0, 4, n), "w": rng.normal(size=n)})
    df["D_r"], df["Z_r"] = df.D * df.r, df.shock * df.r
    df["y"] = 0.3 * df.D - 0.2 * df.D_r + 0.1 * df.r + 0.2 * df.w + rng.normal(size=n) + 0.5 * np.repeat(
        rng.normal(size=n_units), rows)
    clusters = np.arange(S) // 3
    ss = akm.ShiftShareVcov(sp.csr_matrix(phi), pd.Index(range(n_units)), "unit", {"shock": None, "Z_r": "r"},
                            clusters)
    return df, phi, clusters, ss


def test_feiv_akm_one_instrument_equals_ivreg_ss():
    """feiv's AKM / AKM0 with FE and a control equal ss_iv with the FE as dummies and dense shares."""
    from analytics.econometrics.iv import feiv

    df, phi, clusters, ss = _pairs()
    fit = feiv("y ~ w | fe | D ~ shock", df, vcov=ss)
    ctrl = np.column_stack([np.ones(len(df)), df.w, pd.get_dummies(df.fe, drop_first=True).to_numpy(float)])
    ref = akm.ss_iv(df.y, df.D, df.shock, phi[df.unit.to_numpy()], controls=ctrl, sector_clusters=clusters)
    assert fit.coef["D"] == pytest.approx(ref.beta, rel=1e-10)
    assert fit.se["D"] == pytest.approx(ref.se["akm"], rel=1e-8)
    assert np.isnan(fit.se["w"])
    a0 = fit.extra["akm0"]
    assert (a0["conf_low"], a0["conf_high"]) == pytest.approx((ref.ci_low["akm0"], ref.ci_high["akm0"]), rel=1e-8)
    assert a0["p_value"] == pytest.approx(ref.p["akm0"], rel=1e-8)
    fs = akm.ss_ols(df.D, df.shock, phi[df.unit.to_numpy()], controls=ctrl, sector_clusters=clusters)
    assert fit.first_stages["D"].se["shock"] == pytest.approx(fs.se["akm"], rel=1e-8)
    # one endogenous, one instrument: KP F under AKM is the squared AKM t of the first stage, (N−L)/N-scaled
    n, L = fit.nobs, 1 + 1 + 4
    assert fit.diagnostics["kp_f"] == pytest.approx((fs.beta / fs.se["akm"]) ** 2 * (n - L) / n, rel=1e-8)
    assert fit.tidy().set_index("term").loc["D", "conf_low"] == pytest.approx(ref.ci_low["akm"], rel=1e-8)


def test_feiv_akm_two_instruments_by_hand():
    """Two endogenous (D, D×r), two instruments (shock, shock×r) from one shock vector: V = A M A' with
    M = Σ_c (Σ_{s∈c} 𝒳̂_s R_s)(…)', R_s = (Σ_i W_l,is ε_i)_l, 𝒳̂ from the stacked regression, all
    recomputed here with dense matrices and dummies."""
    from analytics.econometrics.iv import feiv

    df, phi, clusters, ss = _pairs(seed=5)
    fit = feiv("y ~ r | fe | D + D_r ~ shock + Z_r", df, vcov=ss)
    C = np.column_stack([np.ones(len(df)), df.r, pd.get_dummies(df.fe, drop_first=True).to_numpy(float)])

    def part(a):
        return a - C @ np.linalg.lstsq(C, a, rcond=None)[0]

    X, Z, y = part(df[["D", "D_r"]].to_numpy()), part(df[["shock", "Z_r"]].to_numpy()), part(df.y.to_numpy())
    P = Z @ np.linalg.solve(Z.T @ Z, Z.T)
    b = np.linalg.solve(X.T @ P @ X, X.T @ P @ y)
    e = y - X @ b
    W1 = phi[df.unit.to_numpy()]
    W2 = W1 * df.r.to_numpy()[:, None]
    hx = np.linalg.lstsq(np.vstack([W1, W2]), np.concatenate([Z[:, 0], Z[:, 1]]), rcond=None)[0]
    R = np.column_stack([hx * (W1.T @ e), hx * (W2.T @ e)])
    Rc = pd.DataFrame(R).groupby(clusters).sum().to_numpy()
    A = np.linalg.solve(X.T @ P @ X, X.T @ Z @ np.linalg.inv(Z.T @ Z))
    V = A @ Rc.T @ Rc @ A.T
    assert fit.coef[["D", "D_r"]].to_numpy() == pytest.approx(b, rel=1e-9)
    assert fit.se[["D", "D_r"]].to_numpy() == pytest.approx(np.sqrt(np.diag(V)), rel=1e-7)
    assert "akm0" not in fit.extra  # AKM0 only with one endogenous regressor and one instrument
    assert fit.diagnostics["kp_f"] > 0


def test_akm_from_a_shared_design_equals_a_one_off_fit():
    """On one absorbed design the AKM fit starts from the robust fit of the same specification: it equals the
    AKM fit of a one-off design, and the robust fit asked again afterwards is unchanged by it."""
    from analytics.econometrics.design import AbsorbedDesign
    from analytics.econometrics.iv import feiv

    df, _, _, ss = _pairs(seed=7)
    f = "y ~ r | fe | D + D_r ~ shock + Z_r"
    dsg = AbsorbedDesign(df)
    robust = feiv(f, dsg, vcov="robust")
    shared, alone = feiv(f, dsg, vcov=ss), feiv(f, df, vcov=ss)
    again = feiv(f, dsg, vcov="robust")
    for a, b in ((shared, alone), (again, robust)):
        pd.testing.assert_series_equal(a.coef, b.coef)
        pd.testing.assert_series_equal(a.se, b.se)
        assert a.diagnostics == pytest.approx(b.diagnostics, nan_ok=True) and a.flags == b.flags
    assert shared.vcov_type == "akm" and robust.vcov_type == "robust"
    assert not np.allclose(shared.se[["D", "D_r"]], robust.se[["D", "D_r"]])


def test_feiv_akm_rejects_rows_without_shares():
    import scipy.sparse as sp

    from analytics.econometrics.iv import feiv

    df, phi, clusters, _ = _pairs()
    ss = akm.ShiftShareVcov(sp.csr_matrix(phi[:50]), pd.Index(range(50)), "unit", {"shock": None})
    with pytest.raises(ValueError, match="no row in the share matrix"):
        feiv("y ~ w | fe | D ~ shock", df, vcov=ss)
    with pytest.raises(ValueError, match="no share definition"):
        feiv("y ~ w | fe | D + D_r ~ shock + Z_r", df, vcov=ss)
