"""The paper's regression tables: 3 (eq. 1), 4 and A5 (eq. 15), 5 (incidence LPM), A4 (productivity and
scope), 7 and 8 (eq. 16, OLS and 2SLS with the instrument of eq. 18; first stages A6, A7), 9 (eq. 19;
first stages A8). Table 6 and the seed-000 industry table are in ``analytics.offshoring``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from analytics import network as nw
from analytics.econometrics.akm import ShiftShareVcov
from analytics.econometrics.design import AbsorbedDesign
from analytics.econometrics.iv import feiv
from analytics.econometrics.result import Fit
from analytics.econometrics.tables import Table
from analytics.exhibits import Exhibit
from analytics.guard import first_stage_flags, fit_columns, warnings_named
from analytics.study import Study
from etl.geo import capital_distance_matrix

SIG = "***, **, * indicate significance at the 1%, 5%, 10% levels."


def first_stage_fit(fit: Fit, endog: str) -> Fit:
    """A first-stage regression of ``fit`` as a Fit (for the first-stage tables A6–A8)."""
    fs = fit.first_stages[endog]
    v = pd.DataFrame(np.diag(fs.se.to_numpy() ** 2), index=fs.coef.index, columns=fs.coef.index)
    return Fit("ols", endog, fs.coef, v, fit.vcov_type, fit.nobs, fit.df_resid, fit.k, fit.df_a, fs.r2, np.nan,
               np.nan, fe=fit.fe, n_clusters=fit.n_clusters, n_input=fit.n_input, dropped=fit.dropped,
               diagnostics={"partial_r2": fs.partial_r2, "f_excluded": fs.f_excluded, "sw_f": fs.sw_f})


def first_stages(fits: dict[str, Fit | None]) -> tuple[dict[str, Fit], dict[str, str]]:
    """Every first stage of the 2SLS columns (``column: endogenous``) and the flags of the weak ones."""
    fs, notes = {}, {}
    for label, f in fits.items():
        for e in [] if f is None else f.endog:
            fs[f"{label}: {e}"] = first_stage_fit(f, e)
            if flag := first_stage_flags(f, e):
                notes[f"{label}: {e}"] = flag
    return fs, notes


def _truth(name: str, planted: float | None, fit: Fit | None, term: str, sign: float = 1.0,
           oracle: float | None = None) -> dict:
    """A planted parameter next to its estimate; z uses the fit's SE (buyer-clustered for eq. 16).
    ``oracle``: the same LPM estimated on the generated world with the unobserved shock known."""
    est = None if fit is None or term not in fit.coef else float(sign * fit.coef[term])
    se = None if est is None else float(fit.se[term])
    ref = oracle if oracle is not None else planted
    return {"parameter": name, "planted": planted, "oracle": oracle, "estimate": est, "std_error": se,
            "z": None if est is None or ref is None else (est - ref) / se}


# ---------------------------------------------------------------- Table 3 (eq. 1)

def buyer_outcomes(st: Study, buyers: pd.Index, restricted: bool = True) -> pd.DataFrame:
    """Buyer-level changes between vintages (Table 3): sellers from both vintages, parent–child links and
    sellers under 5 employees removed (``restricted=False``: every link of the buyer kept, footnote 25)."""
    out = {}
    ls = {}
    for y in (st.y0, st.y1):
        l = st.links_of(y, buyers, clean=restricted)
        if restricted:
            l = l[st.arr(y, "employees")[l.s.to_numpy()] >= 5]
        ls[y] = l
        sc = nw.sourcing_scope(l, st.firms[y])
        out[y] = sc
    d = pd.DataFrame(index=buyers)
    for c, name in (("sellers", "d_log_sellers"), ("input_industries_3", "d_log_industries"),
                    ("source_prefectures", "d_log_regions")):
        d[name] = np.log(out[st.y1][c].reindex(buyers)) - np.log(out[st.y0][c].reindex(buyers))
    dist = nw.distance_by_buyer(ls[st.y0], ls[st.y1]).reindex(buyers)
    d["dhs_dist"], d["d_log_dist"] = dist.dhs_mean_km, dist.dlog_mean_km
    d["add_vs_drop_dist"] = nw.add_vs_drop_distance(nw.add_drop_pairs(ls[st.y0], ls[st.y1])).reindex(buyers)
    b = st.buyers.reindex(buyers)
    d["d_log_sales"] = b.log_sales10 - b.log_sales05
    d["imp_starter"], d["log_tfp"] = b.imp_starter, b.log_tfp05
    d["ind4"] = st.firms[st.y0].jsic4.reindex(buyers)
    d["pref"] = st.firms[st.y0].pref.reindex(buyers).astype(float)
    return d.replace([np.inf, -np.inf], np.nan)


def table_3(st: Study, restricted: bool = True, number: str = "3", variant: str = "") -> Exhibit:
    """Table 3 (eq. 1); ``restricted`` and ``variant`` serve the robustness exhibits (footnotes 24, 25)."""
    d = buyer_outcomes(st, st.regression_buyers(exclude_importers=True), restricted)
    cols = {"Δlog(Sales)": "d_log_sales", "Δlog(Nb. Sellers)": "d_log_sellers",
            "Δlog(Nb. Input Industries)": "d_log_industries", "Δlog(Nb. Source Regions)": "d_log_regions",
            "DHS Δdist": "dhs_dist", "Δlog(dist)": "d_log_dist", "Add vs drop dist": "add_vs_drop_dist"}
    fits, flagged = fit_columns({k: (f"{v} ~ imp_starter + log_tfp | ind4 + pref", d, {"cluster": "pref"})
                                 for k, v in cols.items()}, f"Table {number}", context=f"{len(d):,} buyers in the sample")
    t = Table(number, "Buyer's offshoring and changes in the pattern of domestic outsourcing" + variant, fits,
              {"imp_starter": "Imp Starter", "log_tfp": f"log {st.op.label} t-1"},
              {"Buyer (4-digit) industry FE": ["ind4"], "Buyer region FE": ["pref"]},
              {"R-sq": "r2", "Nb Obs": "nobs"},
              notes="Manufacturing buyers, existing importers excluded; parent-child links and sellers with fewer "
                    f"than 5 employees dropped; SEs clustered by the buyer's prefecture. {st.op.note}",
              column_notes=flagged)
    return Exhibit(f"table_{number}", t.title, reg=t, notes=t.notes)


# ---------------------------------------------------------------- Tables 4, A5 (eq. 15)

def sourcing_counts(st: Study, year: int, level: str = "jsic3") -> pd.DataFrame:
    """N_isr: sellers of buyer i in input industry s (``level``: 3-digit, or 4-digit for footnote 38) and
    prefecture r, regression-sample buyers."""
    return st.memo(("sourcing_counts", year, level), lambda: _sourcing_counts(st, year, level))


def _sourcing_counts(st: Study, year: int, level: str) -> pd.DataFrame:
    l = st.links_of(year, st.regression_buyers())
    s, b = l.s.to_numpy(), l.b.to_numpy()  # integer firm codes: attributes by position, no string matching
    pref = st.arr(year, "pref")
    d = pd.DataFrame({"b": b, "s": st.arr(year, level)[s], "r": pref[s]}).dropna()
    n = d.groupby(["b", "s", "r"]).size().rename("N").reset_index()
    n["home"] = pref[n.b.to_numpy()]
    n.insert(0, "buyer_id", st.ids[n.b.to_numpy()])
    return n.drop(columns="b").dropna(subset=["home"]).astype({"r": int, "home": int})


def eq15_frame(st: Study, year: int, reference: str, theta: str, level: str = "jsic3") -> pd.DataFrame:
    """Rows (i, s, r ≠ reference) with log N_isr/N_is,ref and the distance interactions of eq. (15); input
    industries at ``level`` (characteristics of the 3-digit group)."""
    n = sourcing_counts(st, year, level).copy()
    dm = capital_distance_matrix()
    n["d"] = dm.to_numpy()[n.home.to_numpy() - 1, n.r.to_numpy() - 1]
    if reference == "nearest":
        ref = n.loc[n.groupby(["buyer_id", "s"]).d.idxmin(), ["buyer_id", "s", "r", "N"]]
    else:
        ref = n.loc[n.r == n.home, ["buyer_id", "s", "r", "N"]]
    ref = ref.rename(columns={"r": "ref", "N": "N_ref"})
    m = n.merge(ref, on=["buyer_id", "s"])
    m = m[m.r != m.ref].copy()
    ch = st.chars.reindex(m.s.str[:3])
    th = ch[theta].to_numpy()
    lnd = np.log(m.d.to_numpy())
    m["y"] = np.log(m.N / m.N_ref)
    m["lnd_t"] = lnd * th
    m["lnd_t_rho"] = lnd * th * ch.ratio.to_numpy()
    m["lnd_t_air"] = lnd * th * ch.air_share.to_numpy()
    m["s_ref"] = m.s + "_" + m.ref.astype(str)
    m["s_r"] = m.s + "_" + m.r.astype(str)
    return m.replace([np.inf, -np.inf], np.nan)


# The paper's three columns per θ and reference (Tables 4, A5; likewise Table 5): ln d × θ alone; with
# ln d × θ × ρ/(ρ−1); and eq. (15) itself, ln d × θ × ρ/(ρ−1) and ln d × θ × air without ln d × θ, whose
# coefficients are −β and −γ. Each column drops only the rows missing its own regressors.
EQ15_COLUMNS = (["lnd_t"], ["lnd_t", "lnd_t_rho"], ["lnd_t_rho", "lnd_t_air"])


def table_4(st: Study, year: int | None = None) -> Exhibit:
    year = year or st.y0
    specs = [("nearest", "theta_cp"), ("nearest", "theta_firm"), ("home", "theta_cp")]
    num = "4" if year == st.y0 else "A5"
    columns, buyers = {}, set()
    for ref, th in specs:
        d = eq15_frame(st, year, ref, th)
        buyers |= set(d.loc[d.y.notna(), "buyer_id"])
        for i, rhs in enumerate(EQ15_COLUMNS):
            label = f"{'CP' if th == 'theta_cp' else 'Firm'} θ, {ref} ref ({i + 1})"
            columns[label] = (f"y ~ {' + '.join(rhs)} | s_ref + s_r", d.dropna(subset=["y", *rhs]), {"cluster": "s_r"})
    fits, flagged = fit_columns(columns, f"Table {num}", context=f"{year} sample has {len(buyers):,} buyers "
                                f"with sellers outside the reference prefecture")
    truth, eq15 = [], fits.get("CP θ, nearest ref (3)")  # column 3 is eq. (15): β, γ
    if "planted" in st.notes and eq15 is not None:
        truth = _eq15_truth(st, eq15, "lnd_t_rho", "lnd_t_air", st.notes.get("oracle_eq15", {}).get(
            str(year), {}).get("table_4", {}), "log sellers vs nearest prefecture")
    t = Table(num, f"Distance, scope of domestic outsourcing, and product differentiation of inputs ({year})", fits,
              {"lnd_t": "ln(dist) × θ", "lnd_t_rho": "ln(dist) × θ × ρ/(ρ-1)", "lnd_t_air": "ln(dist) × θ × air"},
              {"Input ind × reference region FE": ["s_ref"], "Input ind × source region FE": ["s_r"]},
              {"R-sq": "r2", "Nb of Obs": "nobs"},
              notes=f"Observations at buyer × input industry (3-digit) × source prefecture, {year}; manufacturing buyers "
                    "of the regression sample; parent-child links removed; distances between prefectural capitals; "
                    "SEs clustered by input industry × source prefecture. Home-reference columns use the buyer's home "
                    "prefecture (its FE is input industry × buyer region).", column_notes=flagged)
    return Exhibit(f"table_{num}", t.title, reg=t, notes=t.notes, truth=truth)


def _eq15_truth(st: Study, fit: Fit, x_rho: str, x_air: str, oracle: dict, what: str) -> list[dict]:
    """Planted β and γ of eq. (15) next to the estimate of the equation as the paper writes it (regressors
    ρθ/(ρ−1) ln d and φθ ln d only) and the generator's oracle (the same estimator on the full, unreported
    network), with which z is computed: the planted values govern expected counts, not the log of
    realised counts or the sourcing dummy."""
    p = st.notes["planted"]
    return [_truth(f"beta_comm (communication cost, eq. 15; {what})", p.get("beta_comm"), fit, x_rho, -1.0,
                   oracle.get("beta_comm")),
            _truth(f"gamma_air (transport cost, eq. 15; {what})", p.get("gamma_air"), fit, x_air, -1.0,
                   oracle.get("gamma_air"))]


def table_a5(st: Study) -> Exhibit:
    return table_4(st, st.y1)


# ---------------------------------------------------------------- Table 5 (incidence LPM)

def sector_characteristics(st: Study) -> pd.DataFrame:
    """Sales-weighted averages of 3-digit characteristics within the 12 BSJBSA sectors (section 5.1)."""
    f = st.firms[st.y0]
    sec = st.jsic.set_index("jsic4").sector12
    w = f.groupby("jsic3").sales.sum()
    ch = st.chars.join(w.rename("w"), how="left")
    ch["sector"] = sec.reindex(st.jsic.groupby("jsic3").jsic4.first().reindex(ch.index)).to_numpy()
    ch = ch.dropna(subset=["sector", "w"])

    def wavg(g, c):
        ok = g[c].notna()
        return np.average(g.loc[ok, c], weights=g.loc[ok, "w"]) if ok.any() else np.nan

    return pd.DataFrame({c: ch.groupby("sector").apply(lambda g, c=c: wavg(g, c)) for c in
                         ("theta_cp", "theta_firm", "ratio", "air_share")})


def incidence_frame(st: Study) -> pd.DataFrame:
    """Buyer × sector (12) × source prefecture: dummy for sourcing, ln(dist + 1) interactions (Table 5)."""
    buyers = st.regression_buyers()
    l = st.links_of(st.y0, buyers)
    sec = st.jsic.set_index("jsic4").sector12
    s = l.s.to_numpy()
    src_sector = _by_key(sec.to_frame(), pd.Series(st.arr(st.y0, "jsic4")[s])).sector12.to_numpy(float)
    src_pref = st.arr(st.y0, "pref")[s]
    bcode = st.code(buyers)
    home = np.where(bcode >= 0, st.arr(st.y0, "pref")[bcode], np.nan)
    ok = ~np.isnan(home)
    bcode, home = bcode[ok], home[ok].astype(int)
    sectors = np.arange(1, 13)
    nb, ns = len(bcode), len(sectors)
    b_i = np.repeat(np.arange(nb), ns * 47)
    s_i = np.tile(np.repeat(sectors, 47), nb)
    r_i = np.tile(np.arange(1, 48), nb * ns)
    row = np.full(len(st.ids), -1)
    row[bcode] = np.arange(nb)  # buyer code → its block of rows
    bi = row[l.b.to_numpy()]
    found = (bi >= 0) & ~np.isnan(src_sector) & ~np.isnan(src_pref)
    pos = (bi[found] * ns * 47 + (src_sector[found].astype(int) - 1) * 47 + (src_pref[found].astype(int) - 1))
    hit = np.zeros(len(b_i), bool)
    hit[pos] = True
    dm = capital_distance_matrix().to_numpy()
    lnd = np.log1p(dm[home[b_i] - 1, r_i - 1])
    sc = sector_characteristics(st).reindex(sectors)
    d = pd.DataFrame({"y": hit.astype(np.float64), "buyer": b_i, "sector_r": s_i * 100 + r_i})
    for th in ("theta_cp", "theta_firm"):
        t = sc[th].to_numpy()[s_i - 1]
        d[f"lnd_{th}"] = lnd * t
        d[f"lnd_{th}_rho"] = lnd * t * sc.ratio.to_numpy()[s_i - 1]
        d[f"lnd_{th}_air"] = lnd * t * sc.air_share.to_numpy()[s_i - 1]
    return d


def table_5_specs() -> list[tuple[str, list[str], list[str]]]:
    """(column label, regressors, FE sets) of Table 5's twelve columns, in display order (the columns of
    ``EQ15_COLUMNS`` for each θ, without and with buyer FE)."""
    specs = []
    for th, tag in (("theta_cp", "CP θ"), ("theta_firm", "Firm θ")):
        for fe in ([], ["buyer"]):
            for i, cols in enumerate(EQ15_COLUMNS):
                rhs = [c.replace("lnd_t", f"lnd_{th}") for c in cols]
                specs.append((f"{tag}{', buyer FE' if fe else ''} ({i + 1})", rhs, ["sector_r", *fe]))
    return specs


def table_5_fits(d: pd.DataFrame) -> dict[str, Fit]:
    """Table 5's twelve LPMs on the incidence frame, clustered by buyer."""
    specs = table_5_specs()
    fits = {}
    # the project's solver rather than pyfixest on this 6–8M-row design (pyfixest copies the data per fit):
    # one absorbed design per FE set, every column demeaned once, released before the next
    for fe in dict.fromkeys(tuple(fe) for _, _, fe in specs):
        design = AbsorbedDesign(d, ["y", *dict.fromkeys(x for _, rhs, _ in specs for x in rhs)])
        for i, (label, rhs, f) in enumerate(specs, 1):
            if tuple(f) == fe:
                formula = f"y ~ {' + '.join(rhs)} | {' + '.join(fe)}"
                with warnings_named(f"Table 5 column {i}"):  # as the guarded path names them
                    fits[label] = feiv(formula, design, vcov={"cluster": "buyer"})
                fits[label].extra["formula"] = formula  # as the guarded path records it (refits)
        del design
    return {label: fits[label] for label, _, _ in specs}


def table_5(st: Study) -> Exhibit:
    d = incidence_frame(st)
    try:
        fits, flagged = table_5_fits(d), {}
    except ValueError:  # a column cannot be estimated: the guarded per-column path gives each its reason
        fits, flagged = fit_columns({label: (f"y ~ {' + '.join(rhs)} | {' + '.join(fe)}", d, {"cluster": "buyer"})
                                     for label, rhs, fe in table_5_specs()}, "Table 5",
                                    context=f"{d.buyer.nunique():,} buyers in the sample")
    terms = {}
    for th in ("theta_cp", "theta_firm"):
        terms |= {f"lnd_{th}": f"ln(dist+1) × θ [{th}]", f"lnd_{th}_rho": f"ln(dist+1) × θ × ρ/(ρ-1) [{th}]",
                  f"lnd_{th}_air": f"ln(dist+1) × θ × air [{th}]"}
    t = Table("5", "The incidence of domestic sourcing and product differentiation of inputs", fits, terms,
              {"Buyer FE": ["buyer"], "Input sector (12) × source region FE": ["sector_r"]},
              {"R-sq": "r2", "Nb of Obs": "nobs"},
              notes="Linear probability model at buyer × input sector (12) × source prefecture, base vintage; "
                    "sector characteristics are sales-weighted averages of 3-digit values; SEs clustered by buyer.",
              column_notes=flagged)
    truth = []
    if "planted" in st.notes and fits.get("CP θ, buyer FE (3)") is not None:
        truth = _eq15_truth(st, fits["CP θ, buyer FE (3)"], "lnd_theta_cp_rho", "lnd_theta_cp_air",
                            st.notes.get("oracle_eq15", {}).get(str(st.y0), {}).get("table_5", {}),
                            "sourcing dummy, buyer FE")
    return Exhibit("table_5", t.title, reg=t, notes=t.notes, truth=truth)


# ---------------------------------------------------------------- Table A4

A4_DROP_REASONS = {"sales": "seller sales missing or not positive", "employees": "seller employees missing or zero",
                   "dist": "distance missing or zero (no coordinates, or seller and buyer at the same point)",
                   "fe": "buyer, seller industry or seller prefecture missing"}


def _a4_links(sales: np.ndarray, employees: np.ndarray, dist_km: np.ndarray, rest: pd.DataFrame
              ) -> tuple[pd.DataFrame, str]:
    """Table A4 column 7's links: ln(sales/employees) of the seller and ln(distance), where both logs are
    defined, and the note on the links left out, counted by their first reason in ``A4_DROP_REASONS``."""
    sales, employees, dist_km = (np.asarray(a, float) for a in (sales, employees, dist_km))
    bad = {"sales": ~(sales > 0), "employees": ~(employees > 0), "dist": ~(dist_km > 0),
           "fe": rest[["buyer", "s_ind4", "s_pref"]].isna().any(axis=1).to_numpy()}
    keep, counts = np.ones(len(rest), bool), {}
    for reason, b in bad.items():
        counts[reason] = int((keep & b).sum())
        keep &= ~b
    e = rest[keep].assign(y=np.log(sales[keep] / employees[keep]), ln_dist=np.log(dist_km[keep]))
    parts = [f"{n:,} {A4_DROP_REASONS[r]}" for r, n in counts.items() if n]
    return e, (f"; {len(rest) - len(e):,} of {len(rest):,} links left out ({'; '.join(parts)})" if parts else "")


def table_a4(st: Study) -> Exhibit:
    y = st.y1
    buyers = st.regression_buyers()
    l = st.links_of(y, buyers)
    sc = nw.sourcing_scope(l, st.firms[y]).reindex(buyers)
    b = st.buyers.reindex(buyers)
    d = pd.DataFrame({"l_regions": np.log(sc.source_prefectures), "l_sellers": np.log(sc.sellers),
                      "l_ind4": np.log(sc.input_industries_4), "tfp": b.log_tfp10, "vapw": b.log_vapw10,
                      "ind4": st.firms[y].jsic4.reindex(buyers), "pref": st.firms[y].pref.reindex(buyers).astype(float)},
                     index=buyers).replace([np.inf, -np.inf], np.nan)
    columns = {}
    for dep, lab in (("l_regions", "ln(# prefectures)"), ("l_sellers", "ln(# sellers)"), ("l_ind4", "ln(# jsic4)")):
        # with the value-added-per-worker fallback, the TFP columns would repeat the VA/Emp ones
        measures = (("tfp", st.op.label), ("vapw", "VA/Emp")) if st.op.method == "olley_pakes" else (("vapw", "VA/Emp"),)
        for prod, plab in measures:
            columns[f"{lab}, {plab}"] = (f"{dep} ~ productivity | ind4 + pref", d.assign(productivity=d[prod]),
                                         {"cluster": "ind4"})
    ll = st.links[y]
    ll = ll[st.mfg_mask(y)[ll.b.to_numpy()]]
    s = ll.s.to_numpy()  # sellers by integer firm code

    def seller(col: str) -> np.ndarray:
        return st.arr(y, col)[s]

    e, dropped = _a4_links(seller("sales"), seller("employees"), ll.dist_km.to_numpy(),
                           pd.DataFrame({"parent_child": ll.parent_child.astype(float).to_numpy(),
                                         "buyer": ll.buyer_id.to_numpy(), "s_ind4": seller("jsic4"),
                                         "s_pref": seller("pref")}))
    columns["ln(Sales/Emp) seller"] = ("y ~ ln_dist + parent_child | buyer + s_ind4 + s_pref", e, {"cluster": "buyer"})
    fits, flagged = fit_columns(columns, "Table A4", context=f"{len(buyers):,} buyers, {len(e):,} links in the sample")
    t = Table("A4", f"Firm productivity, distance, and the scope of domestic sourcing ({y})", fits,
              {"productivity": "Productivity (buyer)", "ln_dist": "ln(distance)", "parent_child": "Parent-subsidiary"},
              {"Buyer (4-digit) industry FE": ["ind4"], "Buyer prefecture FE": ["pref"], "Buyer FE": ["buyer"],
               "Seller (4-digit) industry FE": ["s_ind4"], "Seller prefecture FE": ["s_pref"]},
              {"R-sq": "r2", "Nb of Obs": "nobs"},
              notes="Columns 1-6: manufacturing buyers of the regression sample, SEs clustered by buyer industry; "
                    f"column 7: links of manufacturing buyers, SEs clustered by buyer{dropped}. {st.op.note}",
              column_notes=flagged)
    return Exhibit("table_A4", t.title, reg=t, notes=t.notes)


# ---------------------------------------------------------------- Tables 7, 8 (eq. 16)

def relative_to_buyer_mean(x: pd.Series, buyer: pd.Series, mean: str = "arithmetic") -> pd.Series:
    """log(x_j / x̄_i) of eq. (16). ``arithmetic``: x̄_i the mean of the levels x_j over the buyer's sellers in
    the sample (the paper's "average characteristics of the sellers used by buyer i"); ``geometric``:
    x̄_i = exp(mean log x_j), i.e. log x_j minus the buyer's mean of log x. Missing or non-positive x_j
    give NaN and do not enter x̄_i."""
    x = x.where(x > 0)
    if mean == "arithmetic":
        return np.log(x) - np.log(x.groupby(buyer.to_numpy()).transform("mean"))
    if mean == "geometric":
        lx = np.log(x)
        return lx - lx.groupby(buyer.to_numpy()).transform("mean")
    raise ValueError(f"mean must be 'arithmetic' or 'geometric', got {mean!r}")


def pair_sample(st: Study, kind: str, mean: str = "arithmetic") -> pd.DataFrame:
    """Buyer–seller pairs of eq. (16): ``drop`` (base-vintage links: continuing vs dropped) or ``add``
    (later-vintage links: continuing vs added). Non-importing manufacturing buyers of the regression
    sample; seller characteristics x_j of the base vintage (sales, employees, distance) relative to x̄_i,
    the mean over the buyer's sellers in the sample: its base-vintage sellers for ``drop``, its later-
    vintage sellers (x̄_i10 of Table 8) for ``add`` (``mean``: see ``relative_to_buyer_mean``). Computed once
    per study (callers must not modify it)."""
    return st.memo(("pair_sample", kind, mean), lambda: _pair_sample(st, kind, mean))


def regression_pairs(st: Study) -> pd.DataFrame:
    """``add_drop_pairs`` of the offshoring regressions' buyers (eqs. 16 and 19), computed once per study."""
    def compute():
        buyers = st.regression_buyers(exclude_importers=True)
        return nw.add_drop_pairs(st.links_of(st.y0, buyers), st.links_of(st.y1, buyers))
    return st.memo("regression_pairs", compute)


def _by_key(frame: pd.DataFrame, keys: pd.Series) -> pd.DataFrame:
    """``frame.reindex(keys)`` for many repeated keys: each distinct key is looked up once."""
    codes, uniques = pd.factorize(keys, use_na_sentinel=False)
    return frame.reindex(uniques).iloc[codes]


def _pair_sample(st: Study, kind: str, mean: str) -> pd.DataFrame:
    pairs = regression_pairs(st)
    keep = ["continuing", "dropped"] if kind == "drop" else ["continuing", "added"]
    status = pairs.status.to_numpy()
    p = pairs[(status == keep[0]) | (status == keep[1])].copy()
    p["y"] = (p.status == keep[1]).astype(float)
    s, b = p.s.to_numpy(), p.b.to_numpy()  # integer firm codes: array look-ups, no string index

    def base(col: str, codes: np.ndarray) -> np.ndarray:
        return st.arr(st.y0, col)[codes]

    x = {"dist": np.maximum(p.dist_km.to_numpy(), 0.1), "sales": base("sales", s), "emp": base("employees", s)}
    bb = st.buyer_rows(b)
    p["D"], p["shock"], p["log_sales"] = bb.imp_starter.to_numpy(), bb.shock.to_numpy(), bb.log_sales05.to_numpy()
    for k, v in x.items():
        rel = relative_to_buyer_mean(pd.Series(v, index=p.index), p.b, mean)
        p[f"rel_{k}"], p[f"D_{k}"], p[f"Z_{k}"] = rel, p.D * rel, p.shock * rel
    p["in_ind"], p["src_pref"] = base("jsic3", s), base("pref", s)
    p["b_ind"], p["b_pref"] = base("jsic3", b), base("pref", b)
    return p


FE16 = "in_ind + b_ind + src_pref + b_pref"


def pair_design(st: Study, kind: str, p: pd.DataFrame) -> AbsorbedDesign | pd.DataFrame:
    """The absorbed design of the study's pair sample (its FE absorbed once for every column, vcov and table
    that uses it); a frame other than the study's sample is returned as it is."""
    if p is not pair_sample(st, kind):
        return p
    return st.memo(("pair_design", kind), lambda: AbsorbedDesign(p))


def eq16_fits(st: Study, kind: str, vcov="robust", p: pd.DataFrame | None = None,
              table: str = "eq. (16)") -> tuple[dict[str, Fit | None], dict[str, str]]:
    """The eight columns of Table 7 (``drop``) or 8 (``add``) and the notes of flagged or failed columns."""
    p = pair_sample(st, kind) if p is None else p
    data = pair_design(st, kind, p)
    columns = {"OLS": f"y ~ D + log_sales | {FE16}"}
    for x in ("dist", "sales", "emp"):
        columns[f"OLS {x}"] = f"y ~ D + D_{x} + rel_{x} + log_sales | {FE16}"
    columns["2SLS"] = f"y ~ log_sales | {FE16} | D ~ shock"
    for x in ("dist", "sales", "emp"):
        columns[f"2SLS {x}"] = f"y ~ rel_{x} + log_sales | {FE16} | D + D_{x} ~ shock + Z_{x}"
    n_buyers = int(p.loc[p.y.notna(), "buyer_id"].nunique())
    n_off = int(p.loc[p.D == 1, "buyer_id"].nunique())
    fits, flagged = fit_columns({k: (f, data, vcov) for k, f in columns.items()}, table,
                                context=f"{len(p):,} pairs of {n_buyers:,} buyers, {n_off:,} of them import starters")
    for f in fits.values():
        if f is not None:
            f.extra["n_buyers"], f.extra["n_buyers_offshore"] = n_buyers, n_off
    return fits, flagged


# ---------------------------------------------------------------- inference beside the paper's robust SEs

def shift_share_vcov(st: Study, multipliers: dict[str, str | None]) -> ShiftShareVcov:
    """AKM inference for eq. (16)/(19): shares φ_is of eq. (18) (every buyer of the survey gets a row, zero
    when it has no manufacturing seller), shocks WES_s of the manufacturing 4-digit industries, shock
    clusters = their 3-digit industries; ``multipliers``: instrument → column multiplying φ in its shares."""
    phi, rows, shocks = st.exposure
    extra = st.buyers.index.difference(rows)
    phi = sp.vstack([phi, sp.csr_matrix((len(extra), phi.shape[1]))]).tocsr()
    j3 = st.jsic.drop_duplicates("jsic4").set_index("jsic4").jsic3.reindex(shocks).to_numpy()
    # an object index: its hash table is built once and probed per row (an Arrow-backed index converts
    # itself to Python strings on each look-up, about 0.3 s per fit here)
    units = pd.Index(np.asarray(rows.append(extra), dtype=object))
    return ShiftShareVcov(phi, units, "buyer_id", multipliers, j3)


VCOV_LABELS = ("robust", "cluster (buyer)", "AKM (3-digit shock clusters)")


def inference_vcovs(st: Study, multipliers: dict[str, str | None]) -> dict[str, object]:
    """The three vcov options reported for Tables 7–9 and A6–A8."""
    return dict(zip(VCOV_LABELS, ("robust", {"cluster": "buyer_id"}, shift_share_vcov(st, multipliers)), strict=True))


def inference_frame(fits: dict[str, dict[str, Fit]], terms: dict[str, str], instrument: str = "shock") -> pd.DataFrame:
    """Companion table: per 2SLS column, each coefficient with its SE under every vcov (AKM0 95% interval
    with one instrument), the Kleibergen–Paap F under every vcov, and the first-stage coefficient on
    shock_i (first stage of Imp Starter, Tables A6–A8) with its SE under every vcov."""
    rows: dict[str, dict[str, object]] = {}
    for col, by_v in fits.items():
        base = next(iter(by_v.values()))
        for term, label in terms.items():
            if term not in base.coef:
                continue
            rows.setdefault(label, {})[col] = float(base.coef[term])
            for v, f in by_v.items():
                rows.setdefault(f"{label}: s.e. {v}", {})[col] = float(f.se[term])
            for f in by_v.values():
                a0 = f.extra.get("akm0")
                if a0 and a0["term"] == term:
                    rows.setdefault(f"{label}: AKM0 95% interval", {})[col] = \
                        f"[{a0['conf_low']:.4g}, {a0['conf_high']:.4g}]"
        for v, f in by_v.items():
            rows.setdefault(f"Kleibergen-Paap F, {v}", {})[col] = float(f.diagnostics.get("kp_f", np.nan))
        fs_label = f"First stage of {base.endog[0]}: {instrument}"
        rows.setdefault(fs_label, {})[col] = float(base.first_stages[base.endog[0]].coef[instrument])
        for v, f in by_v.items():
            rows.setdefault(f"{fs_label}: s.e. {v}", {})[col] = float(f.first_stages[f.endog[0]].se[instrument])
        for f in by_v.values():
            if f.vcov_type == "akm":
                rows.setdefault("Shock clusters (AKM)", {})[col] = float(f.extra["n_shock_clusters"])
        rows.setdefault("Nb of buyers (clusters)", {})[col] = float(by_v[VCOV_LABELS[1]].n_clusters)
        rows.setdefault("Nb of Obs", {})[col] = float(base.nobs)
    coef_rows = [r for label in terms.values() for r in rows if r == label or r.startswith(f"{label}: ")]
    out = pd.DataFrame(rows).T.loc[coef_rows + [r for r in rows if r not in coef_rows]]
    out.index.name = "row"
    return out


def _eq16_inference(st: Study, kind: str, sample: pd.DataFrame) -> Exhibit:
    num = "7" if kind == "drop" else "8"
    fits = {}
    for x in (None, "dist", "sales", "emp"):
        mult = {"shock": None} | ({f"Z_{x}": f"rel_{x}"} if x else {})
        f = (f"y ~ log_sales | {FE16} | D ~ shock" if x is None else
             f"y ~ rel_{x} + log_sales | {FE16} | D + D_{x} ~ shock + Z_{x}")
        fits["2SLS" if x is None else f"2SLS {x}"] = {v: feiv(f, pair_design(st, kind, sample), vcov=vc)
                                                      for v, vc in inference_vcovs(st, mult).items()}
    frame = inference_frame(fits, {"D": "Imp Starter", **{f"D_{x}": f"Imp Starter × log(x_j/x̄_i) [{x}]"
                                                        for x in ("dist", "sales", "emp")}})
    return Exhibit(f"table_{num}_inference", f"Inference for the 2SLS columns of Table {num} and their first stages "
                   f"(Table {'A6' if kind == 'drop' else 'A7'}): robust, buyer-clustered and shift-share (AKM) "
                   "standard errors", frame=frame, notes=INFERENCE_NOTE)


INFERENCE_NOTE = ("Same samples and estimates as the main table, whose layout (robust SEs, as the paper) is unchanged. "
                  "Cluster: by buyer (the shock and the import status vary by buyer only). AKM: Adão, Kolesár and "
                  "Morales (2019) shift-share SEs with shares φ_is (eq. 18: buyer i's 2005 sellers in manufacturing "
                  "4-digit industry s) and shocks WES_s (eq. 17), shocks clustered by 3-digit industry; the "
                  "interaction instrument shock_i × x has shares φ_is × x. AKM0: the interval with the null imposed "
                  "(one instrument only). Kleibergen-Paap F under each; the AKM one uses the shock-level score "
                  "covariance. AKM gives no SE for the exogenous regressors.")


def _eq16_table(st: Study, kind: str, vcov="robust") -> Exhibit:
    sample = pair_sample(st, kind)
    num, first = ("7", "A6") if kind == "drop" else ("8", "A7")
    fits, flagged = eq16_fits(st, kind, vcov=vcov, p=sample, table=f"Table {num}")
    title = "Offshoring and supplier dropping" if kind == "drop" else "Offshoring and supplier adding"
    terms = {"D": "Imp Starter", "D_dist": "Imp Starter × log(x_j/x_i) [dist]", "D_sales": "Imp Starter × log(x_j/x_i) [sales]",
             "D_emp": "Imp Starter × log(x_j/x_i) [emp]", "rel_dist": "log(x_j/x_i) [dist]",
             "rel_sales": "log(x_j/x_i) [sales]", "rel_emp": "log(x_j/x_i) [emp]"}
    fe = {"Input industry FE": ["in_ind"], "Buyer industry FE": ["b_ind"], "Source region FE": ["src_pref"],
          "Buyer home region FE": ["b_pref"]}
    stats_rows = {"Nb of Buyers": "n_buyers", "Nb of Buyers that Offshore": "n_buyers_offshore", "Nb of Obs": "nobs",
                  "R-squared": "r2", "Kleibergen-Paap F statistic": "kp_f"}
    note = ("Manufacturing buyers that did not import in the base year; "
            + ("newly added" if kind == "drop" else "dropped") + " sellers removed; parent-child links removed; "
            "instrument shock_i (eq. 18) and its interaction with the seller characteristic; log(x_j/x̄_i): the "
            "seller's base-year characteristic relative to x̄_i, the arithmetic mean over the buyer's "
            + ("2005 sellers (continuing and dropped)" if kind == "drop" else "2010 sellers (continuing and added), "
               "x̄_i10") + "; " + ("robust SEs" if vcov == "robust" else f"SEs: {vcov}")
            + " (buyer-clustered and AKM inference: companion table).")
    t = Table(num, title, fits, terms, fe, stats_rows, notes=note, column_notes=flagged)
    fs, fs_flags = first_stages(fits)
    ft = Table(first, f"First stage of the FE-IV regressions reported in Table {num}", fs,
               {"shock": "shock_i", "Z_dist": "shock_i × log(x_j/x_i) [dist]", "Z_sales": "shock_i × log(x_j/x_i) [sales]",
                "Z_emp": "shock_i × log(x_j/x_i) [emp]"}, fe,
               {"Nb of Obs": "nobs", "R-squared": "r2", "Partial R-squared": "partial_r2", "F (excluded)": "f_excluded",
                "Sanderson-Windmeijer F": "sw_f"}, column_notes=fs_flags)
    truth = _eq16_truth(st, kind, sample) if "planted" in st.notes else []
    return Exhibit(f"table_{num}", title, reg=t, first_stage=ft, notes=note, truth=truth)


def _eq16_truth(st: Study, kind: str, sample: pd.DataFrame) -> list[dict]:
    """Planted (and oracle) eq. (16) parameters next to 2SLS and OLS estimates with buyer-clustered SEs
    (the planted shock is at the buyer level, so link-level robust SEs understate the uncertainty); the
    robust and AKM SEs of the same 2SLS estimates ride along (``std_error_robust``, ``std_error_akm``)."""
    p, oracle = st.notes["planted"], st.notes.get("oracle", {}).get(kind, {})
    cl = {"cluster": "buyer_id"}
    try:
        by_v = {x: {v: feiv(f"y ~ rel_{x} + log_sales | {FE16} | D + D_{x} ~ shock + Z_{x}",
                            pair_design(st, kind, sample), vcov=vc)
                    for v, vc in inference_vcovs(st, {"shock": None, f"Z_{x}": f"rel_{x}"}).items()}
                for x in (("sales",) if kind == "drop" else ("sales", "dist"))}
        ols = feiv(f"y ~ D + D_sales + rel_sales + log_sales | {FE16}", pair_design(st, kind, sample), vcov=cl)
    except ValueError as e:  # EstimationError: the sample cannot carry the buyer-clustered fits
        return [{"parameter": f"{kind}_beta (Imp Starter, {kind})", "planted": p.get(f"{kind}_beta"),
                 "estimate": None, "note": f"not estimable: {e}"}]
    fits = {x: f[VCOV_LABELS[1]] for x, f in by_v.items()}

    def row(name, key, x, term, okey):
        r = _truth(name, p.get(key), fits[x], term, oracle=oracle.get(okey))
        r["std_error_robust"] = float(by_v[x][VCOV_LABELS[0]].se[term])
        r["std_error_akm"] = float(by_v[x][VCOV_LABELS[2]].se[term])
        return r

    rows = [row(f"{kind}_beta (Imp Starter, {kind})", f"{kind}_beta", "sales", "D", "D"),
            row(f"{kind}_gamma_sales (× rel. sales, {kind})", f"{kind}_gamma_sales", "sales", "D_sales", "D_sales")]
    if kind == "add":
        rows.append(row("add_gamma_dist (× rel. distance, add)", "add_gamma_dist", "dist", "D_dist", "D_dist"))
    rows.append({**_truth(f"OLS counterpart of {kind}_beta", p.get(f"{kind}_beta"), ols, "D", oracle=oracle.get("D")),
                 "ols": True, "note": "not identified by OLS: the unobserved buyer shock biases it by design "
                                      "(the reason for the instrument); z measures that bias"})
    return rows


def table_7(st: Study, vcov="robust") -> Exhibit:
    return _eq16_table(st, "drop", vcov)


def table_8(st: Study, vcov="robust") -> Exhibit:
    return _eq16_table(st, "add", vcov)


def table_7_inference(st: Study) -> Exhibit:
    return _eq16_inference(st, "drop", pair_sample(st, "drop"))


def table_8_inference(st: Study) -> Exhibit:
    return _eq16_inference(st, "add", pair_sample(st, "add"))


# ---------------------------------------------------------------- Table 9 (eq. 19)

def industry_sample(st: Study, kind: str) -> pd.DataFrame:
    """Buyer × manufacturing input industry (3-digit) for eq. (19): ``drop`` = industries sourced in the
    base vintage; ``add`` = every other industry, dropped ones excluded (continuing and never = 0). Computed
    once per study (callers must not modify it)."""
    return st.memo(("industry_sample", kind), lambda: _industry_sample(st, kind))


def _industry_sample(st: Study, kind: str) -> pd.DataFrame:
    buyers = st.regression_buyers(exclude_importers=True)
    pairs = regression_pairs(st)
    g = nw.add_drop_by_industry(pairs, st.firms[st.y0], ind=st.arr(st.y0, "jsic3")[pairs.s.to_numpy()])
    mfg3 = st.chars.index
    g = g[g.ind.isin(mfg3)]
    if kind == "drop":
        d = g[g.in_from].assign(y=lambda x: x.dropped.astype(float))
    else:
        full = pd.MultiIndex.from_product([buyers, mfg3], names=["buyer_id", "ind"]).to_frame(index=False)
        full = full.merge(g, on=["buyer_id", "ind"], how="left").fillna(
            {"in_from": False, "in_to": False, "added": False, "dropped": False})
        d = full[~full.dropped.astype(bool)].assign(y=lambda x: x.added.astype(float))
    codes = st.code(d.buyer_id)
    b, ch = st.buyer_rows(codes), _by_key(st.chars, d.ind)
    d = d.assign(D=b.imp_starter.to_numpy(), shock=b.shock.to_numpy(), log_sales=b.log_sales05.to_numpy(),
                 rauch=ch.rauch.to_numpy(float), ratio=ch.ratio.to_numpy(),
                 b_ind=st.arr(st.y0, "jsic3")[codes], b_pref=st.arr(st.y0, "pref")[codes])
    for x in ("rauch", "ratio"):
        d[f"D_{x}"], d[f"Z_{x}"] = d.D * d[x], d.shock * d[x]
    return d


EQ19_2SLS = "y ~ log_sales | b_ind + b_pref + ind | D + D_{x} ~ shock + Z_{x}"


def industry_design(st: Study, kind: str) -> AbsorbedDesign:
    """The absorbed design of the study's eq. (19) sample, shared by Table 9 and its inference table."""
    return st.memo(("industry_design", kind), lambda: AbsorbedDesign(industry_sample(st, kind)))


def table_9(st: Study, vcov="robust") -> Exhibit:
    columns = {}
    samples = {kind: industry_sample(st, kind) for kind in ("drop", "add")}
    for kind in samples:
        for x in ("rauch", "ratio"):
            columns[f"OLS {kind} {x}"] = (f"y ~ D + D_{x} + log_sales | b_ind + b_pref + ind", industry_design(st, kind),
                                          vcov)
    for kind in samples:
        for x in ("rauch", "ratio"):
            columns[f"2SLS {kind} {x}"] = (EQ19_2SLS.format(x=x), industry_design(st, kind), vcov)
    fits, flagged = fit_columns(columns, "Table 9", context=", ".join(
        f"{k} sample {len(d):,} rows of {d.buyer_id.nunique():,} buyers" for k, d in samples.items()))
    fe = {"Input industry FE": ["ind"], "Buyer industry FE": ["b_ind"], "Buyer home region FE": ["b_pref"]}
    t = Table("9", "Offshoring and industry adding and dropping", fits,
              {"D": "Imp Starter", "D_rauch": "Imp Starter × Rauch", "D_ratio": "Imp Starter × ρ/(ρ-1)"}, fe,
              {"Nb of Obs": "nobs", "R-squared": "r2", "Kleibergen-Paap F statistic": "kp_f"},
              notes="Buyer × 3-digit manufacturing input industry; drop sample: industries sourced in the base year; "
                    "add sample: all other industries, dropped ones excluded; "
                    + ("robust SEs" if vcov == "robust" else f"SEs: {vcov}")
                    + " (buyer-clustered and AKM inference: companion table).", column_notes=flagged)
    fs, fs_flags = first_stages(fits)
    ft = Table("A8", "First stage of the FE-IV regressions reported in Table 9", fs,
               {"shock": "shock_i", "Z_rauch": "shock_i × Rauch", "Z_ratio": "shock_i × ρ/(ρ-1)"}, fe,
               {"Nb of Obs": "nobs", "Partial R-squared": "partial_r2", "F (excluded)": "f_excluded", "Sanderson-Windmeijer F": "sw_f"},
               column_notes=fs_flags)
    tilt, f = st.notes.get("planted", {}).get("add_gamma_rauch"), fits["2SLS add rauch"]
    truth = [{"parameter": "add_gamma_rauch (link level; its sign: Imp Starter × Rauch, industry add)", "planted": tilt,
              "estimate": float(f.coef.get("D_rauch", np.nan)) if f else None,
              "std_error": float(f.se.get("D_rauch", np.nan)) if f else None, "z": None,
              "note": "planted per link; the industry-level regression identifies its sign, not its size"}]
    return Exhibit("table_9", t.title, reg=t, first_stage=ft, notes=t.notes, truth=truth)


def table_9_inference(st: Study) -> Exhibit:
    fits = {}
    for kind in ("drop", "add"):
        d = industry_design(st, kind)
        for x in ("rauch", "ratio"):
            fits[f"2SLS {kind} {x}"] = {v: feiv(EQ19_2SLS.format(x=x), d, vcov=vc)
                                        for v, vc in inference_vcovs(st, {"shock": None, f"Z_{x}": x}).items()}
    frame = inference_frame(fits, {"D": "Imp Starter", "D_rauch": "Imp Starter × Rauch", "D_ratio": "Imp Starter × ρ/(ρ-1)"})
    return Exhibit("table_9_inference", "Inference for the 2SLS columns of Table 9 and their first stages (Table A8): "
                   "robust, buyer-clustered and shift-share (AKM) standard errors", frame=frame,
                   notes=INFERENCE_NOTE.replace("the interaction instrument shock_i × x has shares φ_is × x",
                                                "shock_i × Rauch_s has shares φ_is × Rauch_s (likewise ρ/(ρ-1))"))


def all_regressions() -> list:
    return [table_3, table_4, table_a5, table_5, table_a4, table_7, table_7_inference, table_8,
            table_8_inference, table_9, table_9_inference]


SHARED_SAMPLES = {  # samples several exhibits use, by the exhibits that use them
    "pair_sample drop": (("table_7", "table_7_inference", "table_R3"), lambda st: pair_sample(st, "drop")),
    "pair_sample add": (("table_8", "table_8_inference", "table_R3"), lambda st: pair_sample(st, "add")),
    "industry_sample drop": (("table_9", "table_9_inference"), lambda st: industry_sample(st, "drop")),
    "industry_sample add": (("table_9", "table_9_inference"), lambda st: industry_sample(st, "add")),
    "sourcing_counts": (("table_4", "table_A5"), lambda st: sourcing_counts(st, st.y0)),
    "regression links": (("table_3", "table_4", "table_A5", "table_5", "table_A4", "table_R1", "table_R2"),
                         lambda st: [st.links_of(y, st.regression_buyers()) for y in (st.y0, st.y1)]),
}


def warm(st: Study, exhibits: list[str]) -> None:
    """Compute, once and before the exhibits run in forked children, the samples that several of
    ``exhibits`` share (the children inherit them). A sample that cannot be built is skipped here: the
    exhibits that need it report why."""
    for users, compute in SHARED_SAMPLES.values():
        if any(e in exhibits for e in users):
            try:
                compute(st)
            except Exception:  # noqa: BLE001, S112 - reported by the exhibit itself, with its context
                continue
