"""Absorbed fixed effects with reghdfe's conventions (ECONOMETRICS_NOTES):

- singletons are dropped iteratively (an observation alone in a level of any FE set);
- demeaning by alternating projections at tolerance 1e-8 (pyfixest's compiled ``demean``), every column
  on its own, so one call demeans all the columns of many specifications (``design``);
- absorbed degrees of freedom: the rank of the FE dummies (constant included). Between the first two
  sets the redundant levels are the connected components of their bipartite graph (exact); every further
  set is taken to have one redundant level, as reghdfe does. FE sets nested in the cluster variable
  add nothing when SEs are clustered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

DEMEAN_TOL = 1e-8


@dataclass
class Absorbed:
    """Integer codes of the FE sets on the estimation sample and their degrees of freedom."""

    names: list[str]
    codes: np.ndarray  # n × g, uint64
    levels: list[int]
    df_a: int  # rank of the FE span including the constant (before any nesting adjustment)
    nested: list[str]  # FE sets nested in the cluster variable

    def df_absorbed(self, cluster_nested: bool) -> int:
        """Absorbed df for the small-sample K: nested sets dropped when SEs are clustered."""
        if not cluster_nested or not self.nested:
            return self.df_a
        keep = [i for i, n in enumerate(self.names) if n not in self.nested]
        if not keep:
            return 1  # only the constant remains
        return _rank([self.codes[:, i] for i in keep], [self.levels[i] for i in keep])


def factorize(df: pd.DataFrame, names: list[str]) -> np.ndarray:
    """Dense integer codes 0…L−1 of each FE set, in order of first appearance."""
    return np.column_stack([pd.factorize(df[c], sort=False)[0] for c in names]).astype(np.uint64)


def singleton_mask(codes: np.ndarray) -> np.ndarray:
    """Rows to keep after iteratively dropping singletons of every FE set: a kept row is dropped when its
    level of some set has one kept row."""
    cols = [codes[:, j].astype(np.intp) for j in range(codes.shape[1])]
    keep = np.ones(codes.shape[0], bool)
    every = True  # no row dropped yet: count on the whole column, without selecting
    while True:
        drop = np.zeros_like(keep)
        for c in cols:
            counts = np.bincount(c if every else c[keep], minlength=int(c.max(initial=-1)) + 1)
            drop |= counts[c] == 1
        drop &= keep
        if not drop.any():
            return keep
        keep &= ~drop
        every = False


def _rank(codes: list[np.ndarray], levels: list[int]) -> int:
    """Rank of [D_1 … D_g] (constant in the span) for dense codes 0…levels−1 (as ``factorize`` gives):
    exact for two sets, one redundant level per extra set."""
    if not codes:
        return 1
    if len(codes) == 1:
        return levels[0]
    na, nb = levels[0], levels[1]
    a, b = codes[0].astype(np.int64), codes[1].astype(np.int64)
    g = coo_matrix((np.ones(len(a)), (a, na + b)), shape=(na + nb, na + nb))
    n_comp, _ = connected_components(g, directed=False)
    return na + nb - n_comp + sum(n - 1 for n in levels[2:])


def is_nested(fe: np.ndarray, cluster: np.ndarray) -> bool:
    """True if every level of ``fe`` (dense codes 0…L−1) lies within one cluster: each row's cluster equals
    the cluster recorded for its level."""
    fe = fe.astype(np.int64)
    if len(fe) == 0:
        return True
    first = np.empty(int(fe.max()) + 1, dtype=cluster.dtype)
    first[fe] = cluster
    return bool(np.array_equal(first[fe], cluster))


def absorb(df: pd.DataFrame, names: list[str], clusters: str | Sequence[str] | None = (),
           codes: np.ndarray | None = None, groups: np.ndarray | None = None) -> Absorbed:
    """FE codes and absorbed df; an FE set nested in any of the cluster variables is marked nested
    (reghdfe). ``codes``: the ``factorize`` codes of ``names`` on these rows, when the caller has them;
    ``groups``: the cluster codes (``vcov.cluster_codes``), likewise."""
    codes = factorize(df, names) if codes is None else codes
    levels = [int(codes[:, j].max()) + 1 if len(codes) else 0 for j in range(codes.shape[1])]
    df_a = _rank([codes[:, j] for j in range(codes.shape[1])], levels)
    return reclustered(Absorbed(names, codes, levels, df_a, []), df, clusters, groups)


def reclustered(ab: Absorbed, df: pd.DataFrame, clusters: str | Sequence[str] | None = (),
                groups: np.ndarray | None = None) -> Absorbed:
    """``ab`` (the FE of the rows of ``df``) for other cluster variables: only the nesting changes.
    ``groups``: the codes of ``clusters`` (one column each), when the caller has them."""
    clusters = [clusters] if isinstance(clusters, str) else list(clusters or ())
    cls = ([pd.factorize(df[c])[0] for c in clusters] if groups is None
           else [groups[:, j] for j in range(groups.shape[1])])
    nested = [n for j, n in enumerate(ab.names) if any(is_nested(ab.codes[:, j], cl) for cl in cls)]
    return Absorbed(ab.names, ab.codes, ab.levels, ab.df_a, nested)


def demean(x: np.ndarray, ab: Absorbed | None, weights: np.ndarray | None = None) -> np.ndarray:
    """Columns of ``x`` with every FE set projected out (or the mean removed when none). Each column is
    scaled to unit standard deviation first, so the tolerance is relative to the variable's own scale, and
    iterates to convergence on its own: demeaning columns together gives what demeaning each alone gives.
    Never called on an empty array: the compiled demeaning aborts the process on one."""
    x = np.asarray(x, dtype=np.float64)
    if ab is None or not ab.names:
        return x - x.mean(axis=0)
    if x.shape[0] == 0:
        raise ValueError("cannot demean an empty sample")
    from pyfixest.estimation import demean as _pf_demean

    # column by column on column-major data: the same values as x.std(axis=0) (each column is one
    # contiguous pairwise sum either way) without its two n × p temporaries, about 8 times faster
    sd = np.array([x[:, j].std() for j in range(x.shape[1])]) if x.flags.f_contiguous else x.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    w = np.ones(x.shape[0]) if weights is None else weights
    # in x's own memory order: the compiled code takes either and gives the same values
    xs = np.divide(x, sd, out=np.empty(x.shape, order="F" if x.flags.f_contiguous else "C"))
    out, ok = _pf_demean(xs, np.ascontiguousarray(ab.codes), w, tol=DEMEAN_TOL)
    del xs
    if not ok:
        raise RuntimeError("fixed-effect demeaning did not converge (tolerance 1e-8)")
    out *= sd
    return out
