"""Tables 3, 4, 5, 7 (with A6), 8 (A7), 9 (A8), A1, A2, A4 and A9 recomputed from the ETL cache with pandas (samples
rebuilt from the paper's rules, not through analytics.study) and estimated with independent libraries:
pyfixest for the OLS columns, linearmodels IV2SLS with dummy fixed effects for the 2SLS columns with two
endogenous regressors. Each recomputation must equal the number run_all wrote in out/tables/*.csv."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

Y0, Y1 = 2005, 2010


@pytest.fixture(scope="module")
def d(cache, links):
    return sample_data(cache, links)


def sample_data(cache, raw: dict[int, pd.DataFrame]) -> dict:
    """Firms, clean links and the survey-matched buyers, by the sample rules of section 2 (``raw``: every
    link of each vintage, as the ETL cache holds them)."""
    f = {y: cache.read(f"firms_{y}").set_index("tsr_id") for y in (Y0, Y1)}
    jsic = cache.read("industry_jsic")
    both = f[Y0].index.intersection(f[Y1].index)
    pair = {y: raw[y].seller_id + ">" + raw[y].buyer_id for y in (Y0, Y1)}
    pc = set(pair[Y0][raw[Y0].parent_child.astype(bool)]) | set(pair[Y1][raw[Y1].parent_child.astype(bool)])
    links = {y: raw[y][raw[y].seller_id.isin(both) & raw[y].buyer_id.isin(both) & ~pair[y].isin(pc)]
             for y in (Y0, Y1)}
    s = cache.read("bsjbsa")
    s = s[s.tsr_id.fillna("") != ""]
    imp = s.pivot_table(index="tsr_id", columns="year", values="imports_total", aggfunc="first")
    mfg4 = set(jsic.loc[jsic.manufacturing == 1, "jsic4"])
    ok = imp[Y0].notna() & imp[Y1].notna() & imp.index.isin(both)
    ok &= f[Y0].jsic4.reindex(imp.index).isin(mfg4).to_numpy()
    buyers = pd.DataFrame({"D": ((imp[Y0] == 0) & (imp[Y1] > 0)).astype(float), "imp05": imp[Y0] > 0})[ok]
    sales = s.pivot_table(index="tsr_id", columns="year", values="sales", aggfunc="first")
    buyers["log_sales"] = np.log(sales[Y0].reindex(buyers.index))
    va = s.assign(v=np.log(s.value_added / s.employees)).pivot_table(index="tsr_id", columns="year", values="v",
                                                                       aggfunc="first")
    buyers["vapw10"] = va[Y1].reindex(buyers.index)
    return {"firms": f, "links": links, "raw_links": raw, "buyers": buyers, "jsic": jsic,
            "exports": cache.read("industry_world_exports"),
            "chars": cache.read("industry_characteristics").set_index("jsic3"), "survey": s,
            "survey_all": cache.read("bsjbsa")}


def written(out, table: str, column: str) -> pd.DataFrame:
    t = pd.read_csv(out / "tables" / f"table_{table}.csv")
    return t[t.column == column].set_index("term")


def assert_same(out, table: str, column: str, coef: pd.Series, se: pd.Series, terms: list[str], nobs: int):
    w = written(out, table, column)
    for term in terms:
        assert w.estimate[term] == pytest.approx(coef[term], rel=1e-6, abs=1e-9), (column, term)
        assert w.std_error[term] == pytest.approx(se[term], rel=1e-5), (column, term)
    assert int(w.nobs.iloc[0]) == nobs


def capital_km() -> pd.DataFrame:
    """Haversine distances between the shipped prefectural capitals (R = 6371 km)."""
    from etl.geo import prefectures

    p = prefectures()
    la, lo = np.radians(p.capital_lat.to_numpy()), np.radians(p.capital_lon.to_numpy())
    h = (np.sin((la[:, None] - la[None, :]) / 2) ** 2
         + np.cos(la[:, None]) * np.cos(la[None, :]) * np.sin((lo[:, None] - lo[None, :]) / 2) ** 2)
    return pd.DataFrame(2 * 6371.0088 * np.arcsin(np.sqrt(h)), index=p.pref_code, columns=p.pref_code)


def sellers_change_fit(d, b: pd.DataFrame, links: dict, min_employees: int = 5):
    """Δlog(Nb. Sellers) of the buyers ``b`` (index tsr_id, column D) on D and log TFP of 2005, buyer 4-digit
    industry and prefecture FE, clustered by prefecture (pyfixest); sellers under ``min_employees`` dropped."""
    from analytics.tfp import estimate

    n = {}
    for y in (Y0, Y1):
        lk = links[y]
        big = d["firms"][y].employees.reindex(lk.seller_id).to_numpy() >= min_employees
        n[y] = lk[big & lk.buyer_id.isin(b.index).to_numpy()].groupby("buyer_id").size()
    tfp = estimate(d["survey_all"], d["jsic"]).log_tfp  # every survey firm, matched to TSR or not
    key = d["survey"].drop_duplicates("survey_id").set_index("survey_id").tsr_id
    t = tfp.reset_index().assign(tsr_id=lambda x: key.reindex(x.survey_id).to_numpy())
    t = t[(t.year == Y0) & t.tsr_id.notna()].set_index("tsr_id").log_tfp
    f0 = d["firms"][Y0]
    x = pd.DataFrame({"y": np.log(n[Y1].reindex(b.index)) - np.log(n[Y0].reindex(b.index)), "imp_starter": b.D,
                      "log_tfp": t.reindex(b.index), "ind4": f0.jsic4.reindex(b.index),
                      "pref": f0.pref_code.reindex(b.index).astype(float)}).dropna()
    return pf.feols("y ~ imp_starter + log_tfp | ind4 + pref", x, vcov={"CRV1": "pref"}, fixef_rm="singleton")


def test_table_3_sellers_column(run, d):
    """Δlog(Nb. Sellers) on Imp Starter and log TFP (Olley–Pakes, an input validated against the
    planted production function elsewhere), buyer 4-digit industry and prefecture FE, clustered by
    prefecture; sellers under 5 employees dropped."""
    out, _ = run
    m = sellers_change_fit(d, d["buyers"][~d["buyers"].imp05], d["links"])
    assert_same(out, "3", "Δlog(Nb. Sellers)", m.coef(), m.se(), ["imp_starter", "log_tfp"], m._N)


def sourcing_counts(d, year: int) -> pd.DataFrame:
    lk = d["links"][year]
    lk = lk[lk.buyer_id.isin(d["buyers"].index)]
    f = d["firms"][year]
    n = pd.DataFrame({"i": lk.buyer_id.to_numpy(), "s": f.jsic3.reindex(lk.seller_id).to_numpy(),
                      "r": f.pref_code.reindex(lk.seller_id).to_numpy()}).groupby(["i", "s", "r"]).size()
    n = n.rename("N").reset_index()
    n["home"] = f.pref_code.reindex(n.i).to_numpy()
    return n


def test_table_4_nearest_reference_cp_theta(run, d):
    """Eq. (15): log(N_isr / N_is,nearest) on ln(dist) × θ_CP and its interactions with ρ/(ρ−1) and the
    air-freight share; input industry × reference region and input industry × source region FE."""
    out, _ = run
    n = sourcing_counts(d, Y0)
    n["dist"] = capital_km().to_numpy()[n.home.astype(int) - 1, n.r.astype(int) - 1]
    ref = n.sort_values(["i", "s", "dist", "r"]).groupby(["i", "s"]).first()[["r", "N"]]
    m = n.join(ref.rename(columns={"r": "ref", "N": "N_ref"}), on=["i", "s"])
    m = m[m.r != m.ref]
    ch = d["chars"].reindex(m.s)
    lnd_t = np.log(m.dist.to_numpy()) * ch.theta_cp.to_numpy()
    x = pd.DataFrame({"y": np.log(m.N / m.N_ref).to_numpy(), "lnd_t": lnd_t,
                      "lnd_t_rho": lnd_t * (ch.rho / (ch.rho - 1)).to_numpy(),
                      "lnd_t_air": lnd_t * ch.air_share.to_numpy(),
                      "s_ref": (m.s + "_" + m.ref.astype(str)).to_numpy(),
                      "s_r": (m.s + "_" + m.r.astype(str)).to_numpy()})
    x = x.replace([np.inf, -np.inf], np.nan)
    # column (3) is eq. (15) itself: ln d × θ × ρ/(ρ−1) and ln d × θ × air, no ln d × θ term (6 of 9 columns have it)
    for col, terms in (("CP θ, nearest ref (2)", ["lnd_t", "lnd_t_rho"]), ("CP θ, nearest ref (3)", ["lnd_t_rho", "lnd_t_air"])):
        xx = x.dropna(subset=["y", *terms])
        fit = pf.feols(f"y ~ {' + '.join(terms)} | s_ref + s_r", xx, vcov={"CRV1": "s_r"}, fixef_rm="singleton")
        assert_same(out, "4", col, fit.coef(), fit.se(), terms, fit._N)
    assert "lnd_t" not in written(out, "4", "CP θ, nearest ref (3)").estimate


def test_table_5_incidence_lpm(run, d):
    """Buyer × input sector (12) × source prefecture: 1 if the buyer has a seller of that sector in that
    prefecture (base vintage); ln(dist+1) × θ_CP interactions with sales-weighted sector averages."""
    out, _ = run
    f, jsic = d["firms"][Y0], d["jsic"]
    sector_of = jsic.set_index("jsic4").sector12
    lk = d["links"][Y0]
    lk = lk[lk.buyer_id.isin(d["buyers"].index)]
    hits = set(zip(lk.buyer_id, sector_of.reindex(f.jsic4.reindex(lk.seller_id)).to_numpy(),
                   f.pref_code.reindex(lk.seller_id).to_numpy(), strict=True))
    ch = d["chars"].join(f.groupby("jsic3").sales.sum().rename("w"))
    ch["sector"] = sector_of.reindex(jsic.groupby("jsic3").jsic4.first().reindex(ch.index)).to_numpy()
    ch["ratio"] = ch.rho / (ch.rho - 1)
    ch = ch.dropna(subset=["sector", "w"])
    sec = pd.DataFrame({c: (ch[c] * ch.w).groupby(ch.sector).sum() / ch.w.where(ch[c].notna()).groupby(ch.sector).sum()
                        for c in ("theta_cp", "ratio", "air_share")})  # over the industries with a value
    grid = pd.MultiIndex.from_product([d["buyers"].index, range(1, 13), range(1, 48)], names=["b", "S", "r"])
    x = grid.to_frame(index=False)
    x["y"] = [float(k in hits) for k in zip(x.b, x.S, x.r, strict=True)]
    home = f.pref_code.reindex(x.b).astype(int).to_numpy()
    lnd = np.log1p(capital_km().to_numpy()[home - 1, x.r.to_numpy() - 1])
    t = sec.reindex(x.S)
    x["lnd_theta_cp"] = lnd * t.theta_cp.to_numpy()
    x["lnd_theta_cp_rho"] = x.lnd_theta_cp * t.ratio.to_numpy()
    x["lnd_theta_cp_air"] = x.lnd_theta_cp * t.air_share.to_numpy()
    x["sector_r"] = x.S * 100 + x.r
    terms = ["lnd_theta_cp_rho", "lnd_theta_cp_air"]  # column (3): eq. (15), no ln(dist+1) × θ term
    for fe, col in (("sector_r", "CP θ (3)"), ("sector_r + b", "CP θ, buyer FE (3)")):
        fit = pf.feols(f"y ~ {' + '.join(terms)} | {fe}", x, vcov={"CRV1": "b"}, fixef_rm="singleton")
        assert_same(out, "5", col, fit.coef(), fit.se(), terms, fit._N)


def test_table_9_and_a8_add_rauch_2sls(run, d):
    """Eq. (19), add sample: buyer × manufacturing input industry not dropped; y = 1 if added. 2SLS of
    y on Imp Starter and Imp Starter × Rauch instrumented by shock_i and shock_i × Rauch, with buyer
    industry, buyer region and input industry dummies (linearmodels), robust SEs."""
    from linearmodels.iv import IV2SLS

    out, _ = run
    b = d["buyers"][~d["buyers"].imp05]
    f0 = d["firms"][Y0]
    def sourced(y: int) -> set:
        lk = d["links"][y][d["links"][y].buyer_id.isin(b.index)]
        return set(zip(lk.buyer_id, f0.jsic3.reindex(lk.seller_id), strict=True))

    had = {y: sourced(y) for y in (Y0, Y1)}
    mfg3 = d["chars"].index
    x = pd.MultiIndex.from_product([b.index, mfg3], names=["i", "s"]).to_frame(index=False)
    k = list(zip(x.i, x.s, strict=True))
    x["in0"], x["in1"] = [p in had[Y0] for p in k], [p in had[Y1] for p in k]
    x = x[~(x.in0 & ~x.in1)]  # dropped industries leave the add sample
    x["y"] = (~x.in0 & x.in1).astype(float)
    x["D"] = b.D.reindex(x.i).to_numpy()
    x["shock"] = _shock(d).reindex(x.i).fillna(0.0).to_numpy()
    x["rauch"] = d["chars"].rauch.reindex(x.s).to_numpy()
    x["log_sales"] = b.log_sales.reindex(x.i).to_numpy()
    x["D_rauch"], x["Z_rauch"] = x.D * x.rauch, x.shock * x.rauch
    x["b_ind"], x["b_pref"] = f0.jsic3.reindex(x.i).to_numpy(), f0.pref_code.reindex(x.i).to_numpy()
    x = x.dropna(subset=["y", "D", "rauch", "log_sales", "b_ind", "b_pref"]).reset_index(drop=True)
    dummies = pd.get_dummies(x[["b_ind", "b_pref", "s"]].astype(str), drop_first=True, dtype=float)
    exog = pd.concat([pd.Series(1.0, index=x.index, name="const"), x[["log_sales"]], dummies], axis=1)
    exog = exog.loc[:, exog.std() > 0].assign(const=1.0)
    r = IV2SLS(x.y, exog, x[["D", "D_rauch"]], x[["shock", "Z_rauch"]]).fit(cov_type="robust", debiased=True)
    w = written(out, "9", "2SLS add rauch")
    for term in ("D", "D_rauch"):
        assert w.estimate[term] == pytest.approx(r.params[term], rel=1e-6)
        assert w.std_error[term] == pytest.approx(r.std_errors[term], rel=1e-3)
    assert int(w.nobs.iloc[0]) == r.nobs
    first = written(out, "9", "2SLS add rauch: D")  # Table A8 is written with Table 9
    for term in ("shock", "Z_rauch"):
        assert first.estimate[term] == pytest.approx(r.first_stage.individual["D"].params[term], rel=1e-6)


def _shock(d) -> pd.Series:
    """shock_i = Σ_s φ_is WES_s (eq. 18): WES_s = Δ log world exports (excluding Japan) of manufacturing
    4-digit industry s; φ_is = 1 if buyer i sourced from s in the base vintage (every 2005 link, unfiltered)."""
    e = d["exports"].groupby(["jsic4", "year"]).exports_usd.sum().unstack()
    wes = np.log(e[Y1]) - np.log(e[Y0])
    lk = d["raw_links"][Y0]
    phi = pd.DataFrame({"i": lk.buyer_id.to_numpy(), "s": d["firms"][Y0].jsic4.reindex(lk.seller_id).to_numpy()})
    mfg4 = set(d["jsic"].loc[d["jsic"].manufacturing == 1, "jsic4"])
    phi = phi[phi.s.isin(wes.dropna().index) & phi.s.isin(mfg4)].drop_duplicates()
    return phi.assign(w=wes.reindex(phi.s).to_numpy()).groupby("i").w.sum()


def test_table_a4_scope_and_va_per_worker(run, d):
    """ln(# sellers) in 2010 on the buyer's value added per worker, buyer 4-digit industry and prefecture
    FE, clustered by buyer industry."""
    out, _ = run
    b = d["buyers"]
    lk = d["links"][Y1]
    n = lk[lk.buyer_id.isin(b.index)].groupby("buyer_id").size()
    f1 = d["firms"][Y1]
    x = pd.DataFrame({"y": np.log(n.reindex(b.index)), "productivity": b.vapw10, "ind4": f1.jsic4.reindex(b.index),
                      "pref": f1.pref_code.reindex(b.index).astype(float)}).dropna()
    fit = pf.feols("y ~ productivity | ind4 + pref", x, vcov={"CRV1": "ind4"}, fixef_rm="singleton")
    assert_same(out, "A4", "ln(# sellers), VA/Emp", fit.coef(), fit.se(), ["productivity"], fit._N)


def drop_singletons(x: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Iteratively drop rows alone in a fixed-effect level (reghdfe's rule)."""
    while True:
        alone = np.zeros(len(x), bool)
        for c in cols:
            alone |= x.groupby(c)[c].transform("size").to_numpy() == 1
        if not alone.any():
            return x
        x = x[~alone]


def pair_frame(d, table: str) -> pd.DataFrame:
    """Eq. (16) pairs of non-importing sample buyers (Table 7: base-vintage links, y = 1 if gone; Table 8:
    later-vintage links, y = 1 if new), the seller's relative sales log(x_j/x̄_i)
    (x̄_i the arithmetic mean over the buyer's sellers in the sample), instrument and FE columns."""
    b = d["buyers"][~d["buyers"].imp05]
    f0 = d["firms"][Y0]
    l0, l1 = (d["links"][y][d["links"][y].buyer_id.isin(b.index)] for y in ((Y0, Y1) if table == "7" else (Y1, Y0)))
    x = l0[["seller_id", "buyer_id"]].merge(l1[["seller_id", "buyer_id"]].assign(kept=1.0), how="left")
    x["y"] = 1.0 - x.kept.fillna(0.0)
    x["x"] = f0.sales.reindex(x.seller_id).to_numpy(float)
    x.loc[~(x.x > 0), "x"] = np.nan
    x["rel"] = np.log(x.x / x.groupby("buyer_id").x.transform("mean"))  # eq. (16): x̄_i arithmetic mean
    x["D"], x["log_sales"] = b.D.reindex(x.buyer_id).to_numpy(), b.log_sales.reindex(x.buyer_id).to_numpy()
    x["shock"] = _shock(d).reindex(x.buyer_id).fillna(0.0).to_numpy()
    x["D_x"], x["Z_x"] = x.D * x.rel, x.shock * x.rel
    x["in_ind"], x["src_pref"] = f0.jsic3.reindex(x.seller_id).to_numpy(), f0.pref_code.reindex(x.seller_id).to_numpy()
    x["b_ind"], x["b_pref"] = f0.jsic3.reindex(x.buyer_id).to_numpy(), f0.pref_code.reindex(x.buyer_id).to_numpy()
    return x


@pytest.mark.parametrize("table", ["7", "8"])
def test_tables_7_8_and_first_stage_sales_column(run, d, table):
    """Eq. (16): links of non-importing sample buyers, base vintage (Table 7, y = 1 if gone in 2010) or
    later vintage (Table 8, y = 1 if new since 2005); 2SLS with Imp Starter and its interaction with the
    seller's relative log sales (base-vintage sales, relative to the buyer's mean in the sample),
    instruments shock_i and shock_i × relative log sales, four dummy FE sets (linearmodels), robust SEs;
    the first stage for Imp Starter is Table A6's / A7's column."""
    from linearmodels.iv import IV2SLS

    out, _ = run
    x = pair_frame(d, table)
    fe = ["in_ind", "b_ind", "src_pref", "b_pref"]
    x = drop_singletons(x.dropna(subset=["y", "rel", "D", "log_sales", *fe]), fe).reset_index(drop=True)
    dummies = pd.get_dummies(x[fe].astype(str), drop_first=True, dtype=float)
    exog = pd.concat([x[["log_sales", "rel"]], dummies], axis=1).assign(const=1.0)
    r = IV2SLS(x.y, exog, x[["D", "D_x"]], x[["shock", "Z_x"]]).fit(cov_type="robust", debiased=True)
    w = written(out, table, "2SLS sales")
    for term, mine in (("D", "D"), ("D_sales", "D_x")):
        assert w.estimate[term] == pytest.approx(r.params[mine], rel=1e-6)
        assert w.std_error[term] == pytest.approx(r.std_errors[mine], rel=1e-6)
    assert int(w.nobs.iloc[0]) == r.nobs
    fs = r.first_stage.individual["D"]
    first = written(out, table, "2SLS sales: D")  # Tables A6 / A7 are written with Tables 7 / 8
    assert first.estimate["shock"] == pytest.approx(fs.params["shock"], rel=1e-6)
    assert first.estimate["Z_sales"] == pytest.approx(fs.params["Z_x"], rel=1e-6)


def test_tables_a1_a2_a9_descriptives(run, d, cache):
    """A1: sellers per buyer by the buyer's JSIC division (every TSR link of the vintage); A2: the same by
    2-digit group for the regression sample (sample buyers, sellers in both vintages); A9: distance
    moments by the seller's 3-digit industry for manufacturing buyers, parent-child links removed."""
    out, _ = run
    raw0 = d["raw_links"][Y0]
    f0 = d["firms"][Y0]
    k = raw0.groupby("buyer_id").size()
    major = pd.to_numeric(f0.jsic4.reindex(k.index).str[:2]).to_numpy()
    a1 = written(out, "A1", "2005 mean")
    assert a1.estimate["Manufacturing"] == pytest.approx(k[(major >= 9) & (major <= 32)].mean(), rel=1e-12)
    assert a1.estimate["Construction"] == pytest.approx(k[(major >= 6) & (major <= 8)].mean(), rel=1e-12)
    both = f0.index.intersection(d["firms"][Y1].index)
    reg = raw0[raw0.buyer_id.isin(d["buyers"].index) & raw0.seller_id.isin(both)].groupby("buyer_id").size()
    a2 = written(out, "A2", "2005 mean")
    by_group = reg.groupby(f0.jsic4.reindex(reg.index).str[:2].to_numpy()).mean()
    assert a2.estimate.rename(lambda t: f"{int(t):02d}").sort_index().to_numpy() == pytest.approx(
        by_group.sort_index().to_numpy(), rel=1e-12)
    mfg4 = set(d["jsic"].loc[d["jsic"].manufacturing == 1, "jsic4"])
    l = raw0[f0.jsic4.reindex(raw0.buyer_id).isin(mfg4).to_numpy() & ~raw0.parent_child.astype(bool).to_numpy()]
    g = l.dist_km.groupby(f0.jsic3.reindex(l.seller_id).to_numpy())
    a9 = pd.read_csv(out / "tables" / "table_A9.csv", dtype={"term": str})
    a9 = a9[a9.column != "group"].astype({"estimate": float})
    top = a9[a9.column == "Mean"].head(20).set_index("term").estimate
    assert list(top.index) == list(g.mean().sort_values(ascending=False).head(20).index)
    assert top.to_numpy() == pytest.approx(g.mean().reindex(top.index).to_numpy(), rel=1e-12)
    med = a9[a9.column == "Median"].head(40).set_index("term").estimate  # top and bottom 20
    assert med.to_numpy() == pytest.approx(g.median().reindex(med.index).to_numpy(), rel=1e-12)
