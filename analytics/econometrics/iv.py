"""FE-2SLS with any number of endogenous regressors, instruments and absorbed FE sets (Tables 7–9).

Formula (fixest syntax): ``"y ~ x1 + x2 | fe1 + fe2 | d1 + d2 ~ z1 + z2"``; the FE part and the
exogenous regressors are optional. Demean-then-2SLS: the FE are projected out of every variable
(tolerance 1e-8, singletons dropped iteratively), then 2SLS on the demeaned data, with Stata's
small-sample conventions (ivreghdfe with ``absorb()`` implies ``small``). With no endogenous variables
it is FE-OLS on the same machinery. The sample and the variables are checked first (``sample``); a 2SLS
fit carries ivreg2's diagnostics: first stages, Cragg–Donald and Kleibergen–Paap F, Anderson–Rubin,
Hansen J / Sargan and the C test of endogeneity.

Written by hand because no Python library estimates FE-2SLS with several endogenous regressors and
ivreg2-grade diagnostics (pyfixest refuses more than one endogenous variable; linearmodels needs dummy
FE, minutes at 100k rows)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
from scipy import stats

from analytics.econometrics import akm
from analytics.econometrics import diagnostics as dg
from analytics.econometrics.design import CONST, AbsorbedDesign, AbsorbedSample, one_blas_thread
from analytics.econometrics.result import FirstStage, Fit, numeric_flags
from analytics.econometrics.sample import Spec, check_cluster_count, check_roles, check_size, screen, var_name
from analytics.econometrics.vcov import VcovSpec, n_clusters, sandwich, wald


def _terms(s: str) -> list[str]:
    return [t.strip() for t in s.split("+") if t.strip() and t.strip() not in ("1", "0")]


def parse_formula(formula: str) -> Spec:
    """``y ~ x | fe | d ~ z`` → Spec; parts after the first may be omitted."""
    parts = [p.strip() for p in formula.split("|")]
    lhs, _, rhs = parts[0].partition("~")
    if not rhs and "~" not in parts[0]:
        raise ValueError(f"formula needs 'y ~ …': {formula!r}")
    fe, endog, inst = [], [], []
    for p in parts[1:]:
        if "~" in p:
            e, _, z = p.partition("~")
            endog, inst = _terms(e), _terms(z)
        else:
            fe = _terms(p)
    return Spec(lhs.strip(), _terms(rhs), fe, endog, inst)


def feiv(formula: str | None = None, data: pd.DataFrame | AbsorbedDesign | None = None, vcov="robust", *,
         depvar=None, exog=(), endog=(), instruments=(), absorb_fe=(), drop_singletons: bool = True) -> Fit:
    """Estimate by FE-2SLS (or FE-OLS when there is no endogenous variable). See module docstring.
    ``data``: a frame, or an ``AbsorbedDesign`` on one whose absorbed samples many specifications share.

    Raises ``EstimationError`` (naming the cause) when the model cannot be estimated: no rows left after
    missing values or singletons, fewer rows than parameters, an endogenous regressor absorbed by the FE
    or collinear, too few instruments (also after dropping absorbed ones), fewer than two clusters.
    ``vcov`` may also be an ``akm.ShiftShareVcov``: Adão–Kolesár–Morales SEs for the endogenous coefficients
    (2SLS only; the rest of the fit is computed with robust SEs first)."""
    spec = parse_formula(formula) if formula else Spec(depvar, list(exog), list(absorb_fe), list(endog),
                                                        list(instruments))
    ss = vcov if isinstance(vcov, akm.ShiftShareVcov) else None
    if ss is not None and not spec.endog:
        raise ValueError("AKM standard errors are implemented for 2SLS with shift-share instruments only")
    vs = VcovSpec("robust") if ss is not None else VcovSpec.parse(vcov)
    check_roles(spec)
    design = data if isinstance(data, AbsorbedDesign) else AbsorbedDesign(data)
    with one_blas_thread():
        smp = design.sample([spec.depvar, *spec.exog, *spec.endog, *spec.instruments], spec.fe, vs,
                            drop_singletons)
        shares = None
        if ss is not None:
            absent = [c for c in ss.columns if c not in design.data.columns]
            if absent:
                raise KeyError(f"column(s) not in data: {', '.join(absent)}")
            shares = design.data[ss.columns].iloc[smp.rows]
        return _estimate(smp, spec, vs, ss, shares)


def _estimate(smp: AbsorbedSample, spec: Spec, vs: VcovSpec, ss: akm.ShiftShareVcov | None = None,
              shares: pd.DataFrame | None = None) -> Fit:
    """The fit of ``spec`` on the sample (computed once per sample, specification and vcov: the AKM fit of
    a specification starts from its robust fit), with the AKM standard errors given ``ss``."""
    key = repr((spec, vs))
    if key not in smp.fits:
        smp.fits[key] = _fit(smp, spec, vs)
    fit = copy.deepcopy(smp.fits[key])
    if ss is not None and fit.endog:
        m, xcols = len(fit.endog), list(fit.coef.index)
        zcols = [*fit.instruments, *xcols[m:]]
        y, X, Z = smp.w([spec.depvar])[:, 0], smp.w(xcols), smp.w(zcols)
        xen, xex, zex = X[:, :m], X[:, m:], Z[:, :len(fit.instruments)]
        akm.attach(fit, shares, _partial(y, xex), _partial(xen, xex), _partial(zex, xex), y - X @ fit.coef.to_numpy(),
                   ss, Z.shape[1] + fit.df_a, dg.kleibergen_paap_given)
    fit.flags += numeric_flags(fit)
    return fit


def _fit(smp: AbsorbedSample, spec: Spec, vs: VcovSpec) -> Fit:
    """Checks, screening and the least-squares solutions on the R factor of the sample's columns; residuals
    and variance on its n rows."""
    flags: list[str] = []
    n, groups, ab = smp.nobs, smp.groups, smp.absorbed
    check_cluster_count(groups, vs, flags)
    df_full = ab.df_a if ab else 0
    check_size(smp, len(spec.instruments) + len(spec.exog) + (0 if ab else 1), df_full)
    cols = [spec.depvar, *spec.endog, *spec.exog, *spec.instruments]
    smp.load(cols)
    ex, inst, dropped = screen(np.array([smp.share[c] for c in cols]), smp.rspace(cols, centred=True), spec, flags)
    m = len(spec.endog)
    exog_names = [var_name(spec, c) for c in ex] + ([] if ab else [CONST])
    instruments = [var_name(spec, c) for c in inst]
    check_size(smp, max(len(inst), m) + len(exog_names), df_full)
    df_abs = ab.df_absorbed(vs.kind == "cluster") if ab else 0
    K = m + len(exog_names) + df_abs
    xcols, zcols = [*spec.endog, *exog_names], [*instruments, *exog_names]
    r = smp.rspace([spec.depvar, *xcols, *zcols])
    ry, rx, rz = r[:, 0], r[:, 1:1 + len(xcols)], r[:, 1 + len(xcols):]
    rcond = np.finfo(float).eps * n  # lstsq's default cut-off for the n-row problem
    pi = np.linalg.lstsq(rz, rx, rcond=rcond)[0] if m else None
    rxhat = rz @ pi if m else rx
    beta = np.linalg.lstsq(rxhat, ry, rcond=rcond)[0]
    y, X = smp.w([spec.depvar])[:, 0], smp.w(xcols)
    Z = smp.w(zcols) if m else None
    xhat = Z @ pi if m else X
    e = y - X @ beta
    # X̂ is a temporary with instruments; without, it is X, which only the diagnostics of 2SLS read again
    V = sandwich(xhat, e, vs, K, groups, bread=np.linalg.inv(rxhat.T @ rxhat), overwrite=True)
    rss = float(e @ e)
    names = xcols
    fit = Fit(
        method="2sls" if m else "ols", depvar=spec.depvar, coef=pd.Series(beta, index=names),
        vcov=pd.DataFrame(V, index=names, columns=names), vcov_type=vs.kind, nobs=n, df_resid=n - K, k=K,
        df_a=df_abs, r2=_r2(rss, smp.tss[spec.depvar]),
        r2_within=_r2(rss, smp.ss_within[spec.depvar]),
        rss=rss, fe=list(spec.fe), cluster=vs.cluster, n_clusters=n_clusters(groups), n_input=smp.n_input,
        dropped=dict(smp.dropped), dropped_collinear=dropped, endog=list(spec.endog), instruments=instruments,
        flags=flags,
    )
    if m:
        _diagnose(fit, y, X, Z, vs, groups, df_full)
    return fit


def _r2(rss: float, tss: float) -> float:
    return 1 - rss / tss if tss > 0 else float("nan")


def _partial(a: np.ndarray, xex: np.ndarray) -> np.ndarray:
    if xex.shape[1] == 0:
        return a
    return a - xex @ np.linalg.lstsq(xex, a, rcond=None)[0]


def _diagnose(fit: Fit, y, X, Z, vs: VcovSpec, groups, df_a_full: int) -> None:
    """First stages, weak-identification, overidentification and endogeneity statistics (ivreg2
    conventions). X = [endogenous, exogenous], Z = [excluded instruments, exogenous], all demeaned;
    ``df_a_full`` is the absorbed df without the nested-in-cluster adjustment (for the iid Wu–Hausman F)."""
    n, m, k = len(y), len(fit.endog), len(fit.instruments)
    xen, xex, zex = X[:, :m], X[:, m:], Z[:, :k]
    L = Z.shape[1] + fit.df_a
    Xp, Zp, yp = _partial(xen, xex), _partial(zex, xex), _partial(y, xex)
    znames = [*fit.instruments, *fit.coef.index[m:]]
    sw = dg.sanderson_windmeijer(Xp, Zp, vs, groups, L)
    for j, name in enumerate(fit.endog):
        coef = np.linalg.lstsq(Z, xen[:, j], rcond=None)[0]
        v = xen[:, j] - Z @ coef
        V = sandwich(Z, v, vs, L, groups)
        f = wald(coef[:k], V[:k, :k]) / k
        df2 = (fit.n_clusters - 1) if vs.kind == "cluster" else n - L
        fit.first_stages[name] = FirstStage(
            endog=name, coef=pd.Series(coef, index=znames), se=pd.Series(np.sqrt(np.diag(V)), index=znames),
            partial_r2=1 - float(v @ v) / float(Xp[:, j] @ Xp[:, j]), f_excluded=f,
            f_pvalue=float(stats.f.sf(f, k, df2)), sw_f=sw[j][0], sw_df=(sw[j][1], sw[j][2]),
            r2=1 - float(v @ v) / float(((xen[:, j] - xen[:, j].mean()) ** 2).sum()))
    fit.diagnostics.update(dg.kleibergen_paap(Xp, Zp, vs, groups, L))
    fit.diagnostics.update(dg.cragg_donald(Xp, Zp, L))
    fit.diagnostics.update(dg.anderson_rubin(yp, Xp, Zp, vs, groups, L))
    e = y - X @ fit.coef.to_numpy()
    fit.diagnostics.update(dg.overidentification(y, X, Z, e, vs, groups))
    fit.diagnostics.update(dg.endogeneity(y, X, Z, list(range(m)), vs, groups, k_full=X.shape[1] + df_a_full))
    fit.stock_yogo = dg.stock_yogo(m, k)
    undefined = [k for k, v in fit.diagnostics.items()
                 if isinstance(v, float) and np.isnan(v) and not k.endswith(("_p", "_df"))]
    undefined += [f"first-stage F of {e}" for e, fs in fit.first_stages.items() if np.isnan(fs.f_excluded)]
    if undefined:
        fit.flags.append(f"not reported, their covariance matrix being singular (e.g. more restrictions than "
                         f"clusters − 1): {', '.join(undefined)}")
