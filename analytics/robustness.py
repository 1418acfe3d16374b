"""Robustness exhibits of the paper's footnotes, after the main tables, each through the code path of the
table it varies: alternative import-starter definitions (footnote 24, Table 3), parent–child links and
sellers under 5 employees kept (footnote 25, Table 3), buyer fixed effects in eq. (16) (footnote 49,
Tables 7 and 8), 4-digit input industries and buyer industry fixed effects in eq. (15) (footnote 38, Table 4)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from analytics import regressions as rg
from analytics.econometrics.tables import Table
from analytics.exhibits import Exhibit
from analytics.guard import NotEstimable, fit_columns
from analytics.study import Study

PRE_YEARS = (2003, 2004, 2005)


def alternative_status(st: Study) -> pd.DataFrame:
    """Footnote 24: an import starter imported in two consecutive years (y1 and y1 + 1); a non-importer did not
    import in 2003–2005. imp05 = imported in any of 2003–2005 (missing unless all three are observed);
    imp_starter = 1 if importing in both y1 and y1 + 1, 0 if in neither, missing otherwise."""
    s = st.survey[st.survey.tsr_id.fillna("") != ""]
    imp = s.pivot_table(index="tsr_id", columns="year", values="imports_total", aggfunc="first")
    post = (st.y1, st.y1 + 1)
    missing = [y for y in (*PRE_YEARS, *post) if y not in imp]
    if missing:
        raise NotEstimable(f"not estimable: survey years {', '.join(map(str, missing))} absent (footnote 24 needs "
                           f"{', '.join(map(str, PRE_YEARS))} and {post[0]}-{post[1]})")
    pre = imp[list(PRE_YEARS)]
    out = st.buyers.copy()
    out["imp05"] = (pre > 0).any(axis=1).where(pre.notna().all(axis=1)).reindex(out.index)
    a, b = imp[post[0]], imp[post[1]]
    starter = pd.Series(np.where((a > 0) & (b > 0), 1.0, np.where((a == 0) & (b == 0), 0.0, np.nan)), index=imp.index)
    out["imp_starter"] = starter.reindex(out.index)
    out["imp10"] = out.imp_starter.notna().where(out.imp_starter.notna())
    return out


def table_r1(st: Study) -> Exhibit:
    """Table 3 with the alternative import-starter definitions of footnote 24."""
    title = "Robustness: Table 3 with import starters importing in two consecutive years (footnote 24)"
    try:
        alt = dataclasses.replace(st, buyers=alternative_status(st))
    except NotEstimable as e:
        return Exhibit("table_R1", title, error=str(e))
    ex = rg.table_3(alt, number="R1", variant=" (footnote 24: alternative import-starter definitions)")
    ex.reg.notes = ex.notes = (f"As Table 3, except: import starter = imported in {st.y1} and {st.y1 + 1}; sample = "
                               f"firms that imported in none of 2003-2005, with neither or both of {st.y1} and "
                               f"{st.y1 + 1} importing. " + ex.notes)
    return ex


def table_r2(st: Study) -> Exhibit:
    """Table 3 keeping parent–child links and sellers with fewer than 5 employees (footnote 25)."""
    ex = rg.table_3(st, restricted=False, number="R2",
                    variant=" (footnote 25: parent-child links and sellers under 5 employees kept)")
    ex.reg.notes = ex.notes = ("As Table 3, except that the buyer-level measures count every link of the buyer "
                               "(parent-child links and sellers with fewer than 5 employees kept). " + ex.notes)
    return ex


def eq16_buyer_fe_specs(p) -> dict:
    """Eq. (16) with buyer FE (footnote 49): Imp Starter and log sales are absorbed; the interactions remain."""
    specs, cl = {}, {"cluster": "buyer_id"}
    for x in ("dist", "sales"):
        specs[f"OLS {x}"] = (f"y ~ D_{x} + rel_{x} | {rg.FE16} + buyer_id", p, cl)
        specs[f"2SLS {x}"] = (f"y ~ rel_{x} | {rg.FE16} + buyer_id | D_{x} ~ Z_{x}", p, cl)
    return specs


def table_r3(st: Study) -> Exhibit:
    """Tables 7 and 8 (eq. 16) with buyer fixed effects (footnote 49)."""
    specs = {}
    for kind in ("drop", "add"):
        p = rg.pair_design(st, kind, rg.pair_sample(st, kind))
        specs |= {f"{kind}: {k}": spec for k, spec in eq16_buyer_fe_specs(p).items()}
    fits, flagged = fit_columns(specs, "Table R3")
    t = Table("R3", "Robustness: eq. (16) with buyer fixed effects (footnote 49)", fits,
              {"D_dist": "Imp Starter × log(x_j/x_i) [dist]", "D_sales": "Imp Starter × log(x_j/x_i) [sales]",
               "rel_dist": "log(x_j/x_i) [dist]", "rel_sales": "log(x_j/x_i) [sales]"},
              {"Buyer FE": ["buyer_id"], "Input industry FE": ["in_ind"], "Source region FE": ["src_pref"]},
              {"Nb of Obs": "nobs", "R-squared": "r2", "Kleibergen-Paap F statistic": "kp_f"},
              notes="Samples of Tables 7 (drop) and 8 (add); buyer FE added to the FE of eq. (16), which absorb Imp "
                    "Starter and the buyer's sales; instrument shock_i × log(x_j/x_i); SEs clustered by buyer.",
              column_notes=flagged)
    return Exhibit("table_R3", t.title, reg=t, notes=t.notes)


def table_r4(st: Study) -> Exhibit:
    """Table 4 (eq. 15, nearest reference region, Caliendo–Parro θ) with 4-digit input industries and buyer
    4-digit industry fixed effects (footnote 38)."""
    d = rg.eq15_frame(st, st.y0, "nearest", "theta_cp", level="jsic4")
    d["b_ind"] = st.firms[st.y0].jsic4.reindex(d.buyer_id).to_numpy()
    d = d.dropna(subset=["y", "lnd_t", "lnd_t_rho", "lnd_t_air"])
    fits, flagged = fit_columns({label: (f"y ~ {rhs} | s_ref + s_r + b_ind", d, {"cluster": "s_r"})
                                 for label, rhs in (("θ", "lnd_t"), ("+ ρ/(ρ-1)", "lnd_t + lnd_t_rho"),
                                                    ("+ air", "lnd_t + lnd_t_rho + lnd_t_air"))},
                                "Table R4", context=f"{d.buyer_id.nunique():,} buyers in the sample")
    t = Table("R4", f"Robustness: Table 4 with 4-digit input industries and buyer industry FE (footnote 38, {st.y0})",
              fits, {"lnd_t": "ln(dist) × θ", "lnd_t_rho": "ln(dist) × θ × ρ/(ρ-1)", "lnd_t_air": "ln(dist) × θ × air"},
              {"Input ind (4-digit) × reference region FE": ["s_ref"], "Input ind (4-digit) × source region FE": ["s_r"],
               "Buyer (4-digit) industry FE": ["b_ind"]}, {"R-sq": "r2", "Nb of Obs": "nobs"},
              notes="As Table 4 columns 1-3 (nearest reference region, Caliendo-Parro θ), with observations at buyer × "
                    "4-digit input industry × source prefecture (θ, ρ and air share of the 3-digit group) and buyer "
                    "4-digit industry FE; SEs clustered by input industry × source prefecture.", column_notes=flagged)
    return Exhibit("table_R4", t.title, reg=t, notes=t.notes)


def all_robustness() -> list:
    return [table_r1, table_r2, table_r3, table_r4]
