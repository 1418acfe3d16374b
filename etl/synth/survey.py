"""The survey side of the synthetic world: productivity paths of the surveyed firms (an Olley–Pakes
production structure), foreign sourcing by the 12 broad product sectors with the planted Table 6 effects,
foreign outsourcing, and a JSIC revision with renumbered codes (DATA_CONTRACT.md, paper section 5.1)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .params import Planted

YEARS_SURVEY = np.arange(2003, 2012)
BASE_YEAR = 2005
OLD_REVISION_YEARS = (2003, 2004, 2005, 2006)  # TSR 2005 and survey years coded by the old JSIC revision


def productivity_paths(n: int, p: Planted, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Stationary AR(1) log productivity a_it and production noise e_it, shape (n, 9) for 2003–2011."""
    a = np.empty((n, len(YEARS_SURVEY)))
    a[:, 0] = rng.normal(0, p.prod_sd, n)
    innov = p.prod_sd * np.sqrt(1 - p.prod_rho**2)
    for t in range(1, len(YEARS_SURVEY)):
        a[:, t] = p.prod_rho * a[:, t - 1] + rng.normal(0, innov, n)
    return a, rng.normal(0, p.prod_noise_sd, a.shape)


def sector_x(jsic: pd.DataFrame, ch: pd.DataFrame, jsic3: np.ndarray, sales: np.ndarray) -> pd.Series:
    """θ_CP × ρ/(ρ−1) of each broad sector 1–12: sales-weighted means of the 3-digit values (weights:
    base-vintage TSR sales by main industry), as Tables 5 and 6 aggregate them (section 5.1)."""
    w = pd.Series(sales).groupby(jsic3).sum()
    c = ch.set_index("jsic3")
    c = c.assign(ratio=c.rho / (c.rho - 1), w=w.reindex(c.index).to_numpy())
    c["sector"] = jsic.groupby("jsic3").sector12.first().reindex(c.index).to_numpy()
    c = c.dropna(subset=["sector", "w"])

    def wavg(col: str) -> pd.Series:
        ok = c[c[col].notna()]
        return (ok[col] * ok.w).groupby(ok.sector).sum() / ok.w.groupby(ok.sector).sum()

    return (wavg("theta_cp") * wavg("ratio")).reindex(np.arange(1, 13))


def domestic_sourcing(links05: pd.DataFrame, sector_of_firm: np.ndarray, firms: np.ndarray) -> np.ndarray:
    """Dom_iS (len(firms) × 12): firm i buys from a seller of broad sector S in 2005 (parent–child links
    excluded; footnote 44: any 3-digit industry of the sector)."""
    l = links05[~links05.parent_child.to_numpy()]
    sec = sector_of_firm[l.seller.to_numpy()]
    pos = pd.Series(np.arange(len(firms)), index=firms).reindex(l.buyer.to_numpy()).to_numpy()
    ok = ~np.isnan(pos) & ~np.isnan(sec)
    dom = np.zeros((len(firms), 12), bool)
    dom[pos[ok].astype(int), sec[ok].astype(int) - 1] = True
    return dom


def sector_offshoring(dom: np.ndarray, tfp05: np.ndarray, x: pd.Series, size: np.ndarray, group: np.ndarray,
                      p: Planted, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Offshore_iS (n × 12) with P = k_S + off_dom Dom + off_tfp t + off_tfp_x t x_S exactly (an LPM), drawn
    as a mixture so that offshoring is concentrated in a minority of firms, and more so among large ones
    (section 2: large firms are more likely to offshore, which entails high fixed costs).

    Firm i offshores at all with probability π_i (``importer_propensity`` within its ``group``, e.g.
    manufacturing or not, so that each group has the planted share; rising with ``size``); an
    offshoring firm sources the sectors S with inclusion probabilities P_iS/π_i by systematic sampling in
    a random order of the sectors, so that it sources at least one whenever Σ_S P_iS ≥ π_i. Hence
    P(Offshore_iS) = P_iS, and P(any) = min(π_i, Σ_S P_iS). Size enters only through π_i, so
    E[Offshore_iS | Dom, t] is still the planted LPM."""
    n = len(tfp05)
    t = tfp05 - tfp05.mean()
    kappa = rng.uniform(p.off_base_lo, p.off_base_hi, 12)
    xs = x.fillna(x.mean()).to_numpy()
    prob = kappa[None, :] + p.off_dom * dom + p.off_tfp * t[:, None] + p.off_tfp_x * t[:, None] * xs[None, :]
    pi = np.empty(n)
    for g in np.unique(group):
        pi[group == g] = importer_propensity(size[group == g], prob[group == g], p)
    cond = prob / pi[:, None]
    clipped = float(((cond < 0) | (cond > 1)).mean())
    importer = rng.random(n) < pi
    off = importer[:, None] & systematic_sample(np.clip(cond, 0, 1), rng)
    truth = {"kappa": dict(zip(range(1, 13), np.round(kappa, 8), strict=True)),
             "x_sector": {int(k): float(v) for k, v in x.round(8).items()},
             "share_offshore": float(off.mean()), "share_firms_offshoring": float(off.any(1).mean()),
             "share_probability_clipped": clipped, "oracle": _oracle(off, dom, t, x)}
    return off, truth


def importer_propensity(size: np.ndarray, prob: np.ndarray, p: Planted) -> np.ndarray:
    """π_i of ``sector_offshoring``: c · exp(α z_i), z the normal score of the firm's size rank (ties
    averaged; robust to the long tail of size) and α = off_importer_size, clipped to [max_S P_iS, 1] (the
    lower bound keeps the LPM exact). c is set so that the expected share of firms that offshore at all,
    mean_i min(π_i, Σ_S P_iS), equals off_importer_share (or is as close as the bounds allow)."""
    from scipy.optimize import brentq
    from scipy.stats import norm, rankdata

    w = np.exp(p.off_importer_size * norm.ppf(rankdata(size) / (len(size) + 1)))
    lo, total = np.maximum(prob.max(1), 0.0), np.maximum(prob.sum(1), 0.0)

    def pi(c: float) -> np.ndarray:
        return np.clip(c * w, lo, 1.0)

    def gap(c: float) -> float:
        return float(np.minimum(pi(c), total).mean()) - p.off_importer_share

    hi = 1.0 / w.min()  # every π_i = 1
    low, high = gap(0.0), gap(hi)
    if low < 0 < high:
        return pi(brentq(gap, 0.0, hi, xtol=1e-12))
    c = 0.0 if low >= 0 else hi
    if abs(gap(c)) > 1e-9:
        warnings.warn(f"off_importer_share {p.off_importer_share:g} is outside what the planted Table 6 "
                      f"probabilities allow for this group ({low + p.off_importer_share:.3f} to "
                      f"{high + p.off_importer_share:.3f}); the nearest bound is used", stacklevel=2)
    return pi(c)


def systematic_sample(q: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Boolean (n × k): row i includes column S with probability exactly q_iS (0 ≤ q ≤ 1) and includes at
    least ⌊Σ_S q_iS⌋ columns: systematic sampling (one uniform start per row) over a random order of the
    columns. Written here because numpy offers only independent or fixed-size draws."""
    n, k = q.shape
    order = np.argsort(rng.random((n, k)), axis=1)
    cum = np.cumsum(np.take_along_axis(q, order, 1), axis=1)
    start = rng.random(n)[:, None]
    hit = np.floor(cum - start) > np.floor(np.concatenate([np.zeros((n, 1)), cum[:, :-1]], axis=1) - start)
    out = np.empty_like(hit)
    np.put_along_axis(out, order, hit, 1)
    return out


def _oracle(off: np.ndarray, dom: np.ndarray, t: np.ndarray, x: pd.Series) -> dict:
    """Table 6's column 1 estimated on the realised draws (every surveyed firm, true productivity): what
    the table should reproduce up to measurement (estimated TFP, matching), with its buyer-clustered SEs."""
    from analytics.econometrics.iv import feiv

    n = len(t)
    d = pd.DataFrame({"off": off.ravel().astype(float), "dom": dom.ravel().astype(float), "t": np.repeat(t, 12),
                      "s": np.tile(np.arange(1, 13), n), "b": np.repeat(np.arange(n), 12)})
    d["tx"] = d.t * np.tile(x.to_numpy(), n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = feiv("off ~ dom + t + tx | s", d, vcov={"cluster": "b"})
    return {k: {"estimate": float(r.coef[k]), "std_error": float(r.se[k])} for k in ("dom", "t", "tx")}


def renumbering(jsic: pd.DataFrame, share: float, rng: np.random.Generator) -> dict[str, str]:
    """Old-revision code → current code for a random share of 3-digit groups and their 4-digit codes
    (old codes 9NN / 9NND are outside the current classification)."""
    groups = np.sort(jsic.jsic3.unique())
    k = int(round(share * len(groups)))
    pick = np.sort(rng.choice(groups, size=min(k, 99), replace=False))
    old = {}
    for i, g in enumerate(pick):
        code3 = f"9{i:02d}"
        old[code3] = g
        for j4 in jsic.loc[jsic.jsic3 == g, "jsic4"]:
            old[code3 + j4[3]] = j4
    return old


def concordance_rows(old: dict[str, str], jsic: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """industry/jsic_concordance.csv: the renumbered codes per old-revision year (4-digit for TSR, 3-digit for
    the survey); a few old codes also map a minority share (weight) elsewhere, as splits do."""
    first4 = jsic.groupby("jsic3").jsic4.first()
    rows = []
    for y in OLD_REVISION_YEARS:
        for code, target in old.items():
            if len(code) == 3:
                rows.append((y, code, first4[target], 1.0))
            elif y == BASE_YEAR:
                split = rng.random() < 0.15
                rows.append((y, code, target, 0.8 if split else 1.0))
                if split:
                    rows.append((y, code, jsic.jsic4.iloc[rng.integers(len(jsic))], 0.2))
    return pd.DataFrame(rows, columns=["year", "code", "jsic4", "weight"])


def to_old(codes: pd.Series, old: dict[str, str]) -> pd.Series:
    """Write current codes in the old revision (inverse of ``old``)."""
    inv = {v: k for k, v in old.items()}
    return codes.map(lambda c: inv.get(c, c))


def outsourcing_abroad(purchases: np.ndarray, rate: np.ndarray, reported: np.ndarray,
                       rng: np.random.Generator) -> np.ndarray:
    """Production consigned abroad (million yen): purchases × the industry's rate × firm noise; 40% of
    firms consign nothing; NaN where not reported."""
    v = purchases * rate * rng.lognormal(-0.08, 0.4, len(purchases)) * (rng.random(len(purchases)) >= 0.4)
    return np.where(reported, np.round(v, 1), np.nan)
