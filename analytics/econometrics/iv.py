"""FE-2SLS with any number of endogenous regressors, instruments and absorbed FE sets (Tables 7–9).

Formula (fixest syntax): ``"y ~ x1 + x2 | fe1 + fe2 | d1 + d2 ~ z1 + z2"``; the FE part and the
exogenous regressors are optional. Demean-then-2SLS: the FE are projected out of every variable
(tolerance 1e-8, singletons dropped iteratively), then 2SLS on the demeaned data, with Stata's
small-sample conventions (ivreghdfe with ``absorb()`` implies ``small``). With no endogenous variables
it is FE-OLS on the same machinery.

Written by hand because no Python library estimates FE-2SLS with several endogenous regressors and
ivreg2-grade diagnostics (pyfixest refuses more than one endogenous variable; linearmodels needs dummy
FE, minutes at 100k rows)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analytics.econometrics import diagnostics as dg
from analytics.econometrics.fixed_effects import absorb, demean, factorize, singleton_mask
from analytics.econometrics.result import FirstStage, Fit
from analytics.econometrics.vcov import VcovSpec, sandwich, wald

COLLINEAR_TOL = 1e-9


@dataclass(frozen=True)
class Spec:
    depvar: str
    exog: list[str]
    fe: list[str]
    endog: list[str]
    instruments: list[str]


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


def _drop_collinear(m: np.ndarray, raw: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[str], list[str]]:
    """Drop columns absorbed by the FE (≈ zero after demeaning) or linearly dependent on earlier ones."""
    keep, dropped = [], []
    scale = np.maximum(np.linalg.norm(raw, axis=0), 1.0)
    for j in range(m.shape[1]):
        if np.linalg.norm(m[:, j]) <= COLLINEAR_TOL * scale[j]:
            dropped.append(names[j])
            continue
        cand = keep + [j]
        if np.linalg.matrix_rank(m[:, cand], tol=COLLINEAR_TOL * np.linalg.norm(m[:, cand])) < len(cand):
            dropped.append(names[j])
            continue
        keep.append(j)
    return m[:, keep], [names[j] for j in keep], dropped


def feiv(formula: str | None = None, data: pd.DataFrame | None = None, vcov="robust", *, depvar=None, exog=(),
         endog=(), instruments=(), absorb_fe=(), drop_singletons: bool = True) -> Fit:
    """Estimate by FE-2SLS (or FE-OLS when there is no endogenous variable). See module docstring."""
    spec = parse_formula(formula) if formula else Spec(depvar, list(exog), list(absorb_fe), list(endog),
                                                        list(instruments))
    vs = VcovSpec.parse(vcov)
    if len(spec.instruments) < len(spec.endog):
        raise ValueError(f"underidentified: {len(spec.endog)} endogenous, {len(spec.instruments)} instruments")
    cols = list(dict.fromkeys([spec.depvar, *spec.exog, *spec.endog, *spec.instruments, *spec.fe,
                               *([vs.cluster] if vs.cluster else [])]))
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise KeyError(f"column(s) not in data: {', '.join(missing)}")
    df = data[cols].dropna()
    n_singletons = 0
    if spec.fe and drop_singletons:
        keep = singleton_mask(factorize(df, spec.fe))
        n_singletons = int((~keep).sum())
        df = df[keep]
    return _estimate(df, spec, vs, n_singletons)


def _estimate(df: pd.DataFrame, spec: Spec, vs: VcovSpec, n_singletons: int) -> Fit:
    n = len(df)
    ab = absorb(df, spec.fe, vs.cluster) if spec.fe else None
    groups = df[vs.cluster].to_numpy() if vs.cluster else None
    num = [spec.depvar, *spec.endog, *spec.exog, *spec.instruments]
    raw = df[num].to_numpy(np.float64)
    w = demean(raw, ab) if ab else raw.copy()
    y = w[:, 0]
    m, p = len(spec.endog), len(spec.exog)
    xen, xex, zex = w[:, 1:1 + m], w[:, 1 + m:1 + m + p], w[:, 1 + m + p:]
    exog_names = list(spec.exog)
    if ab is None:  # constant as a regressor
        xex = np.column_stack([xex, np.ones(n)])
        exog_names.append("_cons")
    raw_ex = raw[:, 1 + m:1 + m + p]
    if ab is None:
        raw_ex = np.column_stack([raw_ex, np.ones(n)])
    xex, exog_names, dropped = _drop_collinear(xex, raw_ex, exog_names)
    if dropped:
        warnings.warn(f"dropped collinear regressor(s): {', '.join(dropped)}", stacklevel=3)
    df_abs = ab.df_absorbed(vs.kind == "cluster") if ab else 0
    X = np.column_stack([xen, xex])
    Z = np.column_stack([zex, xex])
    if np.linalg.matrix_rank(Z) < Z.shape[1]:
        raise ValueError("instruments are collinear (with each other, the exogenous regressors or the FE)")
    names = [*spec.endog, *exog_names]
    xhat = Z @ np.linalg.lstsq(Z, X, rcond=None)[0] if m else X
    beta = np.linalg.lstsq(xhat, y, rcond=None)[0]
    e = y - X @ beta
    K = X.shape[1] + df_abs
    V = sandwich(xhat, e, vs, K, groups)
    rss = float(e @ e)
    yraw = raw[:, 0]
    fit = Fit(
        method="2sls" if m else "ols", depvar=spec.depvar, coef=pd.Series(beta, index=names),
        vcov=pd.DataFrame(V, index=names, columns=names), vcov_type=vs.kind, nobs=n, df_resid=n - K, k=K,
        df_a=df_abs, r2=_r2(rss, yraw - yraw.mean()), r2_within=_r2(rss, y - (y.mean() if ab is None else 0)),
        rss=rss, fe=list(spec.fe),
        cluster=vs.cluster, n_clusters=len(np.unique(groups)) if vs.cluster else None,
        dropped_singletons=n_singletons, dropped_collinear=dropped, endog=list(spec.endog),
        instruments=list(spec.instruments),
    )
    if m:
        _diagnose(fit, y, xen, zex, xex, vs, groups, df_abs, spec)
    return fit


def _r2(rss: float, centred: np.ndarray) -> float:
    tss = float(centred @ centred)
    return 1 - rss / tss if tss > 0 else float("nan")


def _partial(a: np.ndarray, xex: np.ndarray) -> np.ndarray:
    if xex.shape[1] == 0:
        return a
    return a - xex @ np.linalg.lstsq(xex, a, rcond=None)[0]


def _diagnose(fit: Fit, y, xen, zex, xex, vs: VcovSpec, groups, df_abs: int, spec: Spec) -> None:
    """First stages and weak-identification statistics (ivreg2 conventions)."""
    n, (m, k) = len(y), (xen.shape[1], zex.shape[1])
    L = k + xex.shape[1] + df_abs
    Xp, Zp, yp = _partial(xen, xex), _partial(zex, xex), _partial(y, xex)
    Z = np.column_stack([zex, xex])
    znames = [*spec.instruments, *fit.coef.index[m:]]
    sw = dg.sanderson_windmeijer(Xp, Zp, vs, groups, L)
    for j, name in enumerate(spec.endog):
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
    fit.stock_yogo = dg.stock_yogo(m, k)
