"""Variance matrices with Stata's small-sample rules (reghdfe / ivreghdfe ``small``):

iid: σ² (X̂'X̂)⁻¹ with σ² = RSS/(N−K); robust: HC0 × N/(N−K); clustered: CR0 × (N−1)/(N−K) × G/(G−1),
with K = regressors + absorbed degrees of freedom (ECONOMETRICS_NOTES)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class VcovSpec:
    kind: str  # iid | robust | cluster
    cluster: str | None = None

    @staticmethod
    def parse(vcov) -> VcovSpec:
        """'iid', 'robust' (also 'hetero', 'HC1'), {'CRV1': col}, {'cluster': col} or ('cluster', col)."""
        if isinstance(vcov, VcovSpec):
            return vcov
        if isinstance(vcov, str):
            v = vcov.lower()
            if v in ("iid", "homoskedastic"):
                return VcovSpec("iid")
            if v in ("robust", "hetero", "hc1"):
                return VcovSpec("robust")
        if isinstance(vcov, dict) and len(vcov) == 1:
            (k, col), = vcov.items()
            if k.lower() in ("crv1", "cluster"):
                return VcovSpec("cluster", col)
        if isinstance(vcov, tuple) and len(vcov) == 2 and vcov[0] == "cluster":
            return VcovSpec("cluster", vcov[1])
        raise ValueError(f"vcov must be 'iid', 'robust' or {{'cluster': column}}, got {vcov!r}")


def meat(scores: np.ndarray, kind: str, groups: np.ndarray | None = None) -> np.ndarray:
    """Σ sᵢsᵢ' (robust) or Σ_g (Σ_{i∈g} sᵢ)(Σ_{i∈g} sᵢ)' (cluster) for scores sᵢ (n × p)."""
    if kind == "cluster":
        g = pd.factorize(groups)[0]
        sums = np.zeros((g.max() + 1, scores.shape[1]))
        np.add.at(sums, g, scores)
        return sums.T @ sums
    return scores.T @ scores


def small_factor(kind: str, n: int, k: int, g: int | None) -> float:
    if kind == "cluster":
        return (n - 1) / (n - k) * g / (g - 1)
    return n / (n - k)


def sandwich(xhat: np.ndarray, resid: np.ndarray, spec: VcovSpec, k: int, groups=None) -> np.ndarray:
    """Variance of (X̂'X̂)⁻¹X̂'y with the small-sample factor for K = ``k``."""
    n = xhat.shape[0]
    bread = np.linalg.inv(xhat.T @ xhat)
    if spec.kind == "iid":
        return bread * (resid @ resid) / (n - k)
    g = len(np.unique(groups)) if spec.kind == "cluster" else None
    m = meat(xhat * resid[:, None], spec.kind, groups)
    return bread @ m @ bread * small_factor(spec.kind, n, k, g)


def wald(coef: np.ndarray, v: np.ndarray) -> float:
    """coef' V⁻¹ coef."""
    return float(coef @ np.linalg.solve(v, coef))
