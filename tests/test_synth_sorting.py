"""The integer-array helpers of the link sampler equal the numpy/pandas operations they replace (pandas
groupby rank/cumcount, np.lexsort, np.unique, np.isin), including ties, empty inputs and fallbacks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from etl.synth.network import (
    group_cumcount,
    group_order,
    group_rank,
    member,
    stable_order,
    unique_inverse,
    unique_pairs,
)


def _pandas_rank(group: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Independent: descending rank within group, ties by position (pandas 'first')."""
    d = pd.DataFrame({"g": group, "s": -score})
    return d.groupby("g").s.rank(method="first").to_numpy().astype(np.int64)


@pytest.mark.parametrize("n", [0, 1, 7, 5_000])
def test_group_rank_equals_pandas_and_lexsort(n):
    rng = np.random.default_rng(n)
    group = rng.integers(0, max(n // 20, 1), n)
    score = np.round(rng.normal(0, 1, n), 2)  # many exact ties
    score[: n // 10] = 0.0
    score[n // 10: n // 5] = -0.0  # equal to 0.0
    assert (group_order(group, score) == np.lexsort((-score, group))).all()
    if n:
        assert (group_rank(group, score) == _pandas_rank(group, score)).all()


def test_group_order_fallbacks_and_extremes():
    rng = np.random.default_rng(1)
    group = rng.integers(-3, 3, 200)  # negative groups: lexsort
    score = rng.normal(0, 1, 200)
    assert (group_order(group, score) == np.lexsort((-score, group))).all()
    score[5] = np.nan  # non-finite: lexsort
    assert (group_order(np.abs(group), score) == np.lexsort((-score, np.abs(group)))).all()
    const = np.full(50, 2.5)  # one value: position order within groups
    g = rng.integers(0, 4, 50)
    assert (group_order(g, const) == np.lexsort((-const, g))).all()
    wide = np.r_[1e300, -1e300, rng.normal(0, 1e-9, 98)]  # huge range, tiny differences
    g = rng.integers(0, 3, 100)
    assert (group_order(g, wide) == np.lexsort((-wide, g))).all()


@pytest.mark.parametrize("n", [0, 1, 1_000])
def test_stable_order_and_cumcount(n):
    rng = np.random.default_rng(n + 7)
    key = rng.integers(0, 30, n)
    assert (stable_order(key, 30) == np.argsort(key, kind="stable")).all()
    assert (stable_order(key, 2**62) == np.argsort(key, kind="stable")).all()  # too wide: index sort
    expected = pd.Series(key).groupby(key).cumcount().to_numpy()
    assert (group_cumcount(key, 30) == expected).all()


def test_unique_inverse_member_and_pairs():
    rng = np.random.default_rng(5)
    for x in (np.sort(rng.integers(0, 9, 50)), rng.integers(0, 9, 50), np.zeros(0, np.int64)):
        u, inv = unique_inverse(x)
        u0, inv0 = np.unique(x, return_inverse=True)
        assert (u == u0).all() and (inv == inv0).all()
    s = np.sort(rng.integers(0, 10**6, 150_000))
    for x in (rng.integers(0, 10**6, 200_000), rng.integers(0, 10**6, 10), np.zeros(0, np.int64)):
        assert (member(x, s) == np.isin(x, s)).all()
        assert (member(x, s[:0]) == np.isin(x, s[:0])).all()
    n = 40
    seller = rng.integers(-1, n, 3_000)
    buyer = rng.integers(0, n, 3_000)
    forbid = np.sort(rng.choice(n * n, 300, replace=False))
    key = seller.astype(np.int64) * n + buyer
    first = ~pd.Series(key).duplicated().to_numpy()
    expected = first & ~np.isin(key, forbid) & (seller >= 0) & (seller != buyer)
    assert (unique_pairs(seller, buyer, n, (forbid[:150], forbid[150:])) == expected).all()
    assert (unique_pairs(seller[:0], buyer[:0], n) == np.zeros(0, bool)).all()


def test_in_halves_gives_the_elementwise_values_of_one_pass(monkeypatch):
    """Distances computed in two halves on two threads are those of one pass, bit for bit."""
    import etl.synth.network as nw
    from etl.geo import haversine_km

    rng = np.random.default_rng(8)
    n = 300_001
    lat, lon = rng.uniform(24, 46, (2, n))
    lat2, lon2 = rng.uniform(122, 154, (2, n)) - 100

    def part(h):
        return np.log(np.maximum(haversine_km(lat[h], lon[h], lat2[h], lon2[h]), 0.1))

    monkeypatch.setattr(nw, "PARALLEL_DRAWS", 1000)
    got = nw.in_halves(n, part)
    assert got.tobytes() == part(slice(0, n)).tobytes()
