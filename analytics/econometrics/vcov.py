"""Variance matrices with Stata's small-sample rules (reghdfe / ivreghdfe ``small``):

iid: σ² (X̂'X̂)⁻¹ with σ² = RSS/(N−K); robust: HC0 × N/(N−K); clustered: CR0 × (N−1)/(N−K) × G/(G−1),
with K = regressors + absorbed degrees of freedom. Multi-way clustering follows Cameron, Gelbach & Miller
(2011): the meat is the inclusion–exclusion sum over every intersection of the cluster variables
(two-way: M₁ + M₂ − M₁₂) and G is the smallest number of clusters, as ivreg2 / ivreghdfe do.

A new kind of variance plugs in at three places: ``VcovSpec.parse`` (the option), ``meat`` (the score
covariance) and ``small_factor`` (its finite-sample scaling)."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

# relative eigenvalue below which a variance matrix is treated as singular (Wald statistics undefined)
SINGULAR_RTOL = 1e-10


def _cluster_names(spec) -> tuple[str, ...]:
    """'a', 'a+b', 'a + b' or a list/tuple of column names → a tuple of names."""
    items = spec.split("+") if isinstance(spec, str) else list(spec)
    names = tuple(str(s).strip() for s in items if str(s).strip())
    if not names or len(set(names)) != len(names):
        raise ValueError(f"cluster variables must be distinct column names, got {spec!r}")
    return names


@dataclass(frozen=True)
class VcovSpec:
    kind: str  # iid | robust | cluster
    clusters: tuple[str, ...] = ()

    @property
    def cluster(self) -> str | None:
        """The cluster variables as written in a formula ('a' or 'a+b'); None when not clustered."""
        return "+".join(self.clusters) if self.clusters else None

    @staticmethod
    def parse(vcov) -> VcovSpec:
        """'iid', 'robust' (also 'hetero', 'HC1'), {'CRV1': col}, {'cluster': col} or ('cluster', col);
        ``col`` is one column, or several for multi-way clustering ('a+b' or ['a', 'b'])."""
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
                return VcovSpec("cluster", _cluster_names(col))
        if isinstance(vcov, tuple) and len(vcov) == 2 and vcov[0] == "cluster":
            return VcovSpec("cluster", _cluster_names(vcov[1]))
        raise ValueError(f"vcov must be 'iid', 'robust' or {{'cluster': column(s)}}, got {vcov!r}")


def cluster_codes(df: pd.DataFrame, spec: VcovSpec) -> np.ndarray | None:
    """Integer codes (n × number of cluster variables) of the clusters, or None when not clustered."""
    if spec.kind != "cluster":
        return None
    return np.column_stack([pd.factorize(df[c], sort=False)[0] for c in spec.clusters]).astype(np.int64)


def n_clusters(groups: np.ndarray | None) -> int | None:
    """G of the small-sample rules: the number of clusters, the smallest one with multi-way clustering
    (``groups`` are the 0…G−1 codes of ``cluster_codes``)."""
    if groups is None:
        return None
    g = np.asarray(groups).reshape(len(groups), -1)
    return int(g.max(axis=0).min()) + 1 if len(g) else 0


def _one_way(scores: np.ndarray, codes: np.ndarray) -> np.ndarray:
    g = int(codes.max()) + 1
    sums = np.column_stack([np.bincount(codes, weights=scores[:, j], minlength=g) for j in range(scores.shape[1])])
    return sums.T @ sums


def meat(scores: np.ndarray, kind: str, groups: np.ndarray | None = None) -> np.ndarray:
    """Σ sᵢsᵢ' (robust) or Σ_g (Σ_{i∈g} sᵢ)(Σ_{i∈g} sᵢ)' (cluster) for scores sᵢ (n × p); with several
    cluster variables, the Cameron–Gelbach–Miller inclusion–exclusion sum over their intersections."""
    if kind != "cluster":
        return scores.T @ scores
    g = np.asarray(groups).reshape(len(scores), -1)
    out = np.zeros((scores.shape[1], scores.shape[1]))
    for r in range(1, g.shape[1] + 1):
        for subset in combinations(range(g.shape[1]), r):
            codes = g[:, subset[0]] if r == 1 else np.unique(g[:, subset], axis=0, return_inverse=True)[1].ravel()
            out += (-1) ** (r + 1) * _one_way(scores, codes)
    return out


def small_factor(kind: str, n: int, k: int, g: int | None) -> float:
    if kind == "cluster":
        return (n - 1) / (n - k) * g / (g - 1)
    return n / (n - k)


def sandwich(xhat: np.ndarray, resid: np.ndarray, spec: VcovSpec, k: int, groups=None,
             bread: np.ndarray | None = None, overwrite: bool = False) -> np.ndarray:
    """Variance of (X̂'X̂)⁻¹X̂'y with the small-sample factor for K = ``k``; ``bread``: (X̂'X̂)⁻¹ when the
    caller has it (e.g. from the R factor of a QR decomposition); ``overwrite``: the scores may be formed
    in ``xhat``'s memory (no n × p temporary), which the caller does not read again."""
    n = xhat.shape[0]
    bread = np.linalg.inv(xhat.T @ xhat) if bread is None else bread
    if spec.kind == "iid":
        return bread * (resid @ resid) / (n - k)
    scores = np.multiply(xhat, resid[:, None], out=xhat if overwrite else None)
    m = meat(scores, spec.kind, groups)
    return bread @ m @ bread * small_factor(spec.kind, n, k, n_clusters(groups))


def is_singular(v: np.ndarray) -> bool:
    """True if ``v`` is not positive definite once scaled to unit diagonal (scale-free), e.g. a clustered
    variance of more restrictions than G − 1 clusters can identify."""
    d = np.diag(v)
    if v.size == 0 or not np.all(np.isfinite(v)) or np.any(d <= 0):
        return True
    ev = np.linalg.eigvalsh(v / np.sqrt(np.outer(d, d)))
    return bool(ev[0] <= SINGULAR_RTOL * ev[-1])


def wald(coef: np.ndarray, v: np.ndarray) -> float:
    """coef' V⁻¹ coef; NaN when V is singular (the statistic is not defined)."""
    if is_singular(v):
        return float("nan")
    return float(coef @ np.linalg.solve(v, coef))
