"""The firm-level shift-share instrument and the firm-based trade elasticity.

- WES_s = ln exp_s,2010 − ln exp_s,2005 per JSIC 4-digit (eq. 17);
- shock_i = Σ_s φ_is WES_s, φ_is = 1 if buyer i sources 4-digit manufacturing industry s domestically
  in the base vintage (eq. 18);
- θ′_s from the revenue moments of appendix B.3: σ²/µ² = Γ(1 − 2/θ′)/Γ(1 − 1/θ′)² − 1, then
  θ_s = (ρ_s − 1) θ′_s."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, special


def wes(world_exports: pd.DataFrame, year_from: int = 2005, year_to: int = 2010) -> pd.Series:
    """World export supply shock per 4-digit industry (eq. 17); industries missing a year are dropped."""
    w = world_exports.pivot_table(index="jsic4", columns="year", values="exports_usd", aggfunc="sum")
    w = w[(w.get(year_from, 0) > 0) & (w.get(year_to, 0) > 0)]
    return (np.log(w[year_to]) - np.log(w[year_from])).rename("wes")


def shock(links: pd.DataFrame, seller_jsic4: pd.Series, wes_s: pd.Series) -> pd.Series:
    """shock_i = Σ_s φ_is WES_s over the distinct 4-digit industries of buyer i's sellers (eq. 18)."""
    ind = seller_jsic4.reindex(links.seller_id).to_numpy()
    d = pd.DataFrame({"buyer_id": links.buyer_id.to_numpy(), "jsic4": ind})
    d = d[d.jsic4.isin(wes_s.index)].drop_duplicates()
    return d.assign(w=wes_s.reindex(d.jsic4).to_numpy()).groupby("buyer_id").w.sum().rename("shock")


def cv2_of_theta_prime(tp: float) -> float:
    """σ²/µ² of a Fréchet with shape θ′ (> 2)."""
    return float(np.exp(special.gammaln(1 - 2 / tp) - 2 * special.gammaln(1 - 1 / tp)) - 1)


def theta_prime_from_cv2(cv2: float) -> float:
    """Invert σ²/µ² = Γ(1−2/θ′)/Γ(1−1/θ′)² − 1 for θ′ > 2 (monotone decreasing in θ′)."""
    if not np.isfinite(cv2) or cv2 <= 0:
        return float("nan")
    return float(optimize.brentq(lambda t: cv2_of_theta_prime(t) - cv2, 2.0 + 1e-9, 1e4, xtol=1e-12))


def firm_based_theta(revenue: pd.Series, industry: pd.Series, rho: pd.Series, min_firms: int = 30) -> pd.DataFrame:
    """θ′_s and θ_s = (ρ_s − 1)θ′_s per industry from firm revenue (appendix B.3)."""
    df = pd.DataFrame({"r": revenue.to_numpy(), "s": industry.to_numpy()})
    df = df[df.r > 0]
    g = df.groupby("s").r
    m = pd.DataFrame({"n": g.size(), "mean": g.mean(), "var": g.var(ddof=0)})
    m = m[m.n >= min_firms]
    m["cv2"] = m["var"] / m["mean"] ** 2
    m["theta_prime"] = m.cv2.map(theta_prime_from_cv2)
    m["rho"] = rho.reindex(m.index)
    m["theta_firm"] = (m.rho - 1) * m.theta_prime
    return m
