"""Offshoring exhibits: Table 6 (the incidence of offshoring, section 5.1) and the companion paper's
industry table (seed 000: offshoring, initial foreign outsourcing and wage inequality)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.econometrics.tables import Table
from analytics.exhibits import Exhibit
from analytics.guard import NotEstimable, fit_columns
from analytics.regressions import _truth, sector_characteristics
from analytics.study import Study

SECTORS = np.arange(1, 13)


# ---------------------------------------------------------------- Table 6

def table6_buyers(st: Study) -> pd.DataFrame:
    """Survey firms of the base year matched to a firm of the base vintage with a base-year productivity:
    tsr_id (index), survey_id, log_tfp. All industries: the paper's 21,434 buyers exceed its manufacturing
    survey firms."""
    s = st.survey[(st.survey.year == st.y0) & (st.survey.tsr_id.fillna("") != "")]
    s = s[st.in_vintage(st.y0, s.tsr_id)].drop_duplicates("tsr_id").set_index("tsr_id")
    out = pd.DataFrame({"survey_id": s.survey_id, "log_tfp": st.buyers.log_tfp05.reindex(s.index)})
    return out.dropna()


def domestic_sourcing(st: Study, buyers: pd.Index, drop_parent_child: bool = True) -> pd.DataFrame:
    """Dom_iS: buyer i buys from a seller of broad sector S in the base vintage (footnote 44: any 3-digit
    industry of the sector); parent–child links removed. Columns tsr_id (buyer), sector12."""
    l = st.links[st.y0]
    if drop_parent_child:
        l = l[~l.parent_child.to_numpy()]
    l = l[st.code_mask(buyers)[l.b.to_numpy()]]
    sec = st.jsic.set_index("jsic4").sector12
    s = sec.reindex(st.arr(st.y0, "jsic4")[l.s.to_numpy()]).to_numpy()
    d = pd.DataFrame({"tsr_id": l.buyer_id.to_numpy(), "sector12": s}).dropna().drop_duplicates()
    return d.astype({"sector12": int})


def offshoring_frame(st: Study, drop_parent_child: bool = True) -> pd.DataFrame:
    """Buyer × broad sector (1–12) in the base year: off (imports of the sector's goods > 0), dom, log TFP and
    its interactions with θ_S × ρ_S/(ρ_S−1) (sector values: sales-weighted 3-digit means, as Table 5)."""
    si = st.sector_imports
    if si is None or si.empty or not (si.year == st.y0).any():
        raise NotEstimable(f"not estimable: no imports by product sector for {st.y0} "
                           f"(bsjbsa/imports_by_sector/{st.y0}.csv absent or empty); Offshore_iS needs them")
    b = table6_buyers(st)
    if b.empty:
        raise NotEstimable(f"not estimable: no survey firm of {st.y0} matched to TSR with a productivity measure")
    n = len(b)
    d = pd.DataFrame({"tsr_id": np.repeat(b.index.to_numpy(), 12), "sector12": np.tile(SECTORS, n),
                      "log_tfp": np.repeat(b.log_tfp.to_numpy(), 12)})
    imp = si[(si.year == st.y0) & (si.imports > 0)]
    sid_to_tsr = pd.Series(b.index, index=b.survey_id.to_numpy())
    off = set(zip(sid_to_tsr.reindex(imp.survey_id).to_numpy(), imp.sector12.astype(int), strict=True))
    dom = set(map(tuple, domestic_sourcing(st, b.index, drop_parent_child).to_numpy()))
    pairs = list(zip(d.tsr_id, d.sector12, strict=True))
    d["off"] = np.fromiter((p in off for p in pairs), float, len(d))
    d["dom"] = np.fromiter((p in dom for p in pairs), float, len(d))
    sc = sector_characteristics(st).reindex(SECTORS)
    for th in ("theta_cp", "theta_firm"):
        x = (sc[th] * sc.ratio).to_numpy()[d.sector12.to_numpy() - 1]
        d[f"tfp_x_{th}"] = d.log_tfp * x
    return d


def table6_fits(d: pd.DataFrame) -> tuple[dict, dict]:
    """The four columns of Table 6: CP θ and firm θ, without and with buyer fixed effects; input sector FE;
    SEs clustered by buyer. Returns the fits (None where not estimable) and those columns' reasons."""
    cl = {"cluster": "tsr_id"}
    specs = {}
    for th, tag in (("theta_cp", "CP θ"), ("theta_firm", "Firm θ")):
        specs[tag] = (f"off ~ dom + log_tfp + tfp_x_{th} | sector12", d, cl)
        specs[f"{tag}, buyer FE"] = (f"off ~ dom + tfp_x_{th} | sector12 + tsr_id", d, cl)
    return fit_columns(specs, "Table 6", context=f"{d.tsr_id.nunique():,} buyers in the sample")


TABLE6_TERMS = {"dom": "Domestic sourcing dummy", "log_tfp": "TFP buyer, base year",
                "tfp_x_theta_cp": "TFP × θ × ρ/(ρ-1) [CP θ]", "tfp_x_theta_firm": "TFP × θ × ρ/(ρ-1) [firm θ]"}


def table6_table(st: Study, d: pd.DataFrame, number: str, title: str, extra_note: str = "") -> Table:
    fits, flagged = table6_fits(d)
    for f in filter(None, fits.values()):
        f.extra["n_buyers"] = int(d.tsr_id.nunique())
        f.extra["share_offshore"] = float(d.off.mean())
    return Table(number, title, fits, TABLE6_TERMS, {"Input sector (12) FE": ["sector12"], "Buyer FE": ["tsr_id"]},
                 {"R-sq": "r2", "Nb of Obs": "nobs", "Nb of buyers": "n_buyers", "Share offshoring": "share_offshore"},
                 notes=f"Buyer × broad input sector (12), {st.y0}. Offshore: the buyer imports goods of the sector "
                       "(BSJBSA imports by product sector); domestic sourcing dummy: it buys from a TSR seller of the "
                       "sector (any 3-digit industry of it), parent-child links removed. Buyers: survey firms matched "
                       "to TSR with a base-year productivity, all industries. θ × ρ/(ρ-1) of a sector: sales-weighted "
                       "means of its 3-digit industries (as Table 5); columns 1-2 Caliendo-Parro θ, 3-4 firm-based θ. "
                       "The foreign source region being one, the input-industry source-region FE are input-sector FE. "
                       f"SEs clustered by buyer. {st.op.note}{extra_note}", column_notes=flagged)


def table_6(st: Study) -> Exhibit:
    title = "The incidence of offshoring and product differentiation of inputs"
    try:
        d = offshoring_frame(st)
    except NotEstimable as e:
        return Exhibit("table_6", title, error=str(e))
    t = table6_table(st, d, "6", title)
    p, oracle = st.notes.get("planted", {}), st.notes.get("oracle_table6", {})
    f1, f2 = t.columns["CP θ"], t.columns["CP θ, buyer FE"]

    def orc(k):
        return oracle.get(k, {}).get("estimate")

    truth = [_truth("off_dom (domestic sourcing, Table 6)", p.get("off_dom"), f1, "dom", oracle=orc("dom")),
             _truth("off_tfp (TFP, Table 6)", p.get("off_tfp"), f1, "log_tfp", oracle=orc("t")),
             _truth("off_tfp_x (TFP × θ_CP ρ/(ρ-1), Table 6)", p.get("off_tfp_x"), f1, "tfp_x_theta_cp",
                    oracle=orc("tx")),
             _truth("off_tfp_x (buyer FE column)", p.get("off_tfp_x"), f2, "tfp_x_theta_cp", oracle=orc("tx"))] if p else []
    return Exhibit("table_6", title, reg=t, notes=t.notes, truth=truth)


# ---------------------------------------------------------------- seed 000

def industry_offshoring(survey: pd.DataFrame, years: tuple[int, int]) -> pd.DataFrame:
    """Offshoring per 3-digit industry and year: imported intermediates over total intermediate purchases."""
    s = survey[survey.year.isin(years)]
    g = s.groupby(["jsic3", "year"])[["imports_total", "purchases"]].sum()
    return (g.imports_total / g.purchases.where(g.purchases > 0)).unstack()


def foreign_outsourcing(survey: pd.DataFrame, year: int) -> pd.Series:
    """Initial foreign outsourcing per 3-digit industry: outsourcing_abroad over purchases in ``year``, over
    the firms that report it."""
    s = survey[(survey.year == year)]
    if "outsourcing_abroad" not in s:
        return pd.Series(dtype=float)
    s = s[s.outsourcing_abroad.notna()]
    g = s.groupby("jsic3")[["outsourcing_abroad", "purchases"]].sum()
    return g.outsourcing_abroad / g.purchases.where(g.purchases > 0)


def _std(x: pd.Series) -> pd.Series:
    return (x - x.mean()) / x.std()


def wage_frame(st: Study) -> pd.DataFrame:
    """One row per manufacturing 3-digit industry with wages in both years: Δ ln(w_high/w_low), Δ offshoring,
    initial foreign outsourcing (standardised over the estimation sample), controls, and the network measure
    of initial domestic outsourcing (mean log sellers per buyer, base vintage)."""
    w = st.wages.copy()
    w["ineq"] = np.log(w.wage_high / w.wage_low)
    w["emp"] = w.emp_high + w.emp_low
    w["skill"] = w.emp_high / w.emp
    ineq = w.pivot_table(index="jsic3", columns="year", values="ineq")
    base = w[w.year == st.y0].set_index("jsic3")
    off = industry_offshoring(st.survey, (st.y0, st.y1))
    if st.y0 not in ineq or st.y1 not in ineq or st.y0 not in off or st.y1 not in off:
        raise NotEstimable(f"not estimable: wages or survey lack {st.y0} or {st.y1}")
    d = pd.DataFrame({"d_ineq": ineq[st.y1] - ineq[st.y0], "d_off": off[st.y1] - off[st.y0]})
    d["fo"] = foreign_outsourcing(st.survey, st.y0).reindex(d.index)
    d = d.dropna()
    if len(d) < 5:  # each column then checks its own degrees of freedom
        raise NotEstimable(f"not estimable: {len(d)} industries with wages, offshoring in {st.y0} and {st.y1} and "
                           f"reported foreign outsourcing in {st.y0}; the table needs at least 5")
    d["fo_std"] = _std(d.fo)
    d["d_off_x_fo"] = d.d_off * d.fo_std
    d["ineq0"] = ineq[st.y0].reindex(d.index)
    d["ln_emp0"] = np.log(base.emp.reindex(d.index))
    d["skill0"] = base.skill.reindex(d.index)
    k = st.links[st.y0].groupby("buyer_id").size()
    net = pd.Series(np.log(k.to_numpy()), index=st.firms[st.y0].jsic3.reindex(k.index).to_numpy()).groupby(level=0).mean()
    d["net_std"] = _std(net.reindex(d.index))
    d["d_off_x_net"] = d.d_off * d.net_std
    return d


def wage_fits(d: pd.DataFrame) -> tuple[dict, dict]:
    """The columns of Table W1 (None where not estimable) and those columns' reasons; robust SEs."""
    specs = {"Offshoring only": "d_ineq ~ d_off",
             "With initial foreign outsourcing": "d_ineq ~ d_off + d_off_x_fo + fo_std",
             "With controls": "d_ineq ~ d_off + d_off_x_fo + fo_std + ineq0 + ln_emp0 + skill0",
             "Extension: network outsourcing": "d_ineq ~ d_off + d_off_x_net + net_std"}
    return fit_columns({k: (f, d, "robust") for k, f in specs.items()}, "Table W1",
                       context=f"{len(d):,} industries with both years")


def wage_inequality_table(st: Study) -> Exhibit:
    """Companion paper (seed 000): Δ ln(w_high/w_low) on Δ offshoring and its interaction with the initial
    level of foreign outsourcing, by 3-digit manufacturing industry."""
    title = "Offshoring and wage inequality across manufacturing industries (companion paper)"
    try:
        d = wage_frame(st)
    except NotEstimable as e:
        return Exhibit("table_W1", title, error=str(e))
    fits, flagged = wage_fits(d)
    t = Table("W1", title, fits,
              {"d_off": "Δ offshoring (imports/purchases)", "d_off_x_fo": "Δ offshoring × initial foreign outsourcing",
               "fo_std": "Initial foreign outsourcing (std.)", "ineq0": "Initial ln(w_high/w_low)",
               "ln_emp0": "ln employment (base year)", "skill0": "High-skill employment share (base year)",
               "d_off_x_net": "Δ offshoring × initial domestic outsourcing (network)",
               "net_std": "Initial domestic outsourcing, network (std.)", "_cons": "Constant"}, {},
              {"Nb of industries": "nobs", "R-sq": "r2"},
              notes=f"3-digit manufacturing industries; dependent variable Δ ln(wage_high/wage_low), {st.y0}-{st.y1}; "
                    "offshoring: imported intermediates over total intermediate purchases of the industry's survey "
                    f"firms; initial foreign outsourcing: outsourcing_abroad over purchases in {st.y0} (firms that "
                    "report it), standardised over the sample; controls: base-year inequality, ln employment and "
                    "high-skill share. Column 4 is this project's extension, not the companion paper's: initial "
                    "domestic outsourcing measured on the TSR network (mean log sellers per buyer, base vintage, "
                    "standardised). Robust SEs.", column_notes=flagged)
    p = st.notes.get("planted", {})
    f2 = fits["With initial foreign outsourcing"]
    truth = [_truth("wage_b1 (Δ offshoring)", p.get("wage_b1"), f2, "d_off"),
             _truth("wage_b2 (× initial foreign outsourcing)", p.get("wage_b2"), f2, "d_off_x_fo"),
             _truth("wage_b3 (initial foreign outsourcing)", p.get("wage_b3"), f2, "fo_std")] if p and f2 else []
    return Exhibit("table_W1", title, reg=t, notes=t.notes, truth=truth)


def all_offshoring() -> list:
    return [table_6, wage_inequality_table]
