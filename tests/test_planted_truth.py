"""On a medium synthetic world (120k firms, 3,000 survey manufacturers, 563 four-digit shocks), the
paper's 2SLS recovers the planted drop and add effects of eq. (16) where OLS is biased by the unobserved
buyer shock, and the generator's oracle (the same LPM with the shock known) matches the planted values.
Eq. (15): the expected numbers of sellers carry the planted β and γ (a Poisson regression with pyfixest),
and Tables 4, A5 and 5 recover their estimands (the generator's oracles) within sampling error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def medium(tmp_path_factory):
    from analytics import run_all
    from etl.synth import generate

    root = tmp_path_factory.mktemp("medium")
    truth = generate(root, scale="medium", seed=11)
    s = run_all(root, tmp_path_factory.mktemp("out"), quiet=True,
                only=["table_7", "table_8", "table_9", "table_4", "table_A5", "table_5", "figure_A1"])
    return truth, {f"{r['exhibit']}: {r['parameter']}": r for r in s["planted_vs_estimated"]}, root


@pytest.mark.parametrize("kind", ["drop", "add"])
def test_oracle_equation_is_the_planted_one(medium, kind):
    truth, _, _ = medium
    o, p = truth["counts"]["oracle_eq16"][kind], truth["planted"]
    assert o["D"] == pytest.approx(p[f"{kind}_beta"], abs=0.03)
    assert o["D_sales"] == pytest.approx(p[f"{kind}_gamma_sales"], abs=0.015)
    assert o["u"] == pytest.approx(p[f"{kind}_lambda_u"], abs=0.02)
    if kind == "add":
        assert o["D_dist"] == pytest.approx(p["add_gamma_dist"], abs=0.015)


@pytest.mark.parametrize("kind", ["drop", "add"])
def test_2sls_recovers_planted_effects_and_ols_does_not(medium, kind):
    _, rows, _ = medium
    table = "table_7" if kind == "drop" else "table_8"
    names = [k for k, r in rows.items() if r["exhibit"] == table and not r.get("ols")]
    assert len(names) == (2 if kind == "drop" else 3)
    for name in names:
        r = rows[name]
        assert abs(r["estimate"] - r["planted"]) < 3 * r["std_error"], r
        assert r["std_error"] < abs(r["planted"]), r  # precise enough to tell the effect from zero
    ols = rows[f"{table}: OLS counterpart of {kind}_beta"]
    assert abs(ols["estimate"] - ols["planted"]) > 4 * ols["std_error"]  # endogeneity bias


def test_starters_add_differentiated_industries(medium):
    """Table 9: the link-level Rauch tilt shows as a positive Imp Starter × Rauch in the industry add
    regression (2SLS)."""
    _, rows, _ = medium
    r = next(v for k, v in rows.items() if "add_gamma_rauch" in k)
    assert r["estimate"] > 0 and r["planted"] > 0


def _sellers_by_region(root) -> pd.DataFrame:
    """Reported 2005 sellers (parent-child links removed) per buyer's home prefecture h × input industry s ×
    source prefecture r ≠ h, with every empty cell, for the ten largest manufacturing input industries and
    buyers that report at most 24 sellers (whose lists are complete)."""
    from etl.geo import capital_distance_matrix
    from etl.pipeline import Cache, default_work_dir

    c = Cache(default_work_dir(root))
    links, firms = c.read("links_2005"), c.read("firms_2005").set_index("tsr_id")
    ch = c.read("industry_characteristics").set_index("jsic3")
    deg = links.groupby("buyer_id").size()
    links = links[~links.parent_child & (deg.reindex(links.buyer_id).to_numpy() <= 24)]
    d = pd.DataFrame({"h": firms.pref_code.reindex(links.buyer_id).to_numpy(),
                      "s": firms.jsic3.reindex(links.seller_id).to_numpy(),
                      "r": firms.pref_code.reindex(links.seller_id).to_numpy()})
    d = d[d.s.isin(ch.index[ch.rho.notna()]) & (d.h != d.r)]
    top = d.s.value_counts().index[:10]
    n = d[d.s.isin(top)].groupby(["h", "s", "r"]).size()
    cells = pd.MultiIndex.from_product([range(1, 48), sorted(top), range(1, 48)], names=["h", "s", "r"])
    out = n.reindex(cells).fillna(0).rename("N").reset_index()
    out = out[out.h != out.r]
    lnd = np.log(capital_distance_matrix().to_numpy()[out.h.to_numpy() - 1, out.r.to_numpy() - 1])
    c3 = ch.reindex(out.s)
    out["x_rho"] = lnd * c3.theta_cp.to_numpy() * (c3.rho / (c3.rho - 1)).to_numpy()
    out["x_air"] = lnd * c3.theta_cp.to_numpy() * c3.air_share.to_numpy()
    out["hs"], out["sr"] = out.h.astype(str) + out.s, out.s + "_" + out.r.astype(str)
    return out


def test_expected_sellers_follow_eq15_with_the_planted_values(medium):
    """ln E[N_hsr] = FE_hs + FE_sr − β ρθ/(ρ−1) ln d − γ φθ ln d (eq. 15 for expected counts; buyers summed by
    home prefecture), by Poisson pseudo-ML (pyfixest, an estimator of expected counts unlike the paper's
    log of realised counts)."""
    import pyfixest as pf

    truth, _, root = medium
    fit = pf.fepois("N ~ x_rho + x_air | hs + sr", data=_sellers_by_region(root), vcov={"CRV1": "sr"})
    b, se = -fit.coef(), fit.se()
    p = truth["planted"]
    # within sampling error of the planted values, allowing the ~10% attenuation measured on generated worlds
    # (raw draws of the sampler carry the exact values, tests/test_gravity_sampler.py; keeping distinct sellers
    # and assigning reports on each buyer's pool of candidates flattens the gradient a little)
    assert abs(b["x_rho"] - 0.95 * p["beta_comm"]) < 3 * se["x_rho"] + 0.05 * p["beta_comm"], (b, se)
    assert abs(b["x_air"] - 0.95 * p["gamma_air"]) < 3 * se["x_air"] + 0.05 * p["gamma_air"], (b, se)
    assert se["x_rho"] < 0.1 * p["beta_comm"]


def test_eq15_tables_recover_their_oracles(medium):
    """Tables 4 and A5 (eq. 15 as written: ρθ/(ρ−1) ln d and φθ ln d, nearest-prefecture reference) and
    Table 5 (its dummy version with buyer FE) are within two standard errors of the estimands that the
    generator computes on its full, unreported network; these are far below the planted β and γ because
    the log of realised counts (mostly 1 or 2) and a sourcing dummy respond little to the expected count."""
    truth, rows, _ = medium
    got = {k: r for k, r in rows.items() if k.split(":")[0] in ("table_4", "table_A5", "table_5")}
    assert len(got) == 6
    oracle = truth["counts"]["oracle_eq15"]
    for k, r in got.items():
        table, name = k.split(":")[0], r["parameter"].split(" ")[0]
        year, tab = ("2010", "table_4") if table == "table_A5" else ("2005", table)
        assert r["oracle"] == pytest.approx(oracle[year][tab][name]), k
        assert r["planted"] == truth["planted"][name]
        assert abs(r["estimate"] - r["oracle"]) < 2 * r["std_error"], r
    t5 = rows["table_5: beta_comm (communication cost, eq. 15; sourcing dummy, buyer FE)"]
    assert 0 < t5["oracle"] < 0.1 * t5["planted"] and t5["std_error"] < 0.5 * t5["oracle"]


def test_degree_tail_recovers_its_oracle(medium):
    """Figure A1: the CSN exponent of the reported degrees equals the generator's fit of the same degrees;
    the planted Pareto exponent is bent by reporting and saturation."""
    truth, rows, _ = medium
    r = next(v for k, v in rows.items() if k.startswith("figure_A1"))
    o = truth["counts"]["oracle_indegree_tail"]
    assert r["oracle"] == pytest.approx(o["alpha"])
    assert abs(r["estimate"] - o["alpha"]) < 2 * r["std_error"]
    assert r["planted"] == pytest.approx(1 + truth["planted"]["indegree_alpha"])
