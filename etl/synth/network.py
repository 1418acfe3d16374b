"""Link formation of the synthetic world.

Sellers are drawn by a four-step gravity process (paper eqs. 13–15): an input industry from the buyer
industry's input–output row; a source prefecture r with probability ∝ S_sr × d(h, r)^(−decay_s), S_sr the
supply mass of industry s in r and d(h, r) the distance between the capitals of the buyer's home prefecture
h and r (an effective intra-prefecture distance when r = h), decay_s = β ρ_s/(ρ_s−1) θ_s + γ φ_s θ_s; a
municipality inside r ∝ its supply mass × distance^(−decay_s) from the buyer's municipality; a seller in that
municipality ∝ its attractiveness. The expected number of sellers of s from r therefore satisfies eq. (15) at
the prefecture level exactly: ln E[N_isr] − ln E[N_is,ref] = −β [ρθ/(ρ−1) ln d] − γ [φθ ln d] (relative to the
reference region) + input-industry × region terms; municipality detail stays inside the prefecture. Every
step is a searchsorted on cumulative weights, so millions of links take seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd

from etl.geo import haversine_km

PARALLEL_DRAWS = 200_000  # calls with fewer draws (or links) work on the calling thread alone
T, U = TypeVar("T"), TypeVar("U")


def categorical_rows(cum_rows: np.ndarray, row_of: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sample one column per draw from row-normalised cumulative weights ``cum_rows`` (R×C)."""
    return categorical_rows_u(cum_rows, row_of, rng.random(len(row_of)))


def categorical_rows_u(cum_rows: np.ndarray, row_of: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``categorical_rows`` with the uniform draws ``u`` (one per draw) given."""
    n_rows, n_cols = cum_rows.shape
    flat = (cum_rows + np.arange(n_rows)[:, None]).ravel()
    pos = np.searchsorted(flat, row_of + u * (1 - 1e-12), side="right")
    return np.minimum(pos - row_of * n_cols, n_cols - 1)


@dataclass
class GravityWorld:
    """Precomputed supply side for one vintage: sellers sorted by (input industry, municipality)."""

    firm_ind3: np.ndarray  # int index of 3-digit industry per firm
    firm_muni: np.ndarray  # int index of municipality per firm
    attract: np.ndarray  # attractiveness (0 for firms not alive)
    muni_dist: np.ndarray  # M×M km, intra-municipality effective distance on the diagonal
    muni_pref: np.ndarray  # prefecture index (0–46) per municipality
    pref_dist: np.ndarray  # 47×47 km between capitals, intra-prefecture effective distance on the diagonal
    decay: np.ndarray  # decay per 3-digit industry index
    io_cum: np.ndarray  # buyer ind3 × input ind3 cumulative weights (rows normalised)

    def __post_init__(self) -> None:
        n_m, n_ind = self.muni_dist.shape[0], self.io_cum.shape[1]
        alive = self.attract > 0
        key = self.firm_ind3.astype(np.int64) * n_m + self.firm_muni
        self._order = np.flatnonzero(alive)[np.argsort(key[alive], kind="stable")]
        self._muni_sorted = self.firm_muni[self._order]
        self._cum = np.cumsum(self.attract[self._order])
        self._ind_bounds = np.searchsorted(self.firm_ind3[self._order], np.arange(n_ind + 1))
        # distance weights d^(−decay) of a decay shared by several industries (the non-manufacturing value),
        # computed once for all municipality pairs
        values, counts = np.unique(self.decay, return_counts=True)
        self._weights = {d: self.muni_dist ** (-d) for d in values[counts > 1].tolist()}
        self._supply = np.zeros((n_ind, n_m))
        np.add.at(self._supply, (self.firm_ind3[alive], self.firm_muni[alive]), self.attract[alive])
        self._has_supply = (self._supply > 0).any(axis=1)

    def sample(self, buyers: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One seller (firm index) per entry of ``buyers``; -1 where no seller could be drawn.

        Draws are grouped by input industry so that each industry's municipality weights are built
        once per call and its firms are searched in their own (cache-sized) block. The uniforms of every
        industry are drawn up front, in the order of a sequential pass (three per draw: prefecture,
        municipality, firm), so that large calls sample the industries on two threads with the same
        result: the work is numpy on large arrays, which releases the GIL (threads, not forked
        processes: a fork while a thread of a compiled library holds a lock deadlocks the child)."""
        n_ind = self.io_cum.shape[1]
        ind = categorical_rows(self.io_cum, self.firm_ind3[buyers], rng)
        bmuni = _small_int(self.firm_muni[buyers])
        # by industry, then buyer municipality (stable): local binary searches
        order = np.argsort(_small_int(ind), kind="stable")
        bounds = np.r_[0, np.cumsum(np.bincount(ind, minlength=n_ind))]
        inds = np.flatnonzero(np.diff(bounds))
        n_u = np.r_[0, np.cumsum(3 * np.diff(bounds)[inds] * self._has_supply[inds])]
        u = rng.random(n_u[-1])
        out = np.full(len(buyers), -1)

        def one(i: int) -> None:
            s = inds[i]
            sel = order[bounds[s]:bounds[s + 1]]
            sel = sel[np.argsort(bmuni[sel], kind="stable")]
            out[sel] = self._sample_in_industry(s, bmuni[sel].astype(np.int64), u[n_u[i]:n_u[i + 1]])

        biggest_first = np.argsort(-np.diff(n_u), kind="stable")
        if len(buyers) < PARALLEL_DRAWS:
            for i in biggest_first:
                one(i)
        else:
            with ThreadPoolExecutor(max_workers=2, thread_name_prefix="synth-gravity") as pool:
                for fut in [pool.submit(one, i) for i in biggest_first]:
                    fut.result()
        return out

    def _sample_in_industry(self, s: int, bmuni: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Sellers of input industry ``s`` for buyers in municipalities ``bmuni`` (sorted), with three
        uniforms per draw in ``u`` (none when the industry has no supply)."""
        supply = np.flatnonzero(self._supply[s] > 0)
        if len(supply) == 0:
            return np.full(len(bmuni), -1)
        n = len(bmuni)
        supply = supply[np.argsort(self.muni_pref[supply], kind="stable")]  # prefectures as column blocks
        spref, mass = self.muni_pref[supply], self._supply[s, supply]
        pref = self._draw_prefecture(s, spref, mass, self.muni_pref[bmuni], u[:n])
        col = self._draw_municipality(s, supply, spref, mass, bmuni, pref, u[n:2 * n])
        a, b = self._ind_bounds[s], self._ind_bounds[s + 1]
        # the firms of each supplying municipality: a block of the industry's sorted firms
        lo_c = a + np.searchsorted(self._muni_sorted[a:b], supply, side="left")
        hi_c = a + np.searchsorted(self._muni_sorted[a:b], supply, side="right")
        c_lo_c = np.where(lo_c > 0, self._cum[np.maximum(lo_c - 1, 0)], 0.0)
        lo, hi, c_lo = lo_c[col], hi_c[col], c_lo_c[col]
        at = c_lo + u[2 * n:] * (self._cum[hi_c - 1][col] - c_lo)
        pos = np.clip(a + np.searchsorted(self._cum[a:b], at, side="right"), lo, hi - 1)
        return self._order[pos]

    def _draw_prefecture(self, s: int, spref: np.ndarray, mass: np.ndarray, bpref: np.ndarray,
                         u: np.ndarray) -> np.ndarray:
        """Source prefecture per draw ∝ S_sr × d(h, r)^(−decay_s) (eq. 15 at the prefecture level)."""
        n_p = self.pref_dist.shape[0]
        S = np.bincount(spref, weights=mass, minlength=n_p)
        rows, row_of = unique_inverse(bpref)
        cum = np.cumsum(S[None, :] * self.pref_dist[rows] ** (-self.decay[s]), axis=1)
        cum /= cum[:, -1:]
        return categorical_rows_u(cum, row_of, u)

    def _draw_municipality(self, s: int, supply: np.ndarray, spref: np.ndarray, mass: np.ndarray,
                           bmuni: np.ndarray, pref: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Column of ``supply`` per draw: a municipality of the drawn prefecture ∝ supply mass ×
        distance^(−decay_s) from the buyer's municipality (conditional on the prefecture, so it leaves the
        prefecture-level relation untouched)."""
        rows, row_of = unique_inverse(bmuni)
        decay = float(self.decay[s])
        if decay in self._weights:
            w = self._weights[decay][np.ix_(rows, supply)]
        else:
            w = self.muni_dist[np.ix_(rows, supply)]
            w **= -self.decay[s]
        w *= mass
        cum = np.empty((len(rows), len(supply) + 1))
        cum[:, 0] = 0.0
        np.cumsum(w, axis=1, out=cum[:, 1:])
        del w
        cum /= cum[:, -1:]
        block = np.searchsorted(spref, np.arange(self.pref_dist.shape[0] + 1))  # prefectures' column blocks
        a, b = block[pref], block[pref + 1]
        lo, hi = cum[row_of, a], cum[row_of, b]
        u = lo + u * (hi - lo)
        width = cum.shape[1]
        cum += np.arange(len(rows))[:, None]
        pos = np.searchsorted(cum.ravel(), row_of + u, side="right") - row_of * width - 1
        return np.clip(pos, a, b - 1)


def municipality_distances(lat: np.ndarray, lon: np.ndarray, intra_km: np.ndarray) -> np.ndarray:
    """Centroid-to-centroid distances with an effective intra-municipality distance on the diagonal."""
    d = haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    np.fill_diagonal(d, intra_km)
    return np.maximum(d, 1.0)


def _small_int(x: np.ndarray) -> np.ndarray:
    """``x`` as int16 when its values fit (numpy's stable sort of 16-bit integers is a radix sort)."""
    return x.astype(np.int16) if len(x) and 0 <= x.min() and x.max() < 2**15 else x


def stable_order(key: np.ndarray, key_max: int) -> np.ndarray:
    """``np.argsort(key, kind="stable")`` for integer keys in [0, key_max): keys and positions packed into
    one uint64 each and sorted (much faster than an index sort); the index sort when they do not fit."""
    n = len(key)
    bits = max(n - 1, 0).bit_length()
    if n == 0 or max(key_max - 1, 0).bit_length() + bits > 64:
        return np.argsort(key, kind="stable")
    packed = (key.astype(np.uint64) << np.uint64(bits)) | np.arange(n, dtype=np.uint64)
    packed.sort()
    return (packed & np.uint64((1 << bits) - 1)).astype(np.int64)


def group_cumcount(group: np.ndarray, n: int) -> np.ndarray:
    """0-based position of each element among the earlier elements of its group (pandas
    ``groupby(...).cumcount()``) for integer groups in [0, n)."""
    order = stable_order(group, n)
    g = group[order]
    start = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1] if len(g) else np.zeros(0, np.int64)
    out = np.empty(len(g), np.int64)
    out[order] = np.arange(len(g)) - np.repeat(start, np.diff(np.r_[start, len(g)]))
    return out


def unique_inverse(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(x, return_inverse=True)``, without a sort when ``x`` is already sorted."""
    if len(x) and np.all(x[1:] >= x[:-1]):
        new = np.r_[True, x[1:] != x[:-1]]
        return x[new], np.cumsum(new) - 1
    return np.unique(x, return_inverse=True)


def member(x: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """``np.isin(x, sorted_set)`` for a sorted ``sorted_set`` (one binary search per element; a long ``x``
    is searched in sorted order against a large set, which keeps the searches in cache)."""
    if len(sorted_set) == 0:
        return np.zeros(len(x), bool)
    if len(x) < 100_000 or len(sorted_set) < 100_000:
        return sorted_set[np.minimum(np.searchsorted(sorted_set, x), len(sorted_set) - 1)] == x
    order = np.argsort(x)
    xs = x[order]
    out = np.empty(len(x), bool)
    out[order] = sorted_set[np.minimum(np.searchsorted(sorted_set, xs), len(sorted_set) - 1)] == xs
    return out


def unique_pairs(seller: np.ndarray, buyer: np.ndarray, n: int, forbid: tuple[np.ndarray, ...] = ()) -> np.ndarray:
    """Mask of draws that are not self-links, not repeats of an earlier draw and not in any array of
    ``forbid`` (each sorted pair keys seller*n+buyer). The look-ups in ``forbid`` run on the sorted unique
    keys, which keeps numpy's binary search cache-friendly on arrays of tens of millions."""
    key = seller.astype(np.int64) * n + buyer
    keep = np.zeros(len(key), bool)
    if len(key) == 0:
        return keep
    lo = key.min()
    order = stable_order(key - lo, int(key.max() - lo) + 1)
    ks = key[order]
    new = np.r_[True, ks[1:] != ks[:-1]]
    uniq, first = ks[new], order[new]  # sorted unique keys, each with its first draw
    for f in forbid:
        if len(f):
            ok = f[np.minimum(np.searchsorted(f, uniq), len(f) - 1)] != uniq
            uniq, first = uniq[ok], first[ok]
    keep[first] = True
    return keep & (seller >= 0) & (seller != buyer)


def report_scores(links: pd.DataFrame, sales: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Importance of each link to the buyer (seller's log sales + noise) and to the seller (buyer's)."""
    noise = rng.gumbel(0, 0.4, (2, len(links)))
    return (np.log(sales[links.seller.to_numpy()]) + noise[0], np.log(sales[links.buyer.to_numpy()]) + noise[1])


def group_order(group: np.ndarray, score: np.ndarray) -> np.ndarray:
    """``np.lexsort((-score, group))``: positions by group, then by descending score, ties by position.

    Group, a quantised score (monotone in the score) and position are packed into one uint64 per element
    and sorted as plain integers; elements whose group and quantised score coincide are then put in the
    exact order. Falls back to ``np.lexsort`` for negative groups, non-finite scores or too few bits."""
    n = len(group)
    if n == 0:
        return np.zeros(0, np.int64)
    pbits = max(n - 1, 0).bit_length()
    qbits = min(64 - pbits - int(group.max()).bit_length(), 52)  # quantised scores exact as float64
    hi, lo = score.max(), score.min()
    if qbits < 8 or group.min() < 0 or not (np.isfinite(hi) and np.isfinite(lo)):
        return np.lexsort((-score, group))
    top = (1 << qbits) - 1
    q = np.minimum(np.floor((hi - score) * (top / (hi - lo) if hi > lo else 0.0)), top).astype(np.uint64)
    packed = ((group.astype(np.uint64) << np.uint64(qbits + pbits)) | (q << np.uint64(pbits))
              | np.arange(n, dtype=np.uint64))
    del q
    packed.sort()
    order = (packed & np.uint64((1 << pbits) - 1)).astype(np.int64)
    key = packed >> np.uint64(pbits)
    del packed
    same = np.flatnonzero(key[1:] == key[:-1])  # i and i+1 share group and quantised score
    if len(same):
        tied = np.zeros(n, bool)
        tied[same] = True
        tied[same + 1] = True
        sel = np.flatnonzero(tied)
        run = np.cumsum(np.r_[True, key[sel[1:]] != key[sel[:-1]]])
        o = order[sel]
        order[sel] = o[np.lexsort((-score[o], run))]  # positions ascending within a run: stable
    return order


def group_rank(group: np.ndarray, score: np.ndarray) -> np.ndarray:
    """1-based rank of ``score`` (descending) within each ``group`` value, ties broken by position."""
    order = group_order(group, score)
    g = group[order]
    start = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    first = np.repeat(start, np.diff(np.r_[start, len(g)]))
    out = np.empty(len(g), np.int64)
    out[order] = np.arange(len(g)) - first + 1
    return out


def assign_reports(buyer: np.ndarray, seller: np.ndarray, score_b: np.ndarray, score_s: np.ndarray,
                   priority: np.ndarray, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """Which side reports each link, with at most ``cap`` supplier reports per buyer and ``cap`` customer
    reports per seller (section 2: top 24 each).

    Firms with at most ``cap`` partners report them all. A firm with more partners reports first the
    links that its partners cannot report (priority links first, then by importance), then fills its
    remaining places with its most important other links. Returns (by_buyer, by_seller) masks; links
    with neither are unobservable in the data."""
    n = int(max(buyer.max(initial=0), seller.max(initial=0))) + 1
    by_b = np.bincount(buyer, minlength=n)[buyer] <= cap
    by_s = np.bincount(seller, minlength=n)[seller] <= cap
    pr = priority.astype(float) * 1e3
    for side, group, score in (("b", buyer, score_b), ("s", seller, score_s)):
        unc = np.flatnonzero(~(by_b | by_s))
        if len(unc) == 0:
            break
        take = unc[group_rank(group[unc], pr[unc] + score[unc]) <= cap]
        (by_b if side == "b" else by_s)[take] = True

    def fill(mask: np.ndarray, group: np.ndarray, score: np.ndarray) -> None:
        used = np.bincount(group[mask], minlength=n)
        rest = np.flatnonzero(~mask)
        r = group_rank(group[rest], score[rest])
        mask[rest[r <= cap - used[group[rest]]]] = True

    both_sides(len(buyer), lambda: fill(by_b, buyer, score_b), lambda: fill(by_s, seller, score_s))
    return by_b, by_s


def in_halves(n: int, part: Callable[[slice], np.ndarray]) -> np.ndarray:
    """``part(slice(0, n))`` of an elementwise computation, as two halves on two threads when ``n`` is
    large (numpy's ufuncs release the GIL and give each element the same value in any slice)."""
    if n < PARALLEL_DRAWS:
        return part(slice(0, n))
    h = n // 2
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="synth-half") as pool:
        second = pool.submit(part, slice(h, n))
        return np.concatenate([part(slice(0, h)), second.result()])


def both_sides(n: int, first: Callable[[], T], second: Callable[[], U]) -> tuple[T, U]:
    """``(first(), second())``, on two threads when ``n`` (the rows they work on) is large: the two sides
    of a network are independent, and their sorts release the GIL."""
    if n < PARALLEL_DRAWS:
        return first(), second()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="synth-side") as pool:
        other = pool.submit(second)
        return first(), other.result()


def report_ranks(group: np.ndarray, score: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Rank (1 = most important) of each reported link within its reporter's list; 0 where not reported."""
    out = np.zeros(len(group), np.int64)
    idx = np.flatnonzero(mask)
    out[idx] = group_rank(group[idx], score[idx])
    return out
