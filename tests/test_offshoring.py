"""Table 6 and the companion wage table recomputed independently (pandas, pyfixest, numpy least squares)
from the ETL cache and the raw files; their planted values recovered on the generated world."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from tests.conftest import read_raw
from tests.test_tables_recomputed import assert_same

Y0, Y1 = 2005, 2010


def sector_x(cache, theta: str) -> pd.Series:
    """θ × ρ/(ρ−1) per broad sector: means of the 3-digit values weighted by 2005 TSR sales."""
    f = cache.read("firms_2005")
    jsic = cache.read("industry_jsic")
    ch = cache.read("industry_characteristics").set_index("jsic3")
    ch["ratio"] = ch.rho / (ch.rho - 1)
    if theta == "theta_firm":  # appendix B.3 estimate, an input checked against the generator elsewhere
        from analytics.instrument import firm_based_theta

        ch["theta_firm"] = firm_based_theta(f.sales, f.jsic3, ch.rho).theta_firm.reindex(ch.index)
    ch["w"] = f.groupby("jsic3").sales.sum().reindex(ch.index)
    ch["sector"] = jsic.groupby("jsic3").sector12.first().reindex(ch.index)
    ch = ch.dropna(subset=["sector", "w"])
    out = {}
    for c in (theta, "ratio"):
        ok = ch[ch[c].notna()]
        out[c] = (ok[c] * ok.w).groupby(ok.sector).sum() / ok.w.groupby(ok.sector).sum()
    return (out[theta] * out["ratio"]).rename(index=int)


@pytest.fixture(scope="module")
def frame6(cache, links):
    from analytics.tfp import estimate

    s = cache.read("bsjbsa")
    f0 = cache.read("firms_2005").set_index("tsr_id")
    jsic = cache.read("industry_jsic")
    b = s[(s.year == Y0) & (s.tsr_id.fillna("") != "") & s.tsr_id.isin(f0.index)].drop_duplicates("tsr_id")
    tfp = estimate(s, jsic).log_tfp.xs(Y0, level="year")  # validated against the planted β elsewhere
    b = b.assign(log_tfp=tfp.reindex(b.survey_id).to_numpy()).dropna(subset=["log_tfp"])
    grid = pd.MultiIndex.from_product([b.tsr_id, range(1, 13)], names=["tsr_id", "sector12"]).to_frame(index=False)
    grid["log_tfp"] = grid.tsr_id.map(b.set_index("tsr_id").log_tfp)
    sec = cache.read("bsjbsa_sectors")
    sec = sec[(sec.year == Y0) & (sec.imports > 0)].assign(tsr_id=lambda x: x.survey_id.map(b.set_index("survey_id").tsr_id))
    off = set(zip(sec.tsr_id, sec.sector12.astype(int), strict=True))
    l = links[Y0][~links[Y0].parent_child.astype(bool)]
    l = l[l.buyer_id.isin(set(b.tsr_id))]
    s12 = jsic.set_index("jsic4").sector12.reindex(f0.jsic4.reindex(l.seller_id).to_numpy()).to_numpy()
    dom = set((i, int(k)) for i, k in zip(l.buyer_id, s12, strict=True) if pd.notna(k))
    keys = list(zip(grid.tsr_id, grid.sector12, strict=True))
    grid["off"] = [float(k in off) for k in keys]
    grid["dom"] = [float(k in dom) for k in keys]
    for th in ("theta_cp", "theta_firm"):
        grid[f"tfp_x_{th}"] = grid.log_tfp * grid.sector12.map(sector_x(cache, th))
    return grid


@pytest.mark.parametrize("theta, label", [("theta_cp", "CP θ"), ("theta_firm", "Firm θ")])
def test_table_6_recomputed(run, frame6, theta, label):
    out, _ = run
    x = frame6.dropna(subset=[f"tfp_x_{theta}"])
    m = pf.feols(f"off ~ dom + log_tfp + tfp_x_{theta} | sector12", x, vcov={"CRV1": "tsr_id"})
    assert_same(out, "6", label, m.coef(), m.se(), ["dom", "log_tfp", f"tfp_x_{theta}"], m._N)
    m = pf.feols(f"off ~ dom + tfp_x_{theta} | sector12 + tsr_id", x, vcov={"CRV1": "tsr_id"}, fixef_rm="singleton")
    assert_same(out, "6", f"{label}, buyer FE", m.coef(), m.se(), ["dom", f"tfp_x_{theta}"], m._N)


def test_table_6_planted_within_two_se(run, truth):
    """On `small` the planted Table 6 effects are inside two (buyer-clustered) standard errors."""
    _, s = run
    rows = [r for r in s["planted_vs_estimated"] if r["exhibit"] == "table_6"]
    assert len(rows) == 4
    for r in rows:
        assert abs(r["estimate"] - r["planted"]) < 2 * r["std_error"], r
    assert truth["counts"]["table6"]["share_probability_clipped"] == 0.0


def survey_raw(root, year: int) -> pd.DataFrame:
    """A raw survey year with its 3-digit codes mapped through the concordance (pandas only)."""
    b = read_raw(root / f"bsjbsa/{year}.csv")
    conc = read_raw(root / "industry/jsic_concordance.csv")
    to3 = read_raw(root / "industry/jsic.csv").set_index("jsic4").jsic3
    c = conc[(conc.year == str(year)) & (conc.code.str.len() == 3)]
    b["jsic3"] = b.jsic3.replace(dict(zip(c.code, to3.reindex(c.jsic4), strict=True)))
    return b


def _wage_changes(small_root, ineq: pd.DataFrame) -> pd.DataFrame:
    """Per 3-digit industry from the raw survey files: Δ inequality y, Δ offshoring off, base-year foreign
    outsourcing fo and its standardised value z."""
    off = {}
    for y in (Y0, Y1):
        b = survey_raw(small_root, y)
        g = b.assign(i=pd.to_numeric(b.imports_total), p=pd.to_numeric(b.purchases)).groupby("jsic3")[["i", "p"]].sum()
        off[y] = g.i / g.p
    b = survey_raw(small_root, Y0)
    b = b[b.outsourcing_abroad != ""]
    g = b.assign(o=pd.to_numeric(b.outsourcing_abroad), p=pd.to_numeric(b.purchases)).groupby("jsic3")[["o", "p"]].sum()
    d = pd.DataFrame({"y": ineq[str(Y1)] - ineq[str(Y0)], "off": off[Y1] - off[Y0], "fo": g.o / g.p}).dropna()
    d["z"] = (d.fo - d.fo.mean()) / d.fo.std()
    return d


def test_wage_table_recomputed_and_planted(run, truth, small_root):
    """Table W1 column 2 by numpy least squares from the raw files; the gap between estimate and planted
    value is exactly the least-squares projection of the planted noise (truth.json)."""
    out, s = run
    w = read_raw(small_root / "industry/wages.csv")
    w["ineq"] = np.log(pd.to_numeric(w.wage_high) / pd.to_numeric(w.wage_low))
    ineq = w.pivot_table(index="jsic3", columns="year", values="ineq")
    d = _wage_changes(small_root, ineq)
    X = np.column_stack([np.ones(len(d)), d.off, d.off * d.z, d.z])
    coef = np.linalg.lstsq(X, d.y.to_numpy(), rcond=None)[0]
    noise = pd.Series(truth["counts"]["wages"]["noise"])
    drift = np.linalg.lstsq(X, noise.reindex(d.index).to_numpy(), rcond=None)[0]
    t = pd.read_csv(out / "tables" / "table_W1.csv").query("column == 'With initial foreign outsourcing'")
    t = t.set_index("term")
    rows = {r["parameter"]: r for r in s["planted_vs_estimated"]}
    for j, (name, key, term) in enumerate((("wage_b1 (Δ offshoring)", "wage_b1", "d_off"),
                                           ("wage_b2 (× initial foreign outsourcing)", "wage_b2", "d_off_x_fo"),
                                           ("wage_b3 (initial foreign outsourcing)", "wage_b3", "fo_std")), start=1):
        assert t.estimate[term] == pytest.approx(coef[j], abs=1e-9)
        assert rows[name]["planted"] == truth["planted"][key]
        assert rows[name]["estimate"] - rows[name]["planted"] == pytest.approx(drift[j], abs=2e-3)
    assert int(t.nobs.iloc[0]) == len(d)


def test_wage_table_controls_by_linearmodels(run, small_root):
    """Column 3 (with controls) by linearmodels OLS with HC1 SEs, from the raw files."""
    from linearmodels.iv import IV2SLS

    out, _ = run
    w = read_raw(small_root / "industry/wages.csv")
    for c in ("wage_high", "wage_low", "emp_high", "emp_low"):
        w[c] = pd.to_numeric(w[c])
    w["ineq"] = np.log(w.wage_high / w.wage_low)
    ineq = w.pivot_table(index="jsic3", columns="year", values="ineq")
    base = w[w.year == str(Y0)].set_index("jsic3")
    d = _wage_changes(small_root, ineq)
    d["oz"], d["const"] = d.off * d.z, 1.0
    d["ineq0"] = ineq[str(Y0)]
    d["ln_emp0"] = np.log(base.emp_high + base.emp_low)
    d["skill0"] = base.emp_high / (base.emp_high + base.emp_low)
    r = IV2SLS(d.y, d[["const", "off", "oz", "z", "ineq0", "ln_emp0", "skill0"]], None, None).fit(cov_type="robust")
    t = pd.read_csv(out / "tables" / "table_W1.csv").query("column == 'With controls'").set_index("term")
    k = len(d) / (len(d) - 7)  # linearmodels' robust covariance has no small-sample factor; HC1 does
    for term, name in (("d_off", "off"), ("d_off_x_fo", "oz"), ("ineq0", "ineq0"), ("skill0", "skill0")):
        assert t.estimate[term] == pytest.approx(r.params[name], rel=1e-7)
        assert t.std_error[term] == pytest.approx(r.std_errors[name] * np.sqrt(k), rel=1e-6)
