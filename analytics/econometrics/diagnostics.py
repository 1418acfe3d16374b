"""Weak-instrument and identification diagnostics as ivreg2 / ranktest compute them.

All functions take data with fixed effects and included exogenous regressors already partialled out:
X (n × m endogenous), Z (n × k excluded instruments), y (n). ``L`` is the number of all instruments
(excluded + included exogenous, constant counted) plus the absorbed degrees of freedom; it sets the
small-sample scaling of every F statistic (ECONOMETRICS_NOTES)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd
from scipy import stats

from analytics.econometrics.vcov import VcovSpec, is_singular, meat, n_clusters, wald


def f_scale(spec: VcovSpec, n: int, L: int, g: int | None) -> float:
    """Wald χ² → F multiplier (before dividing by the restrictions): (N−L)/N, or (N−L)/(N−1)·(G−1)/G."""
    if spec.kind == "cluster":
        return (n - L) / (n - 1) * (g - 1) / g
    return (n - L) / n


def _scores_cov(u: np.ndarray, z: np.ndarray, spec: VcovSpec, groups) -> np.ndarray:
    """S = (1/N) Σ (uᵢ ⊗ zᵢ)(uᵢ ⊗ zᵢ)' (summed within clusters first), or σ_u ⊗ Z'Z/N under iid."""
    n, m = u.shape
    if spec.kind == "iid":
        return np.kron(u.T @ u / n, z.T @ z / n)
    s = (u[:, :, None] * z[:, None, :]).reshape(n, m * z.shape[1])
    return meat(s, spec.kind, groups) / n


def _rk_stat(X, Z, pi, spec, groups, use_residuals: bool, score_cov=None) -> float:
    """Kleibergen–Paap (2006) rk statistic for H0: rank(Π) = m − 1 (ranktest, ``full`` rank)."""
    n, m = X.shape
    rzz = np.linalg.cholesky(Z.T @ Z / n).T
    rxx = np.linalg.cholesky(X.T @ X / n).T
    theta = rzz @ pi @ np.linalg.inv(rxx)
    u_, _, vt = np.linalg.svd(theta, full_matrices=True)
    a_perp = u_[:, m - 1:]  # k × (k − m + 1)
    b_perp = vt.T[:, m - 1:]  # m × 1
    lam = (a_perp.T @ theta @ b_perp).reshape(-1, order="F")
    resid = X - Z @ pi if use_residuals else X
    S = score_cov(resid) if score_cov is not None else _scores_cov(resid, Z, spec, groups)
    T = np.kron(np.linalg.inv(rxx).T, np.linalg.inv(rzz).T)
    v_theta = T @ S @ T.T
    P = np.kron(b_perp.T, a_perp.T)
    v_lam = P @ v_theta @ P.T
    if is_singular(v_lam):  # e.g. more restrictions than clusters − 1
        return float("nan")
    return float(n * lam @ np.linalg.solve(v_lam, lam))


def canonical_correlations(X: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """Squared canonical correlations between X and Z, ascending."""
    sxx, szz, sxz = X.T @ X, Z.T @ Z, X.T @ Z
    M = np.linalg.solve(sxx, sxz @ np.linalg.solve(szz, sxz.T))
    return np.sort(np.real(np.linalg.eigvals(M)))


def kleibergen_paap(X, Z, spec: VcovSpec, groups, L: int) -> dict:
    """KP rk Wald statistic and F (ivreg2 scaling), rk LM statistic and its χ² p-value."""
    n, m = X.shape
    k = Z.shape[1]
    pi = np.linalg.lstsq(Z, X, rcond=None)[0]
    g = n_clusters(groups)
    if spec.kind == "iid":  # ranktest: iid Wald = Cragg–Donald, iid LM = Anderson canonical correlations
        ev = canonical_correlations(X, Z)[0]
        w, lm = n * ev / (1 - ev), n * ev
    else:
        w = _rk_stat(X, Z, pi, spec, groups, use_residuals=True)
        lm = _rk_stat(X, Z, pi, spec, groups, use_residuals=False)
    if spec.kind == "cluster":
        f = w / (n - 1) * (n - L) * (g - 1) / g / k
    else:
        f = w / n * (n - L) / k
    df = k - m + 1
    return {"kp_rk_wald": w, "kp_f": f, "kp_rk_lm": lm, "kp_rk_lm_df": df, "kp_rk_lm_p": float(stats.chi2.sf(lm, df))}


def kleibergen_paap_given(X, Z, score_cov, L: int) -> dict:
    """KP rk Wald and LM statistics with the score covariance S = Var(vec(Z'U))/N supplied as a function
    of the residual matrix U (e.g. the shock-level covariance of Adão–Kolesár–Morales); F with the
    robust scaling W/N·(N−L)/k."""
    n, m = X.shape
    k = Z.shape[1]
    pi = np.linalg.lstsq(Z, X, rcond=None)[0]
    w = _rk_stat(X, Z, pi, None, None, True, score_cov)
    lm = _rk_stat(X, Z, pi, None, None, False, score_cov)
    df = k - m + 1
    return {"kp_rk_wald": w, "kp_f": w / n * (n - L) / k, "kp_rk_lm": lm, "kp_rk_lm_df": df,
            "kp_rk_lm_p": float(stats.chi2.sf(lm, df))}


def cragg_donald(X, Z, L: int) -> dict:
    """Cragg–Donald Wald F from the smallest squared canonical correlation (iid)."""
    n = X.shape[0]
    ev = canonical_correlations(X, Z)[0]
    return {"cd_f": ev / (1 - ev) * (n - L) / Z.shape[1], "min_canonical_corr2": ev}


def _wald_f(y, Z, spec, groups, L: int, restrictions: int) -> tuple[float, float]:
    """F (and χ²) that every coefficient of y on Z is zero, ivreg2 small-sample scaling."""
    n = len(y)
    coef = np.linalg.lstsq(Z, y, rcond=None)[0]
    e = y - Z @ coef
    bread = np.linalg.inv(Z.T @ Z)
    if spec.kind == "iid":
        v = bread * (e @ e) / n
    else:
        v = bread @ meat(Z * e[:, None], spec.kind, groups) @ bread
    chi2 = wald(coef, v)
    g = n_clusters(groups)
    return chi2 / restrictions * f_scale(spec, n, L, g), chi2


def sanderson_windmeijer(X, Z, spec: VcovSpec, groups, L: int) -> list[tuple[float, int, int]]:
    """Sanderson & Windmeijer (2016) conditional first-stage F for each endogenous variable:
    F of Z on Xⱼ − X₋ⱼδ̂, δ̂ the 2SLS coefficient of Xⱼ on X₋ⱼ; df (k − m + 1, N − L)."""
    n, m = X.shape
    k = Z.shape[1]
    out = []
    zz = np.linalg.lstsq(Z, X, rcond=None)[0]
    xhat = Z @ zz
    for j in range(m):
        others = [i for i in range(m) if i != j]
        e = X[:, j].copy()
        if others:
            d = np.linalg.lstsq(xhat[:, others], X[:, j], rcond=None)[0]
            e = X[:, j] - X[:, others] @ d
        chi2 = _wald_f(e, Z, spec, groups, L, 1)[1]
        g = n_clusters(groups)
        out.append((chi2 / (k - m + 1) * f_scale(spec, n, L, g), k - m + 1, n - L))
    return out


def anderson_rubin(y, X, Z, spec: VcovSpec, groups, L: int, b0: np.ndarray | None = None) -> dict:
    """Anderson–Rubin test of H0: β_endog = b0 (default 0): F and χ² of Z in y − Xb0 on Z."""
    k = Z.shape[1]
    b0 = np.zeros(X.shape[1]) if b0 is None else np.asarray(b0, float)
    f, chi2 = _wald_f(y - X @ b0, Z, spec, groups, L, k)
    n = len(y)
    df2 = (n_clusters(groups) - 1) if spec.kind == "cluster" else n - L
    return {"ar_f": f, "ar_f_p": float(stats.f.sf(f, k, df2)), "ar_chi2": chi2, "ar_chi2_p": float(stats.chi2.sf(chi2, k))}


def moment_cov(e: np.ndarray, Z: np.ndarray, spec: VcovSpec, groups) -> np.ndarray:
    """S, the covariance of √n·ḡ with gᵢ = zᵢeᵢ: (1/N) Σ gᵢgᵢ' (robust), cluster sums (cluster, multi-way
    by inclusion–exclusion), or σ̂² Z'Z/N with σ̂² = e'e/N (iid). No small-sample factor (ivreg2)."""
    n = len(e)
    if spec.kind == "iid":
        return float(e @ e) / n * (Z.T @ Z) / n
    return meat(Z * e[:, None], spec.kind, groups) / n


def gmm_j(y: np.ndarray, X: np.ndarray, Z: np.ndarray, S: np.ndarray) -> float:
    """J = N ḡ(b)' S⁻¹ ḡ(b) at the efficient GMM estimate b with weight S⁻¹ (Hansen 1982); NaN when S is
    singular (ivreg2 then reports no overidentification statistic)."""
    if is_singular(S):
        return float("nan")
    n = len(y)
    zx, zy = Z.T @ X / n, Z.T @ y / n
    wzx = np.linalg.solve(S, zx)
    b = np.linalg.solve(zx.T @ wzx, wzx.T @ zy)
    g = Z.T @ (y - X @ b) / n
    return float(n * g @ np.linalg.solve(S, g))


def overidentification(y, X, Z, e, spec: VcovSpec, groups) -> dict:
    """Sargan (iid) or Hansen J (robust / cluster) test that the excluded instruments are valid, as ivreg2
    reports it: J of the two-step efficient GMM estimator whose weight comes from the 2SLS residuals ``e``.
    Under iid it is N·e'P_Z e / e'e. Empty when the equation is exactly identified. X, Z include the
    exogenous regressors (all data with the FE partialled out)."""
    q = Z.shape[1] - X.shape[1]
    if q <= 0:
        return {}
    name = "sargan" if spec.kind == "iid" else "hansen_j"
    j = gmm_j(y, X, Z, moment_cov(e, Z, spec, groups))
    return {name: j, f"{name}_df": q, f"{name}_p": float(stats.chi2.sf(j, q))}


def endogeneity(y, X, Z, tested: list[int], spec: VcovSpec, groups, k_full: int) -> dict:
    """C statistic (difference-in-Sargan/Hansen) that the regressors X[:, tested] are exogenous, as ivreg2's
    ``endog()``: J of the equation that adds them to the instruments minus J of the estimated equation, both
    weighted by S from the larger equation's 2SLS residuals, so C ≥ 0; χ²(len(tested)). Under iid this is the
    Durbin (1954) statistic, reported with the Wu–Hausman F (df len(tested), N − ``k_full`` − len(tested))."""
    q = len(tested)
    za = np.column_stack([Z, X[:, tested]])
    xhat = za @ np.linalg.lstsq(za, X, rcond=None)[0]
    ea = y - X @ np.linalg.lstsq(xhat, y, rcond=None)[0]
    sa = moment_cov(ea, za, spec, groups)
    c = gmm_j(y, X, za, sa) - gmm_j(y, X, Z, sa[:Z.shape[1], :Z.shape[1]])
    out = {"endog_c": c, "endog_c_df": q, "endog_c_p": float(stats.chi2.sf(c, q))}
    if spec.kind == "iid":
        n = len(y)
        delta = c * float(ea @ ea) / n
        v = n - k_full - q
        f = (delta / q) / ((float(ea @ ea) - delta) / v)
        out |= {"wu_hausman_f": f, "wu_hausman_p": float(stats.f.sf(f, q, v))}
    return out


@lru_cache(maxsize=1)
def _sy_table() -> pd.DataFrame:
    return pd.read_csv(resources.files(__package__) / "stock_yogo.csv")


def stock_yogo(n_endog: int, n_excluded: int) -> dict[str, float]:
    """Stock–Yogo (2005) critical values for the Cragg–Donald F as tabulated in ivreg2 (up to 30
    excluded instruments): 'ivbias5' … 'ivbias30' (relative bias), 'ivsize10' … 'ivsize25' (size)."""
    t = _sy_table()
    t = t[(t.n_endog == n_endog) & (t.n_excluded == n_excluded)]
    return {f"{r.test}{r.threshold}": float(r.critical_value) for r in t.itertuples()}
