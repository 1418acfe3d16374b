"""Shift-share inference of Adão, Kolesár and Morales (2019, QJE): AKM and AKM0 standard errors and
confidence intervals, as the reference implementation (the R package ShiftShareSE, ``reg_ss`` and
``ivreg_ss``) computes them, plus the extensions the tables of eq. (16) and eq. (19) need.

A shift-share variable is X_i = Σ_s w_is 𝒳_s (shares w, shocks 𝒳). With the controls partialled out
(weighted least squares when weights are given), write ẍ for the partialled shift-share variable and
𝒳̂ = (W'ΩW)⁻¹W'Ωẍ for the shocks recovered from it. For an estimator whose deviation is A · ẍ'Ωε,
AKM replaces the heteroskedasticity-robust "meat" by the shock-level one

    V_AKM = A [Σ_c (Σ_{s∈c} 𝒳̂_s R_s)(Σ_{s∈c} 𝒳̂_s R_s)'] A',   R_s = Σ_i w_is ω_i ε̂_i,

with c the sector clusters (every sector its own cluster when none are given). AKM0 imposes the null
β = β₀ in the residual and inverts the test into a confidence set (closed form, AKM Remark 6).

What is supported:

- one shift-share regressor (OLS) or one endogenous regressor with one shift-share instrument: homoskedastic,
  EHW, region-clustered, AKM and AKM0, numerically as ``reg_ss`` / ``ivreg_ss`` (``ss_ols``, ``ss_iv``);
- several instruments / several endogenous regressors that are all built from ONE vector of shocks with
  instrument-specific shares (eq. 16's shock_i and shock_i × log(x_j/x̄_i), whose shares are φ_is and
  φ_is × log(x_j/x̄_i)): AKM variance of every endogenous coefficient (2SLS) or of every shift-share
  coefficient (OLS, first stages), with 𝒳̂ estimated from all instruments jointly (stacked regression of
  the partialled instruments on their share matrices) — the multi-instrument formula of the ShiftShareSE
  vignette (section "Extensions"), which the package itself does not implement;
- AKM0 only with one endogenous regressor and one instrument (or one shift-share regressor): with
  several, the AKM0 set needs a grid search and inference on one coefficient is not defined by the
  reference; it is reported as not available (NaN);
- coefficients of the other exogenous regressors get no AKM standard error (NaN).

Shares with no weight in the sample (all-zero columns) are dropped: their shocks do not enter."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import linalg, stats

METHODS = ("homoskedastic", "ehw", "region_cluster", "akm", "akm0")


@dataclass
class SSResult:
    """Estimate with standard error, p-value and confidence interval per inference method (as
    ShiftShareSE's ``SSResults``; AKM0's standard error is the CI length / (2 z_{1−α/2}))."""

    beta: float
    se: dict[str, float] = field(default_factory=dict)
    p: dict[str, float] = field(default_factory=dict)
    ci_low: dict[str, float] = field(default_factory=dict)
    ci_high: dict[str, float] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"std_error": self.se, "p_value": self.p, "conf_low": self.ci_low,
                             "conf_high": self.ci_high})


# ---------------------------------------------------------------- building blocks

def _as_2d(a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a[:, None] if a.ndim == 1 else a


def wls_residuals(y: np.ndarray, controls: np.ndarray | None, w: np.ndarray | None) -> np.ndarray:
    """Residuals of (weighted) least squares of each column of ``y`` on ``controls`` (ÿ, ẍ)."""
    y = np.asarray(y, dtype=np.float64)
    if controls is None or controls.shape[1] == 0:
        return y.copy()
    sw = np.ones(len(y)) if w is None else np.sqrt(w)
    b = np.linalg.lstsq(controls * sw[:, None], y * (sw if y.ndim == 1 else sw[:, None]), rcond=None)[0]
    return y - controls @ b


@dataclass
class Shares:
    """Share matrices W_l = diag(m_l) B Φ (n × S), one per shift-share variable l: Φ the units × shocks
    exposure matrix (regions × sectors; buyers × industries: φ_is of eq. 18), B the row → unit map and m_l
    a per-row multiplier (1 for the shift-share variable itself; log(x_j/x̄_i) for its interaction in eq.
    16). Products with W_l are taken unit by unit, so the n × S matrices are never formed."""

    phi: sp.csr_matrix | np.ndarray
    unit: np.ndarray  # row → unit code (0 … U−1)
    mult: list[np.ndarray | None]  # per shift-share variable: row multiplier or None (= 1)

    @staticmethod
    def dense(W) -> Shares:
        W = W.tocsr() if sp.issparse(W) else np.asarray(W, dtype=np.float64)
        return Shares(W, np.arange(W.shape[0]), [None])

    @property
    def n_shocks(self) -> int:
        return self.phi.shape[1]

    def _to_units(self, v: np.ndarray) -> np.ndarray:
        return np.bincount(self.unit, weights=v, minlength=self.phi.shape[0])

    def tdot(self, l: int, v: np.ndarray) -> np.ndarray:
        """W_l' v (length S)."""
        m = self.mult[l]
        return np.asarray(self.phi.T @ self._to_units(v if m is None else m * v)).ravel()

    def gram(self, w: np.ndarray) -> np.ndarray:
        """Σ_l W_l' diag(w) W_l (S × S)."""
        u = np.zeros(self.phi.shape[0])
        for m in self.mult:
            u += self._to_units(w if m is None else w * m * m)
        phi = sp.csr_matrix(self.phi)
        return np.asarray((phi.T @ phi.multiply(u[:, None]).tocsr()).todense())


def recovered_shocks(ddx: np.ndarray, shares: Shares, w: np.ndarray | None, residual_sector: bool = False
                     ) -> np.ndarray:
    """𝒳̂: (weighted) least squares of the partialled shift-share variables ẍ_l on their share matrices
    W_l, stacked over l (one common shock vector). Shocks with no share in the sample give 𝒳̂_s = 0.
    ``residual_sector``: add the column 1 − Σ_s w_is to a single dense W before the regression and drop
    its coefficient (the option of ShiftShareSE versions before 1.0)."""
    ddx = _as_2d(ddx)
    n, S = ddx.shape[0], shares.n_shocks
    wt = np.ones(n) if w is None else np.asarray(w, float)
    if len(shares.mult) == 1 and shares.mult[0] is None and not sp.issparse(shares.phi) \
            and shares.phi.shape[0] == n:  # one dense matrix: least squares by QR, as lm.wfit
        W = shares.phi
        if residual_sector:
            W = np.column_stack([W, 1 - W.sum(axis=1)])
        used = np.flatnonzero(np.abs(W).sum(axis=0) > 0)
        sw = np.sqrt(wt)
        coef = linalg.lstsq(W[:, used] * sw[:, None], ddx[:, 0] * sw, lapack_driver="gelsy")[0]
    else:
        if residual_sector:
            raise ValueError("residual_sector needs one dense share matrix")
        G = shares.gram(wt)
        b = sum(shares.tdot(l, wt * ddx[:, l]) for l in range(len(shares.mult)))
        used = np.flatnonzero(np.diag(G) > 0)
        coef = np.linalg.lstsq(G[np.ix_(used, used)], b[used], rcond=None)[0]
    out = np.zeros(S + residual_sector)
    out[used] = coef
    return out[:S]


def _cluster_sum(c: np.ndarray, clusters) -> np.ndarray:
    """Sum the rows of ``c`` (S × p) within sector clusters (rows unchanged when ``clusters`` is None)."""
    if clusters is None:
        return c
    g = pd.factorize(np.asarray(clusters))[0]
    out = np.zeros((g.max() + 1, c.shape[1]))
    np.add.at(out, g, c)
    return out


def shock_contributions(resid: np.ndarray, shares: Shares, hx: np.ndarray, w: np.ndarray | None,
                        clusters=None) -> np.ndarray:
    """Rows c (sector clusters) × columns (residual j, share matrix l): Σ_{s∈c} 𝒳̂_s Σ_i W_l,is ω_i u_ij,
    ordered j·L + l (the order of vec(Z'U) in the Kleibergen–Paap score covariance)."""
    u = _as_2d(resid)
    wu = u if w is None else u * np.asarray(w, float)[:, None]
    cols = [hx * shares.tdot(l, wu[:, j]) for j in range(u.shape[1]) for l in range(len(shares.mult))]
    return _cluster_sum(np.column_stack(cols), clusters)


def akm0_interval(beta: float, rx: float, cr: np.ndarray, cw: np.ndarray, alpha: float) -> tuple[float, float]:
    """AKM0 confidence set {β₀: (β̂ − β₀)² RX² ≤ z² Σ_c (cR_c − β₀′ cW_c)²} in closed form (AKM Remark 6);
    (lo, hi) with lo > hi meaning (−∞, hi] ∪ [lo, ∞), and (−∞, ∞) when the set is the real line."""
    cv = stats.norm.ppf(1 - alpha / 2)
    q = rx ** 2 / cv ** 2 - float(cw @ cw)
    q2 = float(cr @ cw) / q
    mid = beta - q2
    dis = q2 ** 2 + float(cr @ cr) / q
    if q > 0:
        return mid - np.sqrt(dis), mid + np.sqrt(dis)
    if dis > 0:
        return mid + np.sqrt(dis), mid - np.sqrt(dis)
    return -np.inf, np.inf


def _finish(beta: float, se: dict, akm0: tuple | None, se_akm0_null: float | None, alpha: float,
            beta0: float) -> SSResult:
    cv = stats.norm.ppf(1 - alpha / 2)
    r = SSResult(beta)
    for m, s in se.items():
        r.se[m] = s
        r.p[m] = float(2 * stats.norm.sf(abs(beta - beta0) / s))
        r.ci_low[m], r.ci_high[m] = beta - cv * s, beta + cv * s
    if akm0 is not None:
        lo, hi = akm0
        r.p["akm0"] = float(2 * stats.norm.sf(abs(beta - beta0) / se_akm0_null))
        r.ci_low["akm0"], r.ci_high["akm0"] = lo, hi
        r.se["akm0"] = (hi - lo) / (2 * cv) if hi > lo else np.inf
    return r


def _inputs(controls, weights, shares):
    z = None if controls is None else _as_2d(controls)
    w = None if weights is None else np.asarray(weights, float)
    if w is not None and (np.any(~np.isfinite(w)) or np.any(w < 0)):
        raise ValueError("weights must be finite and non-negative")
    return z, w, Shares.dense(shares)


# ---------------------------------------------------------------- reg_ss / ivreg_ss

def ss_ols(y, x, shares, controls=None, weights=None, region_clusters=None, sector_clusters=None,
           alpha: float = 0.05, beta0: float = 0.0, residual_sector: bool = False) -> SSResult:
    """Regression of ``y`` on a shift-share regressor ``x`` = W 𝒳 and ``controls`` (which must include
    the constant): the estimate and its inference by every method of ``reg_ss`` (AKM 2019, eq. 17 ff.)."""
    z, w, W = _inputs(controls, weights, shares)
    y, x = np.asarray(y, float), np.asarray(x, float)
    n = len(y)
    mm = x[:, None] if z is None else np.column_stack([x, z])
    sw = np.ones(n) if w is None else np.sqrt(w)
    coef, *_ = np.linalg.lstsq(mm * sw[:, None], y * sw, rcond=None)
    p = np.linalg.matrix_rank(mm * sw[:, None])
    beta = float(coef[0])
    resid = y - mm @ coef
    ddx, ddy = wls_residuals(x, z, w), wls_residuals(y, z, w)
    wt = np.ones(n) if w is None else w
    rx = float(np.sum(wt * ddx ** 2))
    se = {"homoskedastic": np.sqrt(np.sum(wt * resid ** 2) / (n - p) / rx)}
    u = wt * resid * ddx
    se["ehw"] = np.sqrt(n / (n - p) * float(u @ u)) / rx
    if region_clusters is not None:
        g = pd.factorize(np.asarray(region_clusters))[0]
        nc = g.max() + 1
        us = np.bincount(g, weights=u)
        se["region_cluster"] = np.sqrt(nc / (nc - 1) * (n - 1) / (n - p) * float(us @ us)) / rx
    hx = recovered_shocks(ddx, W, w, residual_sector)
    cr = shock_contributions(resid, W, hx, w, sector_clusters)[:, 0]
    cr0 = shock_contributions(ddy - ddx * beta0, W, hx, w, sector_clusters)[:, 0]
    cw = shock_contributions(ddx, W, hx, w, sector_clusters)[:, 0]
    se["akm"] = np.sqrt(float(cr @ cr)) / rx
    return _finish(beta, se, akm0_interval(beta, rx, cr, cw, alpha), np.sqrt(float(cr0 @ cr0)) / rx, alpha, beta0)


def ss_iv(y, d, x, shares, controls=None, weights=None, region_clusters=None, sector_clusters=None,
          alpha: float = 0.05, beta0: float = 0.0, residual_sector: bool = False) -> SSResult:
    """2SLS of ``y`` on the endogenous ``d`` instrumented by the shift-share ``x`` = W 𝒳, with
    ``controls`` (constant included): inference by every method of ``ivreg_ss`` (AKM 2019, section IV.C).
    As there, EHW and region-clustered SEs carry no small-sample factor."""
    z, w, W = _inputs(controls, weights, shares)
    y, d, x = (np.asarray(a, float) for a in (y, d, x))
    n = len(y)
    wt = np.ones(n) if w is None else w
    ddx, ddy, ddd = wls_residuals(x, z, w), wls_residuals(y, z, w), wls_residuals(d, z, w)
    rx = float(np.sum(wt * ddd * ddx))
    beta = float(np.sum(wt * ddy * ddx)) / rx
    resid = ddy - ddd * beta  # the structural residual with the controls partialled out
    pi = rx / float(np.sum(wt * ddx ** 2))
    se = {"homoskedastic": np.sqrt(np.sum(wt * resid ** 2) / n) / (np.sqrt(np.sum(wt * ddx ** 2)) * abs(pi))}
    u = wt * resid * ddx
    se["ehw"] = np.sqrt(float(u @ u)) / abs(rx)
    if region_clusters is not None:
        us = np.bincount(pd.factorize(np.asarray(region_clusters))[0], weights=u)
        se["region_cluster"] = np.sqrt(float(us @ us)) / abs(rx)
    hx = recovered_shocks(ddx, W, w, residual_sector)
    cr = shock_contributions(resid, W, hx, w, sector_clusters)[:, 0]
    cr0 = shock_contributions(ddy - ddd * beta0, W, hx, w, sector_clusters)[:, 0]
    cw = shock_contributions(ddd, W, hx, w, sector_clusters)[:, 0]
    se["akm"] = np.sqrt(float(cr @ cr)) / abs(rx)
    return _finish(beta, se, akm0_interval(beta, rx, cr, cw, alpha), np.sqrt(float(cr0 @ cr0)) / abs(rx), alpha,
                   beta0)


# ---------------------------------------------------------------- feiv's vcov="akm" option

@dataclass(frozen=True)
class ShiftShareVcov:
    """``vcov`` option of ``feiv``: AKM inference for a 2SLS whose excluded instruments are shift-share
    variables built from one vector of shocks. ``phi``: units × shocks exposure matrix (rows in the order
    of ``units``); ``unit_col``: the data column holding each row's unit; ``multipliers``: for every
    excluded instrument, the data column that multiplies φ in its shares (None: the instrument is Σ_s φ_is
    𝒳_s itself); ``sector_clusters``: a cluster label per shock (e.g. its 3-digit industry), or None."""

    phi: sp.csr_matrix
    units: pd.Index
    unit_col: str
    multipliers: dict[str, str | None]
    sector_clusters: np.ndarray | None = None

    @property
    def columns(self) -> list[str]:
        return [self.unit_col, *[c for c in self.multipliers.values() if c]]

    def shares(self, df: pd.DataFrame, instruments: list[str]) -> Shares:
        missing = [z for z in instruments if z not in self.multipliers]
        if missing:
            raise ValueError(f"AKM: no share definition for instrument(s) {', '.join(missing)}")
        bad = [c for c in self.columns[1:] if df[c].isna().any()]
        if bad:
            raise ValueError(f"AKM: missing share multiplier(s) {', '.join(bad)} on the estimation sample")
        unit = self.units.get_indexer(df[self.unit_col])
        if (unit < 0).any():
            raise ValueError(f"AKM: {int((unit < 0).sum())} row(s) whose {self.unit_col} has no row in the share "
                             f"matrix (e.g. {df[self.unit_col].to_numpy()[unit < 0][0]!r})")
        mult = [None if self.multipliers[z] is None else df[self.multipliers[z]].to_numpy(np.float64)
                for z in instruments]
        return Shares(sp.csr_matrix(self.phi), unit, mult)


def attach(fit, df: pd.DataFrame, yp: np.ndarray, xp: np.ndarray, zp: np.ndarray, resid: np.ndarray,
           ss: ShiftShareVcov, L: int, kp) -> None:
    """Replace the variance of the endogenous coefficients of a 2SLS ``fit`` (and of the instrument
    coefficients of its first stages) by AKM's; FE and exogenous regressors already partialled out of
    ``yp``, ``xp`` (n × m endogenous) and ``zp`` (n × k instruments); ``resid``: the 2SLS residual.
    Also stores the Kleibergen–Paap F under AKM (``kp``: diagnostics.kleibergen_paap) and, with one
    endogenous regressor and one instrument, the AKM0 interval (``fit.extra['akm0']``)."""
    shares = ss.shares(df, fit.instruments)
    n, m, k = len(yp), xp.shape[1], zp.shape[1]
    hx = recovered_shocks(zp, shares, None)
    cl = ss.sector_clusters

    def meat(u):
        c = shock_contributions(u, shares, hx, None, cl)
        return c.T @ c

    zz_inv = np.linalg.inv(zp.T @ zp)
    pi = zz_inv @ zp.T @ xp
    A = np.linalg.solve(pi.T @ zp.T @ xp, pi.T)  # m × k: deviation of β̂_endog = A · Z'ε
    v_en = A @ meat(resid) @ A.T
    names = list(fit.coef.index)
    V = np.full((len(names), len(names)), np.nan)
    V[:m, :m] = v_en
    fit.vcov = pd.DataFrame(V, index=names, columns=names)
    fit.vcov_type, fit.cluster, fit.n_clusters = "akm", None, None
    n_cl = len(np.unique(cl)) if cl is not None else int(np.count_nonzero(hx))
    fit.extra["n_shock_clusters"] = n_cl
    v = xp - zp @ pi
    for j, e in enumerate(fit.endog):
        fs = fit.first_stages[e]
        vj = zz_inv @ meat(v[:, j]) @ zz_inv
        se = pd.Series(np.nan, index=fs.coef.index)
        se.iloc[:k] = np.sqrt(np.diag(vj))
        fs.se = se
        fs.f_excluded = float(pi[:, j] @ np.linalg.solve(vj, pi[:, j])) / k
        fs.f_pvalue = float(stats.chi2.sf(fs.f_excluded * k, k))
        fs.sw_f = np.nan
    fit.diagnostics.update(kp(xp, zp, lambda u: meat(u) / n, L))
    for key in [k for k in fit.diagnostics if not k.startswith(("kp_", "cd_", "min_canonical"))]:
        del fit.diagnostics[key]  # robust-only tests (AR, overidentification, endogeneity); AKM0 is AR's analogue
    if m == 1 and k == 1:
        beta = float(fit.coef.iloc[0])
        rx = float(zp[:, 0] @ xp[:, 0])
        cr = shock_contributions(resid, shares, hx, None, cl)[:, 0]
        cw = shock_contributions(xp[:, 0], shares, hx, None, cl)[:, 0]
        c0 = shock_contributions(yp, shares, hx, None, cl)[:, 0]
        lo, hi = akm0_interval(beta, rx, cr, cw, 0.05)
        fit.extra["akm0"] = {"term": names[0], "conf_low": lo, "conf_high": hi,
                             "p_value": float(2 * stats.norm.sf(abs(beta) / (np.sqrt(c0 @ c0) / abs(rx))))}
