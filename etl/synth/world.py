"""The synthetic TSR world: firms, both network vintages with the planted causal structure of
Tables 7–9, import status, and the ground truth."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from etl.geo import capital_distance_matrix, haversine_km, municipalities

from . import firms as fm
from .industries import build_characteristics, build_io_weights, build_jsic, build_world_exports
from .network import (
    GravityWorld,
    assign_reports,
    both_sides,
    group_cumcount,
    in_halves,
    member,
    municipality_distances,
    report_ranks,
    report_scores,
    unique_pairs,
)
from .params import Planted, Scale, Truth
from .survey import domestic_sourcing, productivity_paths, sector_offshoring, sector_x

ORACLE_KEYS = ("oracle_eq16", "oracle_eq15", "oracle_indegree_tail")  # truth.counts entries of the oracle fits
MAX_REPORTED = 24  # each firm reports its top 24 suppliers and top 24 customers (section 2)


@dataclass
class World:
    scale: Scale
    planted: Planted
    truth: Truth
    jsic: pd.DataFrame
    characteristics: pd.DataFrame
    io: pd.DataFrame
    exports: pd.DataFrame
    wes: pd.Series
    firms: pd.DataFrame
    links05: pd.DataFrame  # seller, buyer (firm indices), parent_child, rank_b, rank_s
    links10: pd.DataFrame | None  # None in the world as of 2005 (build_stages)
    buyer_panel: pd.DataFrame  # BSJBSA manufacturing buyers: status, D, shock
    survey_draws: dict = field(default_factory=dict)  # per buyer_panel row: productivity, Dom, Offshore
    pending_oracles: Future | None = None  # the oracle fits, when build_world ran them in the background

    def oracle_counts(self) -> dict:
        """The oracle entries of ``truth.counts`` (``ORACLE_KEYS``), waiting for fits still running in the
        background (their errors are raised here)."""
        if self.pending_oracles is not None:
            self.truth.counts.update(self.pending_oracles.result())
            self.pending_oracles = None
        return {k: self.truth.counts[k] for k in ORACLE_KEYS}


def _io_cum(io: pd.DataFrame, ind_codes: np.ndarray) -> np.ndarray:
    """Cumulative input-output weights, buyer industry × input industry (rows normalised)."""
    pos = pd.Series(np.arange(len(ind_codes)), index=ind_codes)
    m = np.zeros((len(ind_codes), len(ind_codes)))
    m[pos[io.buyer_jsic3].to_numpy(), pos[io.input_jsic3].to_numpy()] = io.w.to_numpy()
    m[m.sum(1) == 0, :] = 1.0
    c = np.cumsum(m, axis=1)
    return c / c[:, -1:]


def _decay(ind_codes: np.ndarray, ch: pd.DataFrame, p: Planted) -> np.ndarray:
    """Distance decay per input industry, eq. (15): β θ_s ρ_s/(ρ_s−1) + γ φ_s θ_s."""
    c = ch.set_index("jsic3").reindex(ind_codes)
    ratio = (c.rho / (c.rho - 1)).fillna(1.328)
    d = p.beta_comm * c.theta_cp * ratio + p.gamma_air * c.air_share * c.theta_cp
    return d.fillna(p.decay_nonmfg).to_numpy()


def _sample_links(gw: GravityWorld, buyers: np.ndarray, n: int, rng, forbid: tuple = ()) -> pd.DataFrame:
    sellers = gw.sample(buyers, rng)
    ok = unique_pairs(sellers, buyers, n, forbid)
    return pd.DataFrame({"seller": sellers[ok], "buyer": buyers[ok]})


def _sample_degrees(gw: GravityWorld, buyers: np.ndarray, k: np.ndarray, n: int, rng,
                    forbid: np.ndarray | None = None, rounds: int = 8) -> pd.DataFrame:
    """Distinct sellers for each buyer up to its degree ``k``: repeated draws of a seller are topped up
    with new draws while that pays (a buyer whose gravity distribution is concentrated on few sellers
    keeps redrawing them; a round that fills under a fifth of the deficit ends the top-up)."""
    fixed = () if forbid is None else (forbid,)
    links = _sample_links(gw, np.repeat(buyers, k), n, rng, fixed)
    count = np.bincount(links.buyer, minlength=n)  # links per buyer, at most its degree
    deficit = k - count[buyers]
    cap_of = np.zeros(n, np.int64)
    cap_of[buyers] = k
    taken = None
    for _ in range(rounds):
        need = deficit > 0
        if deficit.sum() <= 0.0005 * k.sum():
            break
        if taken is None:
            taken = np.sort(links.seller.to_numpy().astype(np.int64) * n + links.buyer.to_numpy())
        extra = _sample_links(gw, np.repeat(buyers[need], 2 * deficit[need]), n, rng, (taken, *fixed))
        # the links so far stay (within their buyers' degrees); new ones fill the places left, in draw order
        b = extra.buyer.to_numpy()
        extra = extra[count[b] + group_cumcount(b, n) < cap_of[b]]
        links = pd.concat([links, extra], ignore_index=True)
        taken = np.sort(np.r_[taken, np.sort(extra.seller.to_numpy().astype(np.int64) * n + extra.buyer.to_numpy())],
                        kind="stable")  # two sorted runs: a merge
        count += np.bincount(extra.buyer, minlength=n)
        before, deficit = deficit.sum(), k - count[buyers]
        if before - deficit.sum() < 0.2 * before:
            break
    return links


def _split_pool(pool: pd.DataFrame, buyers: np.ndarray, k: np.ndarray, n: int, rng) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each buyer's pool of potential suppliers split at random: its planted 2005 degree ``k`` becomes
    its 2005 suppliers, the rest its candidate additions. Both parts are exchangeable draws from the
    buyer's gravity distribution, which makes the add LPM of eq. (16) exact. A buyer whose gravity
    distribution is concentrated on few sellers (the largest buyers) gets fewer 2005 suppliers so that it
    keeps two candidates per supplier (fewer would cap the acceptance probability)."""
    pool = pool.iloc[rng.permutation(len(pool))].reset_index(drop=True)
    b = pool.buyer.to_numpy()
    size = np.bincount(b, minlength=n)[b]
    k_of = np.zeros(n, np.int64)
    k_of[buyers] = k
    n05 = np.maximum(1, np.minimum(k_of[b], size // 3))
    first = group_cumcount(b, n) < n05
    return pool[first].reset_index(drop=True), pool[~first].reset_index(drop=True)


def _observable(links: pd.DataFrame, with_ranks: bool = True) -> pd.DataFrame:
    """Assign who reports each link (top-24 lists; existing buyers' relationships before those of new
    buyers) and keep the links that at least one side reports, with their report ranks (unless not
    ``with_ranks``)."""
    b, s = links.buyer.to_numpy(), links.seller.to_numpy()
    pri = (links.kind != "new_buyer").to_numpy() if "kind" in links else np.zeros(len(links), bool)
    by_b, by_s = assign_reports(b, s, links.sb.to_numpy(), links.ss.to_numpy(), pri, MAX_REPORTED)
    vis = by_b | by_s
    links = links[vis].reset_index(drop=True)
    if with_ranks:
        links["rank_b"], links["rank_s"] = both_sides(
            len(links), lambda: report_ranks(links.buyer.to_numpy(), links.sb.to_numpy(), by_b[vis]),
            lambda: report_ranks(links.seller.to_numpy(), links.ss.to_numpy(), by_s[vis]))
    return links


def _visible_and_trim(links: pd.DataFrame, target: int, rng, trimmable: str | None = None) -> pd.DataFrame:
    """Observable links, trimmed at random (among ``kind == trimmable`` links) to ``target``."""
    links = _observable(links)
    excess = len(links) - target
    if excess > 0:
        pool = np.arange(len(links)) if trimmable is None else np.flatnonzero(links.kind == trimmable)
        if len(pool) < excess:
            raise RuntimeError("synthetic world: not enough trimmable links to reach the target")
        links = links.drop(index=rng.choice(pool, size=excess, replace=False)).reset_index(drop=True)
        links = _observable(links)  # fewer links: reports re-assigned, every link stays observable
    return links


def _calibrated_degrees(n: int, total: int, p: Planted, cap: int, rng) -> np.ndarray:
    """In-degrees with the planted Pareto tail whose sum is ``total`` (x_m found by bisection)."""
    u = rng.random(n)
    tail = u ** (-1.0 / p.indegree_alpha)  # pareto_floor's U^(−1/α), the same at every x_m
    lo, hi = 0.3, 20.0
    for _ in range(60):
        mid = (lo + hi) / 2
        s = np.minimum(np.floor(mid * tail), cap).sum()  # pareto_floor(..., mid, ...).sum(), exact in float64
        lo, hi = (mid, hi) if s < total else (lo, mid)
    return fm.pareto_floor(n, p.indegree_alpha, hi, cap, rng, u)


def build_world(scale: Scale, seed: int, planted: Planted | None = None, progress=None,
                background: Executor | None = None) -> World:
    """The synthetic world of ``scale`` for ``seed``. With ``background``, the oracle regressions (no
    random draws) are submitted to it and the world is returned before they finish: ``World.oracle_counts``
    waits for them."""
    stages = build_stages(scale, seed, planted, progress, background)
    next(stages)  # the world as of 2005
    world = next(stages)
    stages.close()  # frees the generator's intermediate tables (the candidate pool, ...)
    return world


def build_stages(scale: Scale, seed: int, planted: Planted | None = None, progress=None,
                 background: Executor | None = None) -> Iterator[World]:
    """``build_world`` in two stages: yields the world as of 2005 (firms, the 2005 network, the survey
    panel; ``links10`` None), then builds the 2010 network and yields the same world, complete. Nothing
    of the first stage changes in the second, so the first can be read by another thread meanwhile.
    Close the generator after the second stage: its frame holds the intermediate tables."""
    p = planted or Planted()
    if p.start_pi_shock is None:
        p = replace(p, start_pi_shock=scale.start_pi_shock)
    rng = np.random.default_rng(seed)
    truth = Truth(scale=scale.name, seed=seed, planted=p.as_dict())
    step = progress or (lambda msg: None)

    step("industries")
    jsic = build_jsic(scale, rng)
    ch = build_characteristics(jsic, rng)
    io = build_io_weights(jsic, rng)
    exports, wes = build_world_exports(jsic, p, rng)

    step("firms")
    n_total = scale.firms_2005 + scale.entrants_2010
    f = fm.build_firms(n_total, scale.firms_2005, scale.exit_rate, jsic, ch.set_index("jsic3").theta_prime, rng)
    ind_codes = np.sort(jsic.jsic3.unique())
    f["ind_idx"] = pd.Series(np.arange(len(ind_codes)), index=ind_codes).reindex(f.jsic3).to_numpy()
    size_score = np.log(f.sales05.to_numpy()) - np.log(f.groupby("jsic3").sales05.transform("median").to_numpy())
    attract = fm.assign_by_rank(rng.pareto(p.attract_alpha, n_total) + 1.0, size_score, rng, 0.8)
    f["attract"] = np.minimum(attract, np.quantile(attract, 1 - 2.0 / n_total))
    muni = municipalities().reset_index(drop=True)
    intra = _intra_distance(muni)
    mdist = municipality_distances(muni.lat.to_numpy(), muni.lon.to_numpy(), intra)
    decay = _decay(ind_codes, ch, p)
    io_cum = _io_cum(io, ind_codes)
    muni_pref = muni.pref_code.to_numpy() - 1
    pdist = _prefecture_distances(mdist, muni_pref, np.bincount(f.muni_idx, minlength=len(muni)), float(decay.mean()))

    def gravity(alive: np.ndarray) -> GravityWorld:
        return GravityWorld(f.ind_idx.to_numpy(), f.muni_idx.to_numpy(), np.where(alive, f.attract, 0.0), mdist,
                            muni_pref, pdist, decay, io_cum)

    step("network 2005")
    alive05 = f.alive05.to_numpy()
    idx05 = np.flatnonzero(alive05)
    has_sup = rng.random(len(idx05)) >= p.share_no_suppliers
    buyers05 = idx05[has_sup]
    gw05 = gravity(alive05)
    factor = scale.pool_oversample
    for _ in range(6):  # oversample until the reported links reach the target, then trim to it
        k = _calibrated_degrees(len(buyers05), int(scale.links_2005 * factor), p, scale.max_in_degree, rng)
        k = fm.assign_by_rank(k, size_score[buyers05], rng, 0.7)
        pool = _sample_degrees(gw05, buyers05, (1 + p.pool_ratio) * k, n_total, rng)
        pool["sb"], pool["ss"] = report_scores(pool, f.sales05.to_numpy(), rng)
        pool = _observable(pool, with_ranks=False)  # report ranks are assigned after the split
        links05, shadows = _split_pool(pool, buyers05, k, n_total, rng)
        if len(links05) >= scale.links_2005:
            break
        factor *= 1.02 * (scale.links_2005 / len(links05)) ** 1.5  # extra degrees go to buyers that lose more
    full05 = links05[["seller", "buyer"]]  # the 2005 network before report assignment and trimming
    links05 = _visible_and_trim(links05, scale.links_2005, rng)
    links05["parent_child"] = rng.random(len(links05)) < p.parent_child_rate
    f["employees"] = _employees(f, links05, rng)

    step("import status and instrument")
    draws: dict = {}
    panel = _import_status(f, links05, jsic, ch, wes, scale, p, rng, np.random.default_rng([seed, 3]), draws)
    truth.counts["table6"] = draws.pop("truth")
    D = np.zeros(n_total)
    D[panel.firm.to_numpy()] = panel.D.to_numpy()

    world = World(scale, p, truth, jsic, ch, io, exports, wes, f, links05, None, panel, draws)
    yield world

    step("network 2010")
    rauch = ch.set_index("jsic3").rauch.reindex(ind_codes).to_numpy()
    links10, full10, drops = _network_2010(f, links05, shadows, pool[["seller", "buyer"]], D,
                                           gravity(f.alive10.to_numpy()), scale, p, rng, rauch)
    truth.counts.update(_truth_counts(f, links05, links10, panel, drops))
    fits = functools.partial(_oracles, f, ch, jsic, panel, links05, links10, full05, full10, p)
    pending = None
    if background is None:
        step("oracle regressions")
        truth.counts.update(fits())
    else:  # placeholders keep the keys' order in truth.json; World.oracle_counts fills them in
        step("oracle regressions (in the background)")
        truth.counts.update(dict.fromkeys(ORACLE_KEYS))
        pending = background.submit(fits)
    truth.industries = {"n_jsic4": int(len(jsic)), "n_mfg_jsic4": int((jsic.manufacturing == 1).sum()),
                        "n_mfg_jsic3": int(jsic.loc[jsic.manufacturing == 1, "jsic3"].nunique()),
                        "theta_prime": ch.set_index("jsic3").theta_prime.round(6).to_dict(),
                        "theta_firm": ch.set_index("jsic3").theta_firm.round(6).to_dict(),
                        "decay": dict(zip(ind_codes, np.round(decay, 6), strict=True))}
    world.links10, world.pending_oracles = links10, pending
    yield world


def _prefecture_distances(mdist: np.ndarray, muni_pref: np.ndarray, firms: np.ndarray, kappa: float) -> np.ndarray:
    """Distances between prefectural capitals (the regressions' d, paper fn. 40) with an effective
    intra-prefecture distance on the diagonal: the power mean of order −κ of the distances between the
    prefecture's firms, (E[d^−κ])^(−1/κ), so the home prefecture weighs in the gravity draw about as much
    as its municipalities would."""
    d = capital_distance_matrix().reindex(index=range(1, 48), columns=range(1, 48)).to_numpy().copy()
    for h in range(47):
        m = np.flatnonzero((muni_pref == h) & (firms > 0))
        w = firms[m] / firms[m].sum()
        d[h, h] = float((w @ mdist[np.ix_(m, m)] ** (-kappa) @ w) ** (-1 / kappa))
    return d


def _intra_distance(muni: pd.DataFrame) -> np.ndarray:
    from etl.geo import towns

    t = towns().merge(muni[["muni_code", "lat", "lon"]], on="muni_code", suffixes=("", "_c"))
    t["d"] = haversine_km(t.lat, t.lon, t.lat_c, t.lon_c)
    rms = t.groupby("muni_code").d.apply(lambda x: float(np.sqrt(np.mean(x**2))))
    return np.maximum(rms.reindex(muni.muni_code).fillna(2.0).to_numpy(), 1.5)


def _employees(f: pd.DataFrame, links05: pd.DataFrame, rng) -> np.ndarray:
    """Employment rises with the number of suppliers and with sales (Figure 2's correlation)."""
    n = len(f)
    indeg = np.bincount(links05.buyer, minlength=n)
    outdeg = np.bincount(links05.seller, minlength=n)
    z = np.log(f.sales05.to_numpy()) - np.log(f.sales05.median())
    le = 0.9 + 0.55 * np.log1p(indeg) + 0.25 * np.log1p(outdeg) + 0.8 * z + rng.normal(0, 0.55, n)
    return np.maximum(np.round(np.exp(le)), 0).astype(np.int64)


def _import_status(f, links05, jsic, ch, wes, scale: Scale, p: Planted, rng, rng_s, draws: dict) -> pd.DataFrame:
    """BSJBSA firms (largest by employment, alive in both vintages), their import status, the
    firm-level shock of eq. (18) and import starting driven by the shock AND the unobserved u_i.

    Importing in the base year is offshoring in at least one broad sector, drawn with the planted Table 6
    effects of productivity (``rng_s``: the survey's own stream); ``draws`` receives the productivity paths,
    Dom_iS and Offshore_iS of each panel row (and their truth)."""
    both = f.alive05 & f.alive10
    out = []
    for mfg, n in ((1, scale.bsjbsa_mfg), (0, scale.bsjbsa_nonmfg)):
        cand = f.index[both & (f.manufacturing == mfg)]
        top = cand[np.argsort(-f.employees.to_numpy()[cand], kind="stable")[:n]]
        out.append(pd.DataFrame({"firm": top, "manufacturing": mfg}))
    panel = pd.concat(out, ignore_index=True)
    # eq. (18): phi_is = 1 if buyer i sources 4-digit manufacturing industry s in 2005
    l = links05[["seller", "buyer"]].assign(jsic4=f.jsic4.to_numpy()[links05.seller.to_numpy()])
    l = l[l.jsic4.isin(wes.index)].drop_duplicates(["buyer", "jsic4"])
    shock = (l.assign(w=wes.reindex(l.jsic4).to_numpy()).groupby("buyer").w.sum())
    panel["shock"] = shock.reindex(panel.firm).fillna(0.0).to_numpy()
    z_size = np.log(f.sales05.to_numpy()[panel.firm]) - np.log(f.sales05.to_numpy()[panel.firm]).mean()
    u = f.u.to_numpy()[panel.firm]
    n = len(panel)
    a, e = productivity_paths(n, p, rng_s)
    tfp05 = a[:, 2] + e[:, 2]
    sector = jsic.set_index("jsic4").sector12.reindex(f.jsic4).to_numpy(float)
    dom = domestic_sourcing(links05, sector, panel.firm.to_numpy())
    alive05 = f.alive05.to_numpy()
    x = sector_x(jsic, ch, f.jsic3.to_numpy()[alive05], f.sales05.to_numpy()[alive05])
    size = np.log(np.maximum(f.employees.to_numpy()[panel.firm], 1))
    off, draws["truth"] = sector_offshoring(dom, tfp05, x, size, panel.manufacturing.to_numpy(), p, rng_s)
    draws.update(a=a, e=e, dom=dom, off=off)
    imp05 = off.any(1)
    stop = imp05 & (rng.random(n) < 6 / 19)
    s_std = (panel.shock - panel.shock.mean()) / panel.shock.std()
    rest = p.start_lambda_u * u + p.start_psi_sales * z_size + rng.normal(0, 1, n)  # the part not moved by π
    latent = p.start_pi_shock * s_std + rest
    start = np.zeros(n, bool)
    for mfg in (1, 0):
        sel = (panel.manufacturing.to_numpy() == mfg) & ~imp05
        start[sel] = latent[sel] > np.quantile(latent[sel], 1 - 7 / 81)
    panel["imp05"], panel["imp10"] = imp05, (imp05 & ~stop) | start
    panel["status"] = np.select([imp05 & ~stop, start, imp05 & stop], ["continuing", "starter", "stopper"], "non")
    panel["D"] = start.astype(float)
    panel["start_s_std"], panel["start_rest"] = s_std.to_numpy(), rest  # truth: D for another π (calibration)
    return panel


def _pool_mean(n: int, buyers: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Arithmetic mean of ``values`` over each buyer's pool, by firm index (NaN: no pool or no values).
    Seller characteristics enter eq. (16) as log(x_j / x̄_i) with x̄_i this mean of the levels."""
    ok = ~np.isnan(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.bincount(buyers[ok], values[ok], minlength=n) / np.bincount(buyers[ok], minlength=n)


def _network_2010(f, links05, shadows, pool, D, gw10: GravityWorld, scale: Scale, p: Planted, rng,
                  rauch: np.ndarray):
    """Drops (the eq. 16 drop LPM, drawn link by link), additions (the eq. 16 add LPM, by acceptance
    sampling of the buyer's pool candidates) and the links of buyers without 2005 suppliers.

    Why the add LPM holds exactly: a buyer's candidates ``shadows`` and its 2005 suppliers are
    exchangeable draws from one gravity distribution g(x), n_c and n_05 of them. Continuing links
    have density n_05 g(x) (1 − p_drop(x)); accepting a candidate with probability
    odds(p_add(x)) (1 − p_drop(x)) n_05 / n_c gives added links the density n_05 g(x) (1 − p_drop(x))
    odds(p_add(x)), so P(added | x, add sample) = p_add(x). Seller characteristics enter relative to
    the mean over the buyer's whole pool, a reference that does not depend on which part of the pool
    became the 2005 suppliers (the paper's regressions use the 2005 and 2010 suppliers' means; the
    generator's oracle estimates the LPMs under those conventions)."""
    alive10 = f.alive10.to_numpy()
    lat, lon = f.lat.to_numpy(), f.lon.to_numpy()
    logs = np.log(f.sales05.to_numpy())
    u = f.u.to_numpy()
    eta_ind = rng.normal(0, p.fe_sd, f.ind_idx.max() + 1)
    eta_pref = rng.normal(0, p.fe_sd, 48)
    ind, pref = f.ind_idx.to_numpy(), f.pref_code.to_numpy()
    s05, b05 = links05.seller.to_numpy(), links05.buyer.to_numpy()
    sp, bp = pool.seller.to_numpy(), pool.buyer.to_numpy()

    def log_dist(s, b):
        return in_halves(len(s), lambda h: np.log(np.maximum(haversine_km(lat[s[h]], lon[s[h]], lat[b[h]], lon[b[h]]),
                                                              0.1)))

    n = len(f)
    with np.errstate(divide="ignore", invalid="ignore"):  # eq. (16): log of the arithmetic pool mean
        m_sales = np.log(_pool_mean(n, bp, np.exp(logs[sp])))
        m_dist = np.log(_pool_mean(n, bp, np.exp(log_dist(sp, bp))))
    m_rauch = _pool_mean(n, bp, rauch[ind[sp]])  # manufacturing inputs only (eq. 19's industries)
    m_rauch[np.isnan(m_rauch)] = np.nanmean(rauch[ind[sp]])

    def z_sales(s, b):
        return logs[s] - m_sales[b]

    def z_dist(s, b):
        return log_dist(s, b) - m_dist[b]

    def p_drop(s, b):
        zs = z_sales(s, b)
        v = (p.drop_base + p.drop_beta * D[b] + p.drop_gamma_sales * D[b] * zs + p.drop_kappa_sales * zs
             + p.drop_lambda_u * u[b] + eta_ind[ind[s]] + eta_pref[pref[s]])
        return np.clip(v, 0.01, 0.99)

    def p_add(s, b):
        zs, zd = z_sales(s, b), z_dist(s, b)
        zr = np.nan_to_num(rauch[ind[s]] - m_rauch[b])  # 0 for non-manufacturing inputs
        v = (p.add_base + p.add_beta * D[b] + p.add_gamma_dist * D[b] * zd + p.add_gamma_sales * D[b] * zs
             + p.add_gamma_rauch * D[b] * zr + p.add_kappa_dist * zd + p.add_kappa_sales * zs
             + p.add_lambda_u * u[b] - eta_ind[ind[s]] - eta_pref[pref[s]])
        return np.clip(v, 0.01, 0.99)

    both = alive10[s05] & alive10[b05]
    pc = links05.parent_child.to_numpy()
    drop = np.zeros(len(links05), bool)
    drop[both & ~pc] = rng.random((both & ~pc).sum()) < p_drop(s05[both & ~pc], b05[both & ~pc])
    cont = links05.loc[both & ~drop, ["seller", "buyer", "parent_child", "sb", "ss"]].reset_index(drop=True)
    n_dropped = int((both & drop).sum())

    # candidates of buyers with 2005 suppliers; parent-child links are not part of the add sample
    n05 = pd.Series(b05[~pc]).value_counts()
    sh = shadows[np.isin(shadows.buyer.to_numpy(), n05.index.to_numpy())]
    n_c = sh.buyer.value_counts()
    sh = sh[alive10[sh.seller.to_numpy()] & alive10[sh.buyer.to_numpy()]]
    cs, cb = sh.seller.to_numpy(), sh.buyer.to_numpy()
    pa = p_add(cs, cb)
    acc = pa / (1 - pa) * (1 - p_drop(cs, cb)) * (n05.reindex(cb).to_numpy() / n_c.reindex(cb).to_numpy())
    adds = sh[rng.random(len(sh)) < acc][["seller", "buyer", "sb", "ss"]].assign(parent_child=False)
    links10, full10, lost = _new_buyers_and_reports(f, cont, adds, gw10, scale, p, rng)
    return links10, full10, {"dropped": n_dropped, "continuing_unreported_2010": lost["continuing"],
                     "added_unreported_2010": lost["add"], "candidates": int(len(sh)), "added": int(len(adds)),
                     "acceptance_capped": int((acc > 1).sum())}


def _new_buyers_and_reports(f, cont, adds, gw10: GravityWorld, scale: Scale, p: Planted, rng):
    """Links of buyers without 2005 suppliers (incl. entrants) fill the gap to the 2010 target; reports
    are assigned (existing buyers' links first) and only new buyers' links are trimmed. Returns the
    observable links, the 2010 network before report assignment and trimming, and the counts lost."""
    n_total, alive10 = len(f), f.alive10.to_numpy()
    have = np.zeros(n_total, bool)
    have[cont.buyer] = True
    have[adds.buyer] = True
    newb = np.flatnonzero(alive10 & ~have)
    newb = newb[rng.random(len(newb)) < p.new_buyer_share]
    forbid = np.sort(np.concatenate([cont.seller.to_numpy().astype(np.int64) * n_total + cont.buyer.to_numpy(),
                                     adds.seller.to_numpy().astype(np.int64) * n_total + adds.buyer.to_numpy()]))
    gap, factor = max(scale.links_2010 - len(cont) - len(adds), 0), 1.02
    for _ in range(6):  # new buyers' links fill the gap to the 2010 target (then trimmed to it)
        k = _calibrated_degrees(len(newb), int(gap * factor), p, scale.max_in_degree, rng)
        new_links = _sample_degrees(gw10, newb, k, n_total, rng, forbid).assign(parent_child=False)
        links10 = pd.concat([cont.assign(kind="continuing"), adds.assign(kind="add"),
                             new_links.assign(kind="new_buyer")], ignore_index=True)
        new = (links10.kind == "new_buyer").to_numpy()
        sb, ss = report_scores(links10[new], f.sales10.to_numpy(), rng)
        links10.loc[new, "sb"], links10.loc[new, "ss"] = sb, ss
        full = links10[["seller", "buyer"]]
        links10 = _visible_and_trim(links10, scale.links_2010, rng, "new_buyer")
        if len(links10) >= scale.links_2010:
            break
        factor *= 1.02 * (scale.links_2010 - (links10.kind != "new_buyer").sum()) / max(
            (links10.kind == "new_buyer").sum(), 1)
    lost = {kind: int(len(x) - (links10.kind == kind).sum()) for kind, x in (("continuing", cont), ("add", adds))}
    return links10, full, lost


def _oracles(f: pd.DataFrame, ch: pd.DataFrame, jsic: pd.DataFrame, panel: pd.DataFrame, links05: pd.DataFrame,
             links10: pd.DataFrame, full05: pd.DataFrame, full10: pd.DataFrame, p: Planted) -> dict:
    """Every oracle fit of the truth (``ORACLE_KEYS``); reads its arguments and draws nothing, so it can
    run in a thread beside the rest of the generator."""
    pc = np.concatenate([_pair_keys(l, len(f))[l.parent_child.to_numpy()] for l in (links05, links10)])
    return {"oracle_eq16": _oracle(f, links05, links10, panel, p),
            "oracle_eq15": {str(y): _eq15_oracle(f, ch, panel, full, pc, jsic if y == 2005 else None)
                            for y, full in ((2005, full05), (2010, full10))},
            "oracle_indegree_tail": _tail_oracle(links05)}


def _oracle(f, links05, links10, panel, p: Planted) -> dict:
    """The eq. (16) LPMs estimated on the generated world with the unobserved buyer shock u known (and
    the regression's sample and mean conventions): the values 2SLS without u should recover. Both
    equations reproduce the planted parameters up to sampling error (the generator references seller
    characteristics to the buyer's pool mean, the regressions to its 2005 or 2010 suppliers' mean)."""
    import warnings

    from analytics.econometrics.iv import feiv

    both = (f.alive05 & f.alive10).to_numpy()
    buyers = panel.firm[(panel.manufacturing == 1) & panel.status.isin(["non", "starter"])].to_numpy()
    isb = np.zeros(len(f), bool)
    isb[buyers] = True
    D = np.zeros(len(f))
    D[panel.firm.to_numpy()] = panel.D.to_numpy()
    lat, lon, logs = f.lat.to_numpy(), f.lon.to_numpy(), np.log(f.sales05.to_numpy())
    n = len(f)

    def keys(l, only=None):
        k = l.seller.to_numpy().astype(np.int64) * n + l.buyer.to_numpy()
        return k if only is None else k[only]

    pc = np.concatenate([keys(links05, links05.parent_child.to_numpy()), keys(links10, links10.parent_child.to_numpy())])
    out = {}
    pc = np.sort(pc)
    for kind, l, other in (("drop", links05, keys(links10)), ("add", links10, keys(links05))):
        s, b, k = l.seller.to_numpy(), l.buyer.to_numpy(), keys(l)
        ok = isb[b] & both[s] & both[b] & ~member(k, pc)
        s, b = s[ok], b[ok]
        inside = member(k[ok], np.sort(other))
        d = pd.DataFrame({"y": (~inside).astype(float), "D": D[b], "u": f.u.to_numpy()[b],
                          "ld": np.log(np.maximum(haversine_km(lat[s], lon[s], lat[b], lon[b]), 0.1)), "ls": logs[s],
                          "ind": f.ind_idx.to_numpy()[s], "pref": f.pref_code.to_numpy()[s], "b": b})
        for x in ("ld", "ls"):  # log(x_j / x̄_i), x̄_i the arithmetic mean of the buyer's sellers in the sample
            d[f"r{x}"] = d[x] - np.log(np.exp(d[x]).groupby(d.b).transform("mean"))
            d[f"D{x}"] = d.D * d[f"r{x}"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = feiv("y ~ D + Dld + Dls + rld + rls + u | ind + pref", d, vcov="robust")
        out[kind] = {"D": float(r.coef["D"]), "D_dist": float(r.coef["Dld"]), "D_sales": float(r.coef["Dls"]),
                     "u": float(r.coef["u"]), "nobs": int(r.nobs)}
    return out


def _pair_keys(l: pd.DataFrame, n: int) -> np.ndarray:
    return l.seller.to_numpy().astype(np.int64) * n + l.buyer.to_numpy()


def _eq15_oracle(f: pd.DataFrame, ch: pd.DataFrame, panel: pd.DataFrame, links: pd.DataFrame, pc: np.ndarray,
                 jsic: pd.DataFrame | None) -> dict:
    """The estimands of eq. (15) (Tables 4/A5 column 3: log sellers relative to the nearest source prefecture
    on ρθ/(ρ−1) ln d and φθ ln d, input-industry × reference-region and × source-region FE) and, with
    ``jsic``, of its dummy version (Table 5 column 6: buyer × sector (12) × prefecture LPM, sector × source
    region and buyer FE): the paper's estimators applied to the generator's full, unreported network of
    one vintage (regression-sample buyers: manufacturing survey firms; parent–child pairs removed). The
    expected counts follow eq. (15) with the planted β and γ; the log of realised counts (mostly 1 or 2)
    does not, so these are the values the estimates should be compared with."""
    import warnings

    from analytics.econometrics.iv import feiv

    n = len(f)
    both = (f.alive05 & f.alive10).to_numpy()
    isb = np.zeros(n, bool)
    isb[panel.firm[panel.manufacturing == 1].to_numpy()] = True
    s, b = links.seller.to_numpy(), links.buyer.to_numpy()
    ok = isb[b] & both[s] & both[b] & ~member(_pair_keys(links, n), np.sort(pc))
    s, b = s[ok], b[ok]
    pref = f.pref_code.to_numpy()
    dm = capital_distance_matrix().reindex(index=range(1, 48), columns=range(1, 48)).to_numpy()
    c = ch.set_index("jsic3")
    c = c.assign(ratio=c.rho / (c.rho - 1))
    n_isr = pd.DataFrame({"b": b, "s": f.jsic3.to_numpy()[s], "r": pref[s]}).groupby(["b", "s", "r"]).size()
    n_isr = n_isr.rename("N").reset_index()
    n_isr["d"] = dm[pref[n_isr.b.to_numpy()] - 1, n_isr.r.to_numpy() - 1]
    ref = n_isr.loc[n_isr.groupby(["b", "s"]).d.idxmin(), ["b", "s", "r", "N"]].rename(columns={"r": "ref", "N": "N_ref"})
    m = n_isr.merge(ref, on=["b", "s"])
    m = m[m.r != m.ref]
    cs = c.reindex(m.s)
    lnd_t = np.log(m.d.to_numpy()) * cs.theta_cp.to_numpy()
    d4 = pd.DataFrame({"y": np.log(m.N / m.N_ref).to_numpy(), "x_rho": lnd_t * cs.ratio.to_numpy(),
                       "x_air": lnd_t * cs.air_share.to_numpy(), "s_ref": (m.s + "_" + m.ref.astype(str)).to_numpy(),
                       "s_r": (m.s + "_" + m.r.astype(str)).to_numpy()}).dropna()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r4 = feiv("y ~ x_rho + x_air | s_ref + s_r", d4, vcov={"cluster": "s_r"})
    out = {"table_4": {"beta_comm": float(-r4.coef["x_rho"]), "gamma_air": float(-r4.coef["x_air"]),
                       "nobs": int(r4.nobs)}}
    if jsic is not None:
        out["table_5"] = _incidence_oracle(f, c, jsic, isb, s, b, dm)
    return out


def _incidence_oracle(f: pd.DataFrame, c: pd.DataFrame, jsic: pd.DataFrame, isb: np.ndarray, s: np.ndarray,
                      b: np.ndarray, dm: np.ndarray) -> dict:
    """Table 5 column 6 on the full network: sourcing dummy per buyer × sector (12) × prefecture on
    ln(d+1) θ ρ/(ρ−1) and ln(d+1) θ φ (sales-weighted sector averages of the 3-digit values)."""
    import warnings

    from analytics.econometrics.iv import feiv

    sec4 = jsic.set_index("jsic4").sector12
    w = f[f.alive05].groupby("jsic3").sales05.sum()
    cw = c.join(w.rename("w"))
    cw["sector"] = sec4.reindex(jsic.groupby("jsic3").jsic4.first().reindex(cw.index)).to_numpy()
    cw = cw.dropna(subset=["sector", "w"])
    sc = {}
    for col in ("theta_cp", "ratio", "air_share"):
        g = cw.dropna(subset=[col])
        sc[col] = g.groupby("sector").apply(lambda x, col=col: np.average(x[col], weights=x.w))
    sc = pd.DataFrame(sc).reindex(np.arange(1, 13))
    buyers = np.flatnonzero(isb)
    code = np.full(len(f), -1)
    code[buyers] = np.arange(len(buyers))
    sector = pd.to_numeric(sec4.reindex(f.jsic4.to_numpy()[s]), errors="coerce").to_numpy()
    ok = ~np.isnan(sector)
    pref = f.pref_code.to_numpy()
    nb = len(buyers)
    hit = np.zeros(nb * 12 * 47)
    hit[code[b[ok]] * 564 + (sector[ok].astype(int) - 1) * 47 + pref[s[ok]] - 1] = 1.0
    b_i = np.repeat(np.arange(nb), 564)
    s_i = np.tile(np.repeat(np.arange(12), 47), nb)
    r_i = np.tile(np.arange(47), nb * 12)
    lnd_t = np.log1p(dm[pref[buyers][b_i] - 1, r_i]) * sc.theta_cp.to_numpy()[s_i]
    d = pd.DataFrame({"y": hit, "x_rho": lnd_t * sc.ratio.to_numpy()[s_i], "x_air": lnd_t * sc.air_share.to_numpy()[s_i],
                      "buyer": b_i, "sector_r": s_i * 100 + r_i})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = feiv("y ~ x_rho + x_air | sector_r + buyer", d, vcov={"cluster": "buyer"})
    return {"beta_comm": float(-r.coef["x_rho"]), "gamma_air": float(-r.coef["x_air"]), "nobs": int(r.nobs)}


def _tail_oracle(links05: pd.DataFrame) -> dict:
    """The CSN power-law fit (Figure A1) of the realised, reported sellers-per-buyer degrees: the planted
    Pareto exponent is bent by the top-24 reporting rules and the largest buyers' saturation."""
    from analytics.power_law import fit

    r = fit(links05.groupby("buyer").size().to_numpy())
    return {"alpha": float(r.alpha), "xmin": int(r.xmin), "alpha_se": float(r.alpha_se)}


def _truth_counts(f, links05, links10, panel, drops) -> dict:
    def deg_stats(l):
        d = l.groupby("buyer").size()
        o = l.groupby("seller").size()
        return {"links": int(len(l)), "buyers": int(len(d)), "sellers": int(len(o)),
                "mean_sellers_per_buyer": float(d.mean()), "median_sellers_per_buyer": float(d.median()),
                "max_sellers_per_buyer": int(d.max()), "max_buyers_per_seller": int(o.max()),
                "parent_child_links": int(l.parent_child.sum())}

    cont = int(member(_pair_keys(links05, len(f)), np.sort(_pair_keys(links10, len(f)))).sum())
    st = panel[panel.manufacturing == 1].status.value_counts()
    return {
        "firms_2005": int(f.alive05.sum()), "firms_2010": int(f.alive10.sum()),
        "firms_both": int((f.alive05 & f.alive10).sum()),
        "2005": deg_stats(links05), "2010": deg_stats(links10),
        "links_continuing": cont, "links_dropped_between_survivors": drops["dropped"],
        "continuing_unreported_2010": drops["continuing_unreported_2010"],
        "added_unreported_2010": drops["added_unreported_2010"], "add_candidates": drops["candidates"],
        "links_added": drops["added"], "add_acceptance_capped": drops["acceptance_capped"],
        "share_2005_links_reformed": float(1 - cont / len(links05)),
        "bsjbsa_mfg_status": {k: int(v) for k, v in st.items()},
    }
