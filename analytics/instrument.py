"""The firm-level shift-share instrument and the firm-based trade elasticity.

- WES_s = ln exp_s,2010 − ln exp_s,2005 per JSIC 4-digit (eq. 17);
- shock_i = Σ_s φ_is WES_s over the MANUFACTURING 4-digit industries s (the paper's 563 shocks), with
  φ_is = 1 if at least one of buyer i's base-vintage (2005) sellers has main industry s, counting every
  reported 2005 link of the buyer (parent–child links and sellers that exit by 2010 included), else 0
  (eq. 18). φ is also the share matrix of the shift-share (AKM) inference of eq. (16);
- θ′_s from the revenue moments of appendix B.3: σ²/µ² = Γ(1 − 2/θ′)/Γ(1 − 1/θ′)² − 1, then
  θ_s = (ρ_s − 1) θ′_s."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import optimize, special


def wes(world_exports: pd.DataFrame, year_from: int = 2005, year_to: int = 2010) -> pd.Series:
    """World export supply shock per 4-digit industry (eq. 17); industries missing a year are dropped."""
    w = world_exports.pivot_table(index="jsic4", columns="year", values="exports_usd", aggfunc="sum")
    w = w[(w.get(year_from, 0) > 0) & (w.get(year_to, 0) > 0)]
    return (np.log(w[year_to]) - np.log(w[year_from])).rename("wes")


def exposure(links: pd.DataFrame, seller_jsic4: pd.Series, industries: pd.Index,
             seller_industry: np.ndarray | None = None) -> tuple[sp.csr_matrix, pd.Index]:
    """φ (buyers × ``industries``, 0/1) of eq. (18) from the base-vintage links, and its row index (buyer
    ids: every buyer with at least one seller in ``industries``, in order of first appearance).
    ``seller_industry``: the sellers' 4-digit industries by link row when at hand (else looked up in
    ``seller_jsic4``); links with integer buyer codes ``b`` are de-duplicated on them."""
    ind = seller_jsic4.reindex(links.seller_id).to_numpy() if seller_industry is None else seller_industry
    codes, uniques = pd.factorize(ind)  # each distinct industry looked up once
    col = np.append(pd.Index(industries).get_indexer(uniques), -1)[codes]  # −1: NaN or not an industry
    coded = "b" in links and bool((links.b.to_numpy() >= 0).all())
    buyer = links.b.to_numpy() if coded else pd.factorize(links.buyer_id)[0]
    keep = np.flatnonzero(col >= 0)
    key = buyer[keep].astype(np.int64) * len(industries) + col[keep]
    first = keep[np.sort(np.unique(key, return_index=True)[1])]  # each (buyer, industry) once, in row order
    b_first = buyer[first]
    uniq, pos = np.unique(b_first, return_index=True)
    rank = np.empty(len(uniq), np.int64)
    rank[np.argsort(pos)] = np.arange(len(uniq))
    rows = pd.Index(links.buyer_id.to_numpy()[first[np.sort(pos)]], name="buyer_id")
    phi = sp.csr_matrix((np.ones(len(first)), (rank[np.searchsorted(uniq, b_first)], col[first])),
                        shape=(len(rows), len(industries)))
    return phi, rows


def shock(links: pd.DataFrame, seller_jsic4: pd.Series, wes_s: pd.Series,
          industries: pd.Index | None = None) -> pd.Series:
    """shock_i = Σ_s φ_is WES_s (eq. 18) over ``industries`` (default: every industry with a WES; the
    paper's: manufacturing 4-digit industries)."""
    industries = wes_s.index if industries is None else pd.Index(industries).intersection(wes_s.index)
    phi, rows = exposure(links, seller_jsic4, industries)
    return pd.Series(phi @ wes_s.reindex(industries).to_numpy(), index=rows, name="shock")


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
