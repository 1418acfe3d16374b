"""On a medium synthetic world (120k firms, 3,000 survey manufacturers, 563 four-digit shocks), the
paper's 2SLS recovers the planted drop effects of eq. (16) where OLS is biased by the unobserved buyer
shock, and the generator's oracle (the same LPM with the shock known) matches the planted values."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def medium(tmp_path_factory):
    from analytics import run_all
    from etl.synth import generate

    root = tmp_path_factory.mktemp("medium")
    truth = generate(root, scale="medium", seed=11)
    s = run_all(root, tmp_path_factory.mktemp("out"), quiet=True, only=["table_7", "table_8"])
    return truth, {r["parameter"]: r for r in s["planted_vs_estimated"]}


def test_oracle_drop_equation_is_the_planted_one(medium):
    truth, _ = medium
    o, p = truth["counts"]["oracle_eq16"]["drop"], truth["planted"]
    assert o["D_sales"] == pytest.approx(p["drop_gamma_sales"], abs=0.01)
    assert o["D"] == pytest.approx(p["drop_beta"], abs=0.03)
    assert o["u"] == pytest.approx(p["drop_lambda_u"], abs=0.02)


def test_2sls_recovers_drop_effects_and_ols_does_not(medium):
    _, rows = medium
    for name in ("drop_beta (Imp Starter, drop)", "drop_gamma_sales (× rel. sales, drop)"):
        r = rows[name]
        assert abs(r["estimate"] - r["planted"]) < 3 * r["std_error"], r
    ols = rows["OLS counterpart of drop_beta"]
    assert abs(ols["estimate"] - ols["planted"]) > 4 * ols["std_error"]  # endogeneity bias


def test_add_size_interaction_has_the_planted_sign(medium):
    _, rows = medium
    r = rows["add_gamma_sales (× rel. sales, add)"]
    assert r["estimate"] > 0 and abs(r["estimate"] - r["oracle"]) < 3 * r["std_error"]
