"""Regression samples that cannot exist say why (no survey match, no import starter), never a KeyError."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from analytics import regressions, study
from analytics.guard import NotEstimable


@pytest.fixture(scope="module")
def st(cache, embedded_store):
    return study.build(cache, embedded_store, 2005, 2010)


def test_no_import_starter(st):
    b = st.buyers.assign(imp_starter=0.0)
    s = dataclasses.replace(st, buyers=b)
    n = len(s.sample_buyers(exclude_importers=True))
    with pytest.raises(NotEstimable, match=f"no import starter .* among the {n:,} buyers"):
        regressions.table_7(s)
    assert len(regressions.table_4(s).reg.columns)  # eq. (15) does not need import starters


def test_no_survey_match(st):
    s = dataclasses.replace(st, buyers=st.buyers.iloc[0:0])
    with pytest.raises(NotEstimable, match="no manufacturing buyer in both vintages is matched to the survey"):
        regressions.table_4(s)


def test_survey_year_without_any_match_is_missing_not_an_error(cache):
    survey = cache.read("bsjbsa")
    survey.loc[survey.year == 2005, "tsr_id"] = None  # per-year ids, or names that match nothing
    out = study._status(survey, 2005, 2010)
    assert out.imp05.isna().all() and out.imp10.notna().any()
    assert out.log_sales05.isna().all() and out.log_sales10.notna().any()


def test_study_links_from_the_cache_equal_the_stores_edges(cache, store):
    """run-all builds the study from the clean tables while the store loads beside it: the rows must be
    the store's SUPPLIES relationships exactly (both backends)."""
    cols = ["seller_id", "buyer_id", "dist_km", "parent_child"]
    for y in (2005, 2010):
        a = cache.read(f"links_{y}", columns=cols)
        b = store.edges(y)[cols]
        assert len(a) == len(b) == int(cache.read(f"links_{y}").shape[0])
        key = ["seller_id", "buyer_id"]
        a = a.astype({"seller_id": str, "buyer_id": str}).sort_values(key).reset_index(drop=True)
        b = b.astype({"seller_id": str, "buyer_id": str}).sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b.astype(a.dtypes.to_dict()), check_exact=False, rtol=1e-12)


def test_study_without_link_rows_gives_the_same_codes(cache, monkeypatch):
    """Links read without their firms' rows (a graph store's edges, a cache written before the ETL kept
    them) are coded by id: the same codes as through the rows, and as pandas' positions."""
    import analytics.study as study_mod

    assert study_mod._link_columns(cache, 2005)[-2:] == ["seller_row", "buyer_row"]
    by_rows = study_mod.build(cache, None, 2005, 2010)
    monkeypatch.setattr(study_mod, "_link_columns", lambda c, y: study_mod.LINK_COLUMNS)
    by_id = study_mod.build(cache, None, 2005, 2010)
    for y in (2005, 2010):
        assert "seller_row" not in by_rows.links[y]
        pd.testing.assert_frame_equal(by_id.links[y], by_rows.links[y])
        assert (by_rows.links[y].b.to_numpy() == by_rows.ids.get_indexer(by_rows.links[y].buyer_id)).all()


def test_firm_codes_equal_pandas_positions(st, monkeypatch):
    """Integer firm codes equal pandas' positions, −1 for unknown and missing ids, for every input type and
    both look-ups (the study's own hash table for few ids, Arrow's for many)."""
    import analytics.study as study_mod
    from analytics.study import firm_codes

    for y in (2005, 2010):
        l = st.links[y]
        assert (l.s.to_numpy() == st.ids.get_indexer(l.seller_id)).all()
        assert (l.b.to_numpy() == st.ids.get_indexer(l.buyer_id)).all()
        assert (st.firm_index_codes(y) == st.ids.get_indexer(st.firms[y].index)).all()
    probe = [st.ids[3], "no-such-firm", st.ids[0], st.ids[-1], None]
    want = [3, -1, 0, len(st.ids) - 1, -1]
    for small in (study_mod.SMALL_LOOKUP, 0):
        monkeypatch.setattr(study_mod, "SMALL_LOOKUP", small)
        for values in (probe, pd.Index(probe), pd.Series(probe, dtype="string[pyarrow]"), np.array(probe, object),
                       [*probe[:-1], np.nan], [*probe[:-1], pd.NA], np.array([*probe[:-1], np.nan], object)):
            assert st.code(values).tolist() == want, (small, type(values))
        assert st.code(st.buyers.index).tolist() == st.ids.get_indexer(st.buyers.index).tolist()
        # ids are text: a number is refused on both paths, not matched to "12" on one and to nothing on the other
        numeric = next(i for i in st.ids if i.isdigit())
        for values in (np.array([int(numeric)]), [int(numeric)], [numeric, int(numeric)]):
            with pytest.raises(TypeError, match="firm ids are text"):
                st.code(values)
    assert firm_codes(pa.array(st.ids), pd.Series(probe, dtype=object)).tolist() == want


def test_exposure_by_codes_equals_by_ids_and_a_dense_count(st):
    """φ of eq. (18) from the study (integer buyer codes, industries by code) equals φ from the string
    path and a dense 0/1 table counted with pandas; the shock is φ · WES."""
    from analytics import instrument

    phi, rows, shocks = st.exposure
    l = st.links[st.y0]
    phi_s, rows_s = instrument.exposure(l.drop(columns=["s", "b"]), st.firms[st.y0].jsic4, shocks)
    assert rows.equals(rows_s) and (phi != phi_s).nnz == 0
    d = pd.DataFrame({"b": l.buyer_id, "j": st.firms[st.y0].jsic4.reindex(l.seller_id).to_numpy()})
    dense = pd.crosstab(d.b, d.j).reindex(index=rows, columns=shocks, fill_value=0).clip(upper=1)
    assert (phi.toarray() == dense.to_numpy()).all() and phi.sum() > 0
    shock = pd.Series(dense.to_numpy() @ st.wes.reindex(shocks).to_numpy(), index=rows)
    got = st.buyers.shock[st.buyers.index.isin(rows)]
    pd.testing.assert_series_equal(got, shock.reindex(got.index), check_names=False, rtol=1e-12)
