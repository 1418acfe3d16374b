"""The robustness exhibits (footnotes 24, 25, 49) recomputed from the ETL cache with pandas and estimated
with pyfixest, each against the number run_all wrote."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from tests.test_tables_recomputed import (
    Y1,
    assert_same,
    d,  # noqa: F401 - module fixture
    drop_singletons,
    pair_frame,
    sellers_change_fit,
    written,
)


def test_r1_alternative_import_starters(run, d):  # noqa: F811
    """Footnote 24: starters import in 2010 and 2011; the sample never imported in 2003-2005 and imports in
    neither or both of 2010 and 2011."""
    out, _ = run
    s = d["survey"]
    imp = s.pivot_table(index="tsr_id", columns="year", values="imports_total", aggfunc="first")
    pre = imp[[2003, 2004, 2005]]
    never = pre.notna().all(axis=1) & (pre == 0).all(axis=1)
    both, neither = (imp[Y1] > 0) & (imp[Y1 + 1] > 0), (imp[Y1] == 0) & (imp[Y1 + 1] == 0)
    ok = never & (both | neither)
    b = pd.DataFrame({"D": both.astype(float)})[ok]
    b = b[b.index.isin(d["buyers"].index)]
    assert 0 < b.D.sum() < len(b)
    m = sellers_change_fit(d, b, d["links"])
    assert_same(out, "R1", "Δlog(Nb. Sellers)", m.coef(), m.se(), ["imp_starter", "log_tfp"], m._N)


def test_r2_all_links_kept(run, d):  # noqa: F811
    """Footnote 25: every link of the buyer counts (parent-child links, sellers under 5 employees, sellers
    absent from the other vintage)."""
    out, _ = run
    m = sellers_change_fit(d, d["buyers"][~d["buyers"].imp05], d["raw_links"], min_employees=0)
    assert_same(out, "R2", "Δlog(Nb. Sellers)", m.coef(), m.se(), ["imp_starter", "log_tfp"], m._N)
    t3 = written(out, "3", "Δlog(Nb. Sellers)")
    assert t3.estimate["imp_starter"] != pytest.approx(m.coef()["imp_starter"], rel=1e-6)


@pytest.mark.parametrize("table, kind", [("7", "drop"), ("8", "add")])
def test_r3_eq16_with_buyer_fe(run, d, table, kind):  # noqa: F811
    """Footnote 49: eq. (16) 2SLS with buyer FE added (Imp Starter absorbed), sales interaction, clustered
    by buyer (pyfixest IV)."""
    out, _ = run
    fe = ["in_ind", "b_ind", "src_pref", "b_pref", "buyer_id"]
    x = pair_frame(d, table)
    x = drop_singletons(x.dropna(subset=["y", "rel", "D", "log_sales", *fe]), fe).reset_index(drop=True)
    m = pf.feols(f"y ~ rel | {' + '.join(fe)} | D_x ~ Z_x", x, vcov={"CRV1": "buyer_id"})
    w = written(out, "R3", f"{kind}: 2SLS sales")
    assert w.estimate["D_sales"] == pytest.approx(m.coef()["D_x"], rel=1e-6)
    assert w.estimate["rel_sales"] == pytest.approx(m.coef()["rel"], rel=1e-6)
    assert w.std_error["D_sales"] == pytest.approx(m.se()["D_x"], rel=1e-5)
    assert int(w.nobs.iloc[0]) == m._N
    assert np.isfinite(w.estimate["D_sales"])
