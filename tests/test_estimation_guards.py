"""Estimators refuse problems they cannot estimate, with an error naming the cause, before any compiled
code runs (pyfixest's demeaning aborts the process on an empty frame), and warn about what they drop."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from analytics.econometrics.iv import feiv
from analytics.econometrics.ols import feols
from analytics.econometrics.result import EstimationError, EstimationWarning
from analytics.econometrics.tables import Table


@pytest.fixture(scope="module")
def panel():
    """2,000 rows, FE a (40 levels) and b (25 levels), cluster cl (200); d endogenous, z1 z2 instruments."""
    rng = np.random.default_rng(3)
    n = 2000
    df = pd.DataFrame({"a": rng.integers(0, 40, n), "b": rng.integers(0, 25, n), "cl": rng.integers(0, 200, n)})
    u = rng.normal(0, 1, n)
    df["z1"], df["z2"], df["x"] = rng.normal(0, 1, (3, n))
    df["d"] = 0.7 * df.z1 + 0.5 * df.z2 + u + rng.normal(0, 1, n)
    df["d2"] = 0.5 * df.z1 - 0.6 * df.z2 + rng.normal(0, 1, n)
    df["y"] = 0.5 * df.d + 0.3 * df.x + rng.normal(0, 1, 40)[df.a] + u + rng.normal(0, 1, n)
    df["b_level"] = rng.normal(0, 100, 25)[df.b]  # constant within b: absorbed by the b FE
    return df


def test_all_singletons_is_an_error_not_an_abort():
    df = pd.DataFrame({"y": [1.0, 2.0, 3.0], "x": [0.5, 0.1, 0.3], "d": [1.0, 0.0, 2.0], "z": [0.2, 0.4, 0.1],
                       "g": [1, 2, 3]})
    with pytest.raises(EstimationError, match="0 rows after dropping 3 singletons"):
        feiv("y ~ x | g | d ~ z", df)
    with pytest.raises(EstimationError, match="0 rows after dropping 3 singletons"):
        feols("y", ["x"], df, ["g"])


def test_all_missing_is_an_error_naming_the_column():
    df = pd.DataFrame({"y": [np.nan] * 4, "x": [1.0, 2, 3, 4], "g": [1, 1, 2, 2]})
    with pytest.raises(EstimationError, match=r"0 rows left of 4 .*missing .*y \(4\)"):
        feiv("y ~ x | g", df)
    with pytest.raises(EstimationError, match="0 rows left of 4"):
        feols("y", ["x"], df, ["g"])


def test_fewer_rows_than_parameters():
    # two rows survive (one FE level with two rows): 1 regressor + 1 absorbed level = 2 parameters
    df = pd.DataFrame({"y": [1.0, 2.0, 3.0], "x": [0.3, 0.1, 0.7], "g": [1, 1, 2]})
    with pytest.raises(EstimationError, match=r"2 rows for 2 parameters .*1 singletons"):
        feiv("y ~ x | g", df)
    with pytest.raises(EstimationError, match="2 rows for 2 parameters"):
        feols("y", ["x"], df, ["g"])


def test_dropped_rows_are_counted_with_their_reason(panel):
    df = panel.copy()
    df.loc[[0, 1, 2], "y"] = np.nan
    df.loc[3, "x"] = np.inf
    df.loc[4, "a"] = None
    df = pd.concat([df, pd.DataFrame({"a": [99], "b": [0], "cl": [0], "y": [1.0], "x": [0.0], "d": [0.0],
                                      "z1": [0.0], "z2": [0.0], "d2": [0.0], "b_level": [0.0]})],
                   ignore_index=True)  # a singleton in a
    f = feiv("y ~ x | a + b | d ~ z1 + z2", df, vcov={"cluster": "cl"})
    assert f.dropped == {"missing values": 5, "singletons": 1}
    assert f.n_input == len(df) and f.nobs == len(df) - 6
    assert f.summary_stats()["dropped_missing"] == 5
    assert "6 rows dropped: 5 with missing values, 1 singletons" in f.summary()
    assert f.tidy().attrs["dropped"] == {"missing values": 5, "singletons": 1}
    o = feols("y", ["x", "d"], df, ["a", "b"])
    assert o.dropped == {"missing values": 5, "singletons": 1} and o.nobs == f.nobs
    t = Table("X", "t", {"IV": f, "OLS": o}, {"d": "d"})
    assert "| Rows dropped: missing values | 5 | 5 |" in t.markdown()
    assert "| Rows dropped: singletons | 1 | 1 |" in t.markdown()
    tidy = t.tidy()
    assert tidy.loc[tidy.term == "dropped_singletons", "estimate"].tolist() == [1.0, 1.0]


def test_endogenous_regressor_absorbed_is_an_error(panel):
    df = panel.assign(d_abs=panel.b_level + 0.0)
    with pytest.raises(EstimationError, match="endogenous regressor d_abs is absorbed by the fixed effects a \\+ b"):
        feiv("y ~ x | a + b | d_abs ~ z1 + z2", df)


def test_absorbed_instrument_dropped_then_identification_rechecked(panel):
    df = panel.assign(z_abs=panel.b_level * 1e-3)
    with pytest.warns(EstimationWarning, match="instrument z_abs is absorbed"):
        f = feiv("y ~ x | a + b | d ~ z1 + z_abs", df)
    ref = feiv("y ~ x | a + b | d ~ z1", df)
    assert f.instruments == ["z1"] and "z_abs" in f.dropped_collinear
    assert f.diagnostics["kp_f"] == pytest.approx(ref.diagnostics["kp_f"], rel=1e-10)
    assert f.coef["d"] == pytest.approx(ref.coef["d"], rel=1e-10) and f.se["d"] == pytest.approx(ref.se["d"], rel=1e-10)
    with pytest.raises(EstimationError, match="underidentified after dropping z_abs: 2 endogenous"), \
            pytest.warns(EstimationWarning):
        feiv("y ~ x | a + b | d + d2 ~ z1 + z_abs", df)


def test_absorbed_exogenous_regressor_dropped_with_warning(panel):
    with pytest.warns(EstimationWarning, match="regressor b_level is absorbed"):
        f = feiv("y ~ x + b_level | a + b | d ~ z1 + z2", panel)
    ref = feiv("y ~ x | a + b | d ~ z1 + z2", panel)
    assert "b_level" not in f.coef and f.se["d"] == pytest.approx(ref.se["d"], rel=1e-10)
    with pytest.warns(EstimationWarning, match="b_level is absorbed"):
        o = feols("y", ["x", "d", "b_level"], panel, ["a", "b"])
    assert list(o.coef.index) == ["x", "d"] and o.coef["d"] == pytest.approx(feiv("y ~ x + d | a + b", panel).coef["d"])


def test_endogenous_listed_as_instrument_is_an_error(panel):
    with pytest.raises(EstimationError, match="d is listed both as an endogenous regressor and as an excluded"):
        feiv("y ~ x | a | d ~ d + z1", panel)
    with pytest.raises(EstimationError, match="x is listed both as an exogenous regressor and as an endogenous"):
        feiv("y ~ x | a | x ~ z1", panel)


def test_collinear_endogenous_regressors_are_an_error(panel):
    df = panel.assign(d_twice=2 * panel.d - panel.x)
    with pytest.raises(EstimationError, match="endogenous regressor d_twice is collinear"):
        feiv("y ~ x | a | d + d_twice ~ z1 + z2", df)


def test_one_cluster_is_an_error(panel):
    df = panel.assign(one=1)
    with pytest.raises(EstimationError, match="1 cluster"):
        feiv("y ~ x | a | d ~ z1 + z2", df, vcov={"cluster": "one"})
    with pytest.raises(EstimationError, match="1 cluster"):
        feols("y", ["x"], df, ["a"], vcov={"cluster": "one"})


def test_two_clusters_warn_and_report_no_absurd_statistics(panel):
    df = panel.assign(two=panel.cl % 2)
    with pytest.warns(EstimationWarning, match="only 2 clusters"):
        f = feiv("y ~ x | a + b | d ~ z1 + z2", df, vcov={"cluster": "two"})
    fs = f.first_stages["d"]
    # a two-cluster variance has rank 1: a test of 2 restrictions is undefined, not 2e19 or negative
    assert np.isnan(fs.f_excluded) and np.isnan(fs.sw_f) and np.isnan(f.diagnostics["kp_f"])
    assert any("only 2 clusters" in x for x in f.flags)
    assert any(x.startswith("not reported") and "kp_f" in x and "first-stage F of d" in x for x in f.flags)
    assert "only 2 clusters" in Table("X", "t", {"IV": f}, {"d": "d"}).markdown()


def test_few_clusters_warn(panel):
    df = panel.assign(g12=panel.cl % 12)
    with pytest.warns(EstimationWarning, match="only 12 clusters .*doubtful"):
        f = feiv("y ~ x | a | d ~ z1 + z2", df, vcov={"cluster": "g12"})
    assert np.isfinite(f.first_stages["d"].f_excluded)  # 2 restrictions ≤ 11: reported
    with warnings.catch_warnings():
        warnings.simplefilter("error", EstimationWarning)
        feiv("y ~ x | a | d ~ z1 + z2", panel, vcov={"cluster": "cl"})  # 200 clusters: no warning


def test_constant_dependent_variable_and_huge_se_are_flagged(panel):
    with pytest.warns(EstimationWarning, match="dependent variable b_level is absorbed"):
        f = feiv("b_level ~ x | a + b", panel)
    assert any("dependent variable" in x for x in f.flags)
    # w orthogonal to y, x and the constant: its OLS coefficient is 0 up to rounding, its SE is not
    r = panel.z1.to_numpy()
    basis = np.column_stack([np.ones(len(r)), panel.x, panel.y])
    df = panel.assign(w=r - basis @ np.linalg.lstsq(basis, r, rcond=None)[0])
    f = feiv("y ~ x + w", df)
    assert abs(f.coef["w"]) < 1e-12 < f.se["w"]
    assert any(x.startswith("standard error of w is") for x in f.flags)
    assert "standard error of w is" in Table("X", "t", {"OLS": f}, {"w": "w"}).markdown()
    o = feols("y", ["x", "w"], df)
    assert any(x.startswith("standard error of w is") for x in o.flags)


def test_nullable_and_non_numeric_columns(panel):
    df = panel.assign(x=panel.x.round().astype("Int64"))
    df.loc[[5, 6], "x"] = pd.NA
    f = feiv("y ~ x | a | d ~ z1 + z2", df)
    assert f.dropped["missing values"] == 2 and f.nobs == len(df) - 2
    with pytest.raises(EstimationError, match="variable x is not numeric"):
        feiv("y ~ x | a", panel.assign(x=panel.x.astype(str)))
