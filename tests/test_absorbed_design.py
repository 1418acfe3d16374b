"""Many specifications from one absorbed design (``AbsorbedDesign``) give what each fit gives on its own
frame, and what pyfixest gives: on a frame written by hand (missing values in some columns only,
singletons, two FE sets, clustered, robust and iid, 2SLS and no-FE specifications) and on the small
synthetic world's Table 5."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from analytics.econometrics import design as design_mod
from analytics.econometrics.design import AbsorbedDesign, r_factor
from analytics.econometrics.iv import feiv
from analytics.econometrics.vcov import VcovSpec


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """3,000 rows: FE a (60 levels, a few singletons) and g (12), cluster a; x1–x3 correlated regressors,
    x3 missing in 40 rows, y2 infinite in 5; d endogenous with instrument z."""
    rng = np.random.default_rng(11)
    n = 3000
    a = rng.integers(0, 60, n)
    a[:4] = [100, 101, 102, 103]  # four singletons of a
    df = pd.DataFrame({"a": a, "g": rng.integers(0, 12, n)})
    df["x1"] = rng.normal(0, 1, n) + 0.3 * rng.normal(0, 1, 60)[a % 60]
    df["x2"] = 0.8 * df.x1 + rng.normal(0, 0.5, n)
    df["x3"] = np.where(np.arange(n) % 75 == 7, np.nan, df.x1 * df.g / 12 + rng.normal(0, 1, n))
    df["z"] = rng.normal(0, 1, n)
    u = rng.normal(0, 1, n)
    df["d"] = 0.6 * df.z + 0.5 * u + rng.normal(0, 1, n)
    df["y"] = (0.4 * df.x1 - 0.2 * df.x2 + 0.1 * df.x3.fillna(0) + 0.5 * df.d + rng.normal(0, 1, 60)[a % 60]
               + 0.3 * df.g + u)
    df["y2"] = (df.y > df.y.median()).astype(float)
    df.loc[df.index[10:15], "y2"] = np.inf
    return df


SPECS = [
    ("y ~ x1 | a + g", {"CRV1": "a"}),
    ("y ~ x1 + x2 | a + g", {"CRV1": "a"}),
    ("y ~ x1 + x2 + x3 | a + g", {"CRV1": "a"}),  # its own sample: x3 missing
    ("y2 ~ x1 + x2 | a + g", {"CRV1": "a"}),  # its own sample: y2 infinite
    ("y ~ x1 + x2 | a", "hetero"),
    ("y ~ x2 | g", "iid"),
]


def _vcov(v):
    return {"cluster": v["CRV1"]} if isinstance(v, dict) else {"hetero": "robust"}.get(v, v)


def _assert_same(fast, plain, rel=1e-10):
    assert list(fast.coef.index) == list(plain.coef.index)
    np.testing.assert_allclose(fast.coef, plain.coef, rtol=rel, atol=1e-13)
    np.testing.assert_allclose(fast.se, plain.se, rtol=rel, atol=1e-13)
    assert (fast.nobs, fast.k, fast.df_a, fast.dropped) == (plain.nobs, plain.k, plain.df_a, plain.dropped)
    assert fast.r2 == pytest.approx(plain.r2, rel=1e-9, abs=1e-12)
    assert fast.r2_within == pytest.approx(plain.r2_within, rel=1e-9, abs=1e-12)


def test_specifications_from_one_design_equal_separate_fits_and_pyfixest(frame, monkeypatch):
    calls = []
    real = design_mod.demean
    monkeypatch.setattr(design_mod, "demean", lambda x, ab, w=None: calls.append(x.shape[1]) or real(x, ab, w))
    monkeypatch.setattr(design_mod, "DEMEAN_COLUMNS", 100)  # one call per block of columns
    dsg = AbsorbedDesign(frame, ["y", "y2", "x1", "x2", "x3"])
    fast = {f: feiv(f, dsg, vcov=_vcov(v)) for f, v in SPECS}
    # one demeaning call per sample: (a + g) complete in x3 and y2, without x3's rows, without y2's rows; a; g
    assert len(calls) == 5
    assert calls[0] == 3  # y, x1 and the other columns complete on this sample (x2); y2, x3 are not
    for f, v in SPECS:
        plain = feiv(f, frame, vcov=_vcov(v))
        _assert_same(fast[f], plain)
        pfit = pf.feols(f, frame.replace([np.inf, -np.inf], np.nan), vcov=v, fixef_rm="singleton")
        np.testing.assert_allclose(fast[f].coef, pfit.coef().to_numpy(), rtol=1e-7)
        np.testing.assert_allclose(fast[f].se, pfit.se().to_numpy(), rtol=1e-6)
        assert fast[f].nobs == pfit._N
    assert fast["y ~ x1 + x2 + x3 | a + g"].dropped["missing values"] == 40
    assert fast["y2 ~ x1 + x2 | a + g"].dropped["missing values"] == 5
    assert fast["y ~ x1 | a + g"].dropped["singletons"] == 4


def test_one_demeaning_for_the_same_rows_under_other_clusters(frame, monkeypatch):
    """Robust, clustered (FE a nested in the cluster a: fewer absorbed df) and iid fits of one specification
    share one demeaning and each equals its separate fit, nesting and first-stage statistics included."""
    calls = []
    real = design_mod.demean
    monkeypatch.setattr(design_mod, "demean", lambda x, ab, w=None: calls.append(x.shape[1]) or real(x, ab, w))
    monkeypatch.setattr(design_mod, "DEMEAN_COLUMNS", 100)
    dsg = AbsorbedDesign(frame, ["y", "x1", "x2", "d", "z"])
    f = "y ~ x1 | a + g | d ~ z"
    fast = {str(v): feiv(f, dsg, vcov=v) for v in ("robust", {"cluster": "a"}, "iid", {"cluster": "g"})}
    assert len(calls) == 1
    assert fast[str({"cluster": "a"})].df_a < fast["robust"].df_a  # a nested in the cluster: not counted
    for v in ("robust", {"cluster": "a"}, "iid", {"cluster": "g"}):
        plain = feiv(f, frame, vcov=v)
        _assert_same(fast[str(v)], plain)
        for k, val in plain.diagnostics.items():
            assert fast[str(v)].diagnostics[k] == pytest.approx(val, rel=1e-8, nan_ok=True), (v, k)


def test_demeaning_a_few_columns_at_a_time_changes_no_bit(frame, monkeypatch):
    """The design demeans its columns in blocks of ``DEMEAN_COLUMNS`` (smaller temporaries); every column
    converges on its own, so one column at a time gives exactly the values of all at once."""
    f = "y ~ x1 + x2 | a + g | d ~ z"
    fits = {}
    for k in (1, 100):
        monkeypatch.setattr(design_mod, "DEMEAN_COLUMNS", k)
        dsg = AbsorbedDesign(frame, ["y", "x1", "x2", "d", "z"])
        fits[k] = (feiv(f, dsg, vcov={"cluster": "a"}), dsg.sample(["y", "x1", "x2", "d", "z"], ["a", "g"],
                                                                   VcovSpec.parse({"cluster": "a"})))
    (one, s1), (all_, s100) = fits[1], fits[100]
    assert np.array_equal(s1.w(["y", "x1", "x2", "d", "z"]), s100.w(["y", "x1", "x2", "d", "z"]))
    assert one.coef.equals(all_.coef) and one.se.equals(all_.se) and one.diagnostics == all_.diagnostics


def test_no_fe_and_2sls_from_a_design_equal_separate_fits(frame):
    dsg = AbsorbedDesign(frame, ["y", "x1", "x2", "d", "z"])
    for f in ("y ~ x1 + x2", "y ~ x1 | a + g | d ~ z", "y ~ x1 + x2 | d ~ z"):
        fast, plain = feiv(f, dsg, vcov={"cluster": "a"}), feiv(f, frame, vcov={"cluster": "a"})
        _assert_same(fast, plain)
        assert fast.diagnostics.keys() == plain.diagnostics.keys()
        for k, v in plain.diagnostics.items():
            assert fast.diagnostics[k] == pytest.approx(v, rel=1e-8, nan_ok=True), (f, k)
    assert list(feiv("y ~ x1 + x2", dsg).coef.index) == ["x1", "x2", "_cons"]


def test_design_drops_absorbed_and_collinear_columns_as_a_single_fit(frame):
    df = frame.assign(g_level=frame.g * 2.5, x12=frame.x1 + frame.x2)
    dsg = AbsorbedDesign(df, ["y", "x1", "x2", "x12", "g_level"])
    with pytest.warns(UserWarning, match="g_level"):
        fast = feiv("y ~ x1 + g_level | a + g", dsg)
    with pytest.warns(UserWarning, match="x12"):
        col = feiv("y ~ x1 + x2 + x12 | a + g", dsg)
    assert fast.dropped_collinear == ["g_level"] and col.dropped_collinear == ["x12"]
    with pytest.warns(UserWarning, match="x12"):
        _assert_same(col, feiv("y ~ x1 + x2 + x12 | a + g", df))


def test_blocked_r_factor_has_the_cross_products(monkeypatch):
    rng = np.random.default_rng(0)
    m = rng.normal(0, 1, (10_000, 4)) * [1, 10, 1e-3, 5]
    monkeypatch.setattr(design_mod, "QR_BLOCK", 700)
    r = r_factor(m)
    np.testing.assert_allclose(r.T @ r, m.T @ m, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(np.abs(np.diag(r)), np.abs(np.diag(np.linalg.qr(m, mode="r"))), rtol=1e-12)


@pytest.fixture(scope="module")
def study(cache, embedded_store):
    from analytics.study import build

    return build(cache, embedded_store)


def test_small_world_table_5_equals_separate_fits_and_pyfixest(study):
    from analytics.regressions import incidence_frame, table_5, table_5_specs

    d = incidence_frame(study)
    fits = table_5(study).reg.columns
    assert list(fits) == [label for label, _, _ in table_5_specs()]
    for label, rhs, fe in table_5_specs():
        formula = f"y ~ {' + '.join(rhs)} | {' + '.join(fe)}"
        _assert_same(fits[label], feiv(formula, d, vcov={"cluster": "buyer"}))
        if label.endswith("(3)"):
            p = pf.feols(formula, d, vcov={"CRV1": "buyer"}, fixef_rm="singleton")
            np.testing.assert_allclose(fits[label].coef, p.coef().to_numpy(), rtol=1e-7)
            np.testing.assert_allclose(fits[label].se, p.se().to_numpy(), rtol=1e-6)
