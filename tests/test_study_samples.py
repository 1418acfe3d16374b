"""Regression samples that cannot exist say why (no survey match, no import starter), never a KeyError."""

from __future__ import annotations

import dataclasses

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
