"""One absorbed design for many specifications on the same frame (Table 5 fits twelve on one 6–8M-row
frame; Tables 4 and A5 three per frame).

For each estimation sample (the rows left after missing values and singletons, for given FE sets and
cluster variables) the fixed effects are factorised, their degrees of freedom counted and the cluster codes
built once, and every column of the design that is complete on the sample is demeaned in one call (each
column converges on its own, so this equals demeaning it alone). The QR decomposition of all the demeaned
columns is taken once as well: its R factor has the cross-products of the n rows, so every specification
screens its variables (absorbed, collinear) and solves its least-squares problems on a P × p slice of R
instead of n rows; only the residuals and the score sums of the variance stay at n rows.

``feiv(formula, design, vcov=…)`` fits a specification from a design; ``feiv(formula, frame, …)`` builds
a one-off design, so both paths run the same code. A design keeps what it absorbed until it is dropped:
one per sample the specifications use, the demeaned columns of each (n × P doubles)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from analytics.econometrics.fixed_effects import Absorbed, absorb, demean, reclustered
from analytics.econometrics.sample import bad_rows, column_norms, sample_columns, select, share_from_norms
from analytics.econometrics.vcov import VcovSpec, cluster_codes

CONST = "_cons"
# columns demeaned per call (the compiled demeaning needs row-major copies of what it is given)
DEMEAN_COLUMNS = 2
# rows per block of the QR decomposition (tall-skinny QR: each block's R, then the R of the stacked R's)
QR_BLOCK = 1 << 12


def r_factor(m: np.ndarray) -> np.ndarray:
    """R of the QR decomposition of ``m`` (n × P, n possibly millions) by blocks: R'R = m'm without forming
    m'm, as numerically stable as one Householder QR, in cache-sized pieces (on one BLAS thread, see
    ``one_blas_thread``)."""
    if len(m) <= QR_BLOCK:
        return np.linalg.qr(m, mode="r")
    rs = [np.linalg.qr(m[i:i + QR_BLOCK], mode="r") for i in range(0, len(m), QR_BLOCK)]
    return np.linalg.qr(np.vstack(rs), mode="r")


@cache
def _threadpools() -> ThreadpoolController:
    """The process's thread pools, found once: finding them walks every loaded library (about 0.1 s with
    the analytics stack loaded, which ``threadpool_limits`` pays on each call). BLAS is numpy's own, loaded
    before this module."""
    return ThreadpoolController()


def one_blas_thread():
    """A context with BLAS on one thread: the estimators' BLAS calls are thin (n × p, p ≲ 10) or small,
    where thread start-up and synchronisation cost more than they give (a 6.2M × 7 QR by blocks took 0.9 s
    on one thread and 31 s on two on a busy 2-core machine)."""
    return _threadpools().limit(limits=1, user_api="blas")


def missing(cache: dict, data: pd.DataFrame, col: str, numeric: bool) -> np.ndarray:
    """``sample.bad_rows`` of a column, computed once per frame (``cache``)."""
    key = (col, numeric)
    if key not in cache:
        cache[key] = bad_rows(data[col], numeric)
    return cache[key]


class AbsorbedSample:
    """One estimation sample of a design: its rows, FE, clusters, and its columns demeaned (with FE) or raw
    (without FE, where the constant is a regressor, ``_cons``)."""

    def __init__(self, design: AbsorbedDesign, sel, fe: list[str], vs: VcovSpec, twin: AbsorbedSample | None = None):
        """``twin``: a sample of the same rows and FE for other clusters, whose FE codes and demeaned columns
        this one shares (what one loads, the other has)."""
        # the frame, the design's columns and its missing-row masks, not the design (no reference cycle:
        # a design and its samples are freed as soon as the design is dropped)
        self.data, self.columns, self._bad = design.data, design.columns, design.bad_masks
        self.rows, self.fe = sel.rows, list(fe)
        self.nobs, self.n_input, self.dropped = len(sel.rows), sel.n_input, sel.dropped
        self.groups = cluster_codes(sel.keys, vs)
        self._all = len(sel.rows) == sel.n_input
        self.fits: dict[str, object] = {}  # fits of this sample by specification and vcov (``iv._estimate``)
        if twin is not None:
            self.absorbed = reclustered(twin.absorbed, sel.keys, vs.clusters, self.groups) if twin.absorbed else None
            self._blocks, self._where, self._skip, self._r = twin._blocks, twin._where, twin._skip, twin._r
            self.share, self.tss, self.ss_within = twin.share, twin.tss, twin.ss_within
            return
        self.absorbed: Absorbed | None = absorb(sel.keys, fe, vs.clusters, sel.codes, self.groups) if fe else None
        self._blocks: list[np.ndarray] = []
        self._where: dict[str, tuple[int, int]] = {}
        self._skip: set[str] = {CONST}  # design columns not complete on this sample (and the constant)
        self.share: dict[str, float] = {}
        self.tss: dict[str, float] = {}  # Σ (x − x̄)² of the raw column
        self.ss_within: dict[str, float] = {}  # Σ w² of the demeaned column (centred without FE)
        self._r: dict[bool, tuple[list[str], np.ndarray]] = {}

    def _raw(self, col: str) -> np.ndarray:
        x = self.data[col].to_numpy(np.float64, na_value=np.nan)
        return x if self._all else x[self.rows]

    def load(self, cols: Sequence[str]) -> None:
        """Demean ``cols`` and every other column of the design complete on this sample that is not loaded
        yet (one block of columns)."""
        if all(c in self._where for c in cols):
            return
        todo = [c for c in dict.fromkeys([*cols, *self.columns]) if c not in self._where and c not in self._skip]
        new = [c for c in todo if c in cols or self.complete(c)]
        self._skip.update(set(todo) - set(new))
        if self.absorbed is None:
            raw = self._raw_block(new)
            centred, norm, within = column_norms(raw, raw - raw.mean(axis=0))
            w = raw
            if CONST not in self._where:
                w = np.asfortranarray(np.column_stack([raw, np.ones(self.nobs)]))
        else:
            w, (centred, norm, within) = self._demeaned(new)
        share = share_from_norms(centred, norm, within)
        for j, c in enumerate(new):
            self.share[c], self.tss[c], self.ss_within[c] = float(share[j]), centred[j] ** 2, within[j] ** 2
        if self.absorbed is None and CONST not in self._where:
            new = [*new, CONST]
        self._blocks.append(w)
        self._where.update({c: (len(self._blocks) - 1, j) for j, c in enumerate(new)})
        self._r.clear()

    def _raw_block(self, cols: Sequence[str]) -> np.ndarray:
        """The raw columns on this sample, column-major (every column contiguous)."""
        raw = np.empty((self.nobs, len(cols)), order="F")
        for j, c in enumerate(cols):
            raw[:, j] = self._raw(c)
        return raw

    def _demeaned(self, cols: Sequence[str]) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """``cols`` demeaned, column-major, and their ``column_norms``. Demeaned ``DEMEAN_COLUMNS`` at a
        time: each column converges on its own, so this gives the values of one call on all of them, with
        temporaries (raw, scaled, demeaned copies) of a few columns instead of all."""
        w = np.empty((self.nobs, len(cols)), order="F")
        ones = np.ones(self.nobs)  # the weights, shared by the calls
        norms = []
        for lo in range(0, len(cols), DEMEAN_COLUMNS):
            raw = self._raw_block(cols[lo:lo + DEMEAN_COLUMNS])
            hi = lo + raw.shape[1]
            w[:, lo:hi] = demean(raw, self.absorbed, ones)
            norms.append(column_norms(raw, w[:, lo:hi]))
            del raw
        return w, tuple(np.concatenate(x) for x in zip(*norms, strict=True))

    def complete(self, col: str) -> bool:
        """True if ``col`` is a numeric column with a finite value in every row of this sample."""
        s = self.data[col]
        if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
            return False
        bad = missing(self._bad, self.data, col, True)
        return not (bad.any() if self._all else bad[self.rows].any())

    def w(self, cols: Sequence[str]) -> np.ndarray:
        """The loaded columns ``cols`` (n × len(cols)): demeaned, or raw (and ``_cons``) without FE."""
        out = np.empty((self.nobs, len(cols)), order="F")
        for j, c in enumerate(cols):
            b, k = self._where[c]
            out[:, j] = self._blocks[b][:, k]
        return out

    def rspace(self, cols: Sequence[str], centred: bool = False) -> np.ndarray:
        """Columns ``cols`` of the R factor of the QR decomposition of all loaded columns (demeaned; with
        ``centred`` and no FE, centred and without ``_cons``): the same cross-products as the n-row columns."""
        key = centred and self.absorbed is None
        if key not in self._r:
            names = [c for c in self._where if not (key and c == CONST)]
            m = self._blocks[0] if len(self._blocks) == 1 and not key else self.w(names)
            if key:
                m -= m.mean(axis=0)
            self._r[key] = (names, r_factor(m))
            del m
        names, r = self._r[key]
        return r[:, [names.index(c) for c in cols]]


class AbsorbedDesign:
    """A frame and the numeric ``columns`` its specifications use; the samples it has absorbed."""

    def __init__(self, data: pd.DataFrame, columns: Sequence[str] = ()):
        self.data = data
        self.columns = list(columns)
        self.bad_masks: dict[tuple[str, bool], np.ndarray] = {}
        self._samples: list[tuple[tuple, np.ndarray, AbsorbedSample]] = []

    def sample(self, numeric: list[str], fe: list[str], vs: VcovSpec, drop_singletons: bool = True
               ) -> AbsorbedSample:
        """The sample of these variables, FE and clusters (``sample.select``), absorbed once."""
        cols = sample_columns(self.data, numeric, fe, vs)
        bad = np.zeros(len(self.data), bool)
        for c in cols:
            bad |= missing(self.bad_masks, self.data, c, c in numeric)
        key = (tuple(fe), vs.clusters, drop_singletons)
        for k, b, smp in self._samples:
            if k == key and np.array_equal(b, bad):
                return smp
        sel = select(self.data, numeric, fe, vs, drop_singletons, bad)
        twin = next((s for k, _, s in self._samples if (k[0], k[2]) == (key[0], key[2]) and len(s.rows) == len(sel.rows)
                     and np.array_equal(s.rows, sel.rows)), None)  # the same rows and FE, other clusters
        smp = AbsorbedSample(self, sel, fe, vs, twin)
        self._samples.append((key, bad, smp))
        return smp
