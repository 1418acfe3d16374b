"""Eq. (16)'s relative seller characteristic log(x_j / x̄_i), pinned on a frame written by hand."""

import numpy as np
import pandas as pd
import pytest

from analytics.regressions import relative_to_buyer_mean


def _frame():
    # buyer A: sellers with x = 1 and 3; buyer B: x = 4, a missing value and a zero (neither enters x̄_B)
    return pd.DataFrame({"buyer_id": ["A", "A", "B", "B", "B"], "x": [1.0, 3.0, 4.0, np.nan, 0.0]})


def test_arithmetic_mean_is_eq16():
    d = _frame()
    rel = relative_to_buyer_mean(d.x, d.buyer_id)
    # x̄_A = (1 + 3) / 2 = 2, x̄_B = 4
    expected = [np.log(1 / 2), np.log(3 / 2), 0.0, np.nan, np.nan]
    np.testing.assert_allclose(rel.to_numpy(), expected, rtol=1e-15)


def test_geometric_variant_by_name():
    d = _frame()
    rel = relative_to_buyer_mean(d.x, d.buyer_id, "geometric")
    # exp(mean log x) over A = sqrt(3): log(1/√3), log(3/√3)
    np.testing.assert_allclose(rel.to_numpy()[:3], [-np.log(3) / 2, np.log(3) / 2, 0.0], rtol=1e-15)
    # the two definitions differ by log(arithmetic / geometric mean) ≥ 0, here log(2/√3)
    gap = relative_to_buyer_mean(d.x, d.buyer_id, "geometric") - relative_to_buyer_mean(d.x, d.buyer_id)
    assert gap.iloc[0] == pytest.approx(np.log(2 / np.sqrt(3)), rel=1e-14)
    with pytest.raises(ValueError, match="arithmetic"):
        relative_to_buyer_mean(d.x, d.buyer_id, "harmonic")
