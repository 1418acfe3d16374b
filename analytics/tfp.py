"""Buyer productivity from the BSJBSA panel: Olley–Pakes (1996) TFP with value added as the dependent
variable (Table 3 note), and value added per worker, the alternative Table A4 also reports.

Written here because no maintained Python package implements Olley–Pakes; the two stages follow the
original: (1) ln VA = β_l ln L + φ(ln K, ln I) + ε with φ a third-order polynomial, (2) for β_k, nonlinear
least squares of ln VA − β_l ln L on β_k ln K + g(φ̂_{t−1} − β_k ln K_{t−1}) with g a third-order
polynomial (no exit correction)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize


@dataclass
class OPResult:
    beta_l: float
    beta_k: float
    nobs_stage1: int
    nobs_stage2: int


def _poly(a: np.ndarray, b: np.ndarray, degree: int = 3) -> np.ndarray:
    cols = [np.ones_like(a)]
    for d in range(1, degree + 1):
        for i in range(d + 1):
            cols.append(a ** (d - i) * b ** i)
    return np.column_stack(cols)


def olley_pakes(panel: pd.DataFrame, firm: str = "survey_id", year: str = "year") -> tuple[OPResult, pd.Series]:
    """Estimate (β_l, β_k) and return log TFP per (firm, year). ``panel`` needs value_added, employees,
    tangible_assets, investment (positive)."""
    p = panel[[firm, year, "value_added", "employees", "tangible_assets", "investment"]].copy()
    p = p[(p.value_added > 0) & (p.employees > 0) & (p.tangible_assets > 0) & (p.investment > 0)]
    p["va"], p["l"] = np.log(p.value_added), np.log(p.employees)
    p["k"], p["i"] = np.log(p.tangible_assets), np.log(p.investment)
    p = p.sort_values([firm, year]).reset_index(drop=True)
    P = _poly(p.k.to_numpy(), p.i.to_numpy())
    X1 = np.column_stack([p.l.to_numpy(), P])
    b1 = np.linalg.lstsq(X1, p.va.to_numpy(), rcond=None)[0]
    beta_l = float(b1[0])
    p["phi"] = P @ b1[1:]
    lag = p.groupby(firm)[["phi", "k", year]].shift(1)
    ok = (lag[year] == p[year] - 1).to_numpy()
    y2 = (p.va - beta_l * p.l).to_numpy()[ok]
    k, kl, phil = p.k.to_numpy()[ok], lag.k.to_numpy()[ok], lag.phi.to_numpy()[ok]

    def ssr(bk):
        w = phil - bk * kl
        G = np.column_stack([np.ones_like(w), w, w**2, w**3])
        r = y2 - bk * k
        return float(np.sum((r - G @ np.linalg.lstsq(G, r, rcond=None)[0]) ** 2))

    beta_k = float(optimize.minimize_scalar(ssr, bounds=(0.0, 1.0), method="bounded", options={"xatol": 1e-8}).x)
    tfp = pd.Series((p.va - beta_l * p.l - beta_k * p.k).to_numpy(), index=pd.MultiIndex.from_frame(p[[firm, year]]),
                    name="log_tfp")
    return OPResult(beta_l, beta_k, len(p), int(ok.sum())), tfp


def va_per_worker(panel: pd.DataFrame, firm: str = "survey_id", year: str = "year") -> pd.Series:
    p = panel[(panel.value_added > 0) & (panel.employees > 0)]
    return pd.Series(np.log(p.value_added / p.employees).to_numpy(), index=pd.MultiIndex.from_frame(p[[firm, year]]),
                     name="log_va_per_worker")
