"""Buyer productivity from the BSJBSA panel: Olley–Pakes (1996) TFP with value added as the dependent
variable (Table 3 note), and value added per worker, the alternative Table A4 reports.

Written here because no maintained Python package implements Olley–Pakes; the two stages follow the
original: (1) ln VA_it = β_l ln L_it + δ_t + φ(ln K_it, ln I_it) + ε_it with φ a third-order polynomial and
δ_t year effects, (2) for β_k, nonlinear least squares of ln VA_it − β_l ln L_it − δ_t on β_k ln K_it +
g(φ̂_{i,t−1} − β_k ln K_{i,t−1}) with g a third-order polynomial (no exit correction), over firms observed
in consecutive years. Estimated per industry group (the 12 broad manufacturing sectors, non-manufacturing);
a group with too few consecutive-year pairs, or whose β_k reaches a search bound, takes the pooled
estimate. Values are nominal (the contract has no deflators): the year effects absorb the common price
level, and log TFP excludes them. Without enough consecutive survey years the second stage is not
identified: productivity is then log value added per worker, with a note saying so."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize

BK_BOUNDS = (0.0, 1.0)
MIN_PAIRS = 200  # consecutive-year firm pairs needed for the second stage (pooled)
MIN_GROUP_PAIRS = 1000  # … and for a group's own estimate


@dataclass
class OPResult:
    beta_l: float
    beta_k: float
    nobs_stage1: int
    nobs_stage2: int
    at_bound: bool = False


@dataclass
class Productivity:
    """The productivity measure the tables use, by (survey_id, year)."""

    method: str  # "olley_pakes" or "va_per_worker"
    log_tfp: pd.Series
    note: str
    pooled: OPResult | None = None
    groups: dict[str, OPResult] = field(default_factory=dict)
    group_source: dict[str, str] = field(default_factory=dict)  # group → "own" or "pooled (reason)"

    @property
    def label(self) -> str:
        return "TFP (Olley-Pakes)" if self.method == "olley_pakes" else "log(VA/Emp) (fallback)"


def _poly(a: np.ndarray, b: np.ndarray, degree: int = 3) -> np.ndarray:
    cols = [np.ones_like(a)]
    for d in range(1, degree + 1):
        for i in range(d + 1):
            cols.append(a ** (d - i) * b ** i)
    return np.column_stack(cols)


def _prepare(panel: pd.DataFrame, firm: str, year: str) -> pd.DataFrame:
    p = panel[[firm, year, "value_added", "employees", "tangible_assets", "investment"]].copy()
    for c in ("value_added", "employees", "tangible_assets", "investment"):
        p[c] = pd.to_numeric(p[c], errors="coerce")
    p = p[(p.value_added > 0) & (p.employees > 0) & (p.tangible_assets > 0) & (p.investment > 0)]
    p = p.assign(va=np.log(p.value_added), l=np.log(p.employees), k=np.log(p.tangible_assets),
                 i=np.log(p.investment))
    return p.sort_values([firm, year]).reset_index(drop=True)


def consecutive_pairs(panel: pd.DataFrame, firm: str = "survey_id", year: str = "year") -> int:
    """Firm-years with usable inputs whose firm is also observed (with usable inputs) the year before."""
    p = _prepare(panel, firm, year)
    return int((p.groupby(firm)[year].diff() == 1).sum())


def olley_pakes(panel: pd.DataFrame, firm: str = "survey_id", year: str = "year") -> tuple[OPResult, pd.Series]:
    """Estimate (β_l, β_k) with year effects and return log TFP (year effects removed) per (firm, year).
    ``panel`` needs value_added, employees, tangible_assets, investment (positive). Raises ValueError when
    the second stage has fewer than MIN_PAIRS consecutive-year observations."""
    p = _prepare(panel, firm, year)
    P = _poly(p.k.to_numpy(), p.i.to_numpy())
    years = np.sort(p[year].unique())
    Y = (p[year].to_numpy()[:, None] == years[None, 1:]).astype(float)
    X1 = np.column_stack([p.l.to_numpy(), Y, P])
    b1 = np.linalg.lstsq(X1, p.va.to_numpy(), rcond=None)[0]
    beta_l = float(b1[0])
    delta = Y @ b1[1:1 + Y.shape[1]]
    p["phi"] = P @ b1[1 + Y.shape[1]:]
    lag = p.groupby(firm)[["phi", "k", year]].shift(1)
    ok = (lag[year] == p[year] - 1).to_numpy()
    if ok.sum() < MIN_PAIRS:
        raise ValueError(f"Olley-Pakes second stage: {int(ok.sum())} firm-years with the previous year observed "
                         f"(at least {MIN_PAIRS} needed)")
    y2 = (p.va - beta_l * p.l).to_numpy()[ok] - delta[ok]
    k, kl, phil = p.k.to_numpy()[ok], lag.k.to_numpy()[ok], lag.phi.to_numpy()[ok]

    def ssr(bk):
        w = phil - bk * kl
        G = np.column_stack([np.ones_like(w), w, w**2, w**3])
        r = y2 - bk * k
        return float(np.sum((r - G @ np.linalg.lstsq(G, r, rcond=None)[0]) ** 2))

    res = optimize.minimize_scalar(ssr, bounds=BK_BOUNDS, method="bounded", options={"xatol": 1e-8})
    beta_k = float(res.x)
    at_bound = min(beta_k - BK_BOUNDS[0], BK_BOUNDS[1] - beta_k) < 1e-3
    tfp = pd.Series((p.va - beta_l * p.l - beta_k * p.k - delta).to_numpy(),
                    index=pd.MultiIndex.from_frame(p[[firm, year]]), name="log_tfp")
    return OPResult(beta_l, beta_k, len(p), int(ok.sum()), at_bound), tfp


def va_per_worker(panel: pd.DataFrame, firm: str = "survey_id", year: str = "year") -> pd.Series:
    p = panel[(panel.value_added > 0) & (panel.employees > 0)]
    return pd.Series(np.log(p.value_added / p.employees).to_numpy(), index=pd.MultiIndex.from_frame(p[[firm, year]]),
                     name="log_va_per_worker")


def industry_groups(survey: pd.DataFrame, jsic: pd.DataFrame) -> pd.Series:
    """Industry group of each survey row: 'sector N' (broad manufacturing sector) or 'non-manufacturing'."""
    j3 = jsic.groupby("jsic3").agg(manufacturing=("manufacturing", "max"), sector12=("sector12", "first"))
    j = j3.reindex(survey.jsic3.to_numpy())
    mfg = (j.manufacturing.to_numpy(dtype=float, na_value=0) == 1) & j.sector12.notna().to_numpy()
    sec = j.sector12.to_numpy(dtype=float, na_value=np.nan)
    return pd.Series(np.where(mfg, [f"sector {int(s)}" if s == s else "" for s in sec], "non-manufacturing"),
                     index=survey.index)


def _tfp_with(panel: pd.DataFrame, op: OPResult, firm: str = "survey_id", year: str = "year") -> pd.Series:
    """log TFP of ``panel`` at given coefficients, year effects re-estimated given (β_l, β_k) as the year means
    of the residual (so that groups share one definition)."""
    p = _prepare(panel, firm, year)
    r = p.va - op.beta_l * p.l - op.beta_k * p.k
    r = r - r.groupby(p[year]).transform("mean") + r.mean()
    return pd.Series(r.to_numpy(), index=pd.MultiIndex.from_frame(p[[firm, year]]), name="log_tfp")


def estimate(survey: pd.DataFrame, jsic: pd.DataFrame) -> Productivity:
    """Productivity for the tables: Olley–Pakes per industry group when consecutive survey years allow it,
    otherwise value added per worker with a note (never a number from a degenerate second stage)."""
    years = sorted(int(y) for y in survey.year.unique()) if len(survey) else []
    pairs = consecutive_pairs(survey) if len(survey) else 0
    vapw = va_per_worker(survey).rename("log_tfp") if len(survey) else pd.Series(dtype=float, name="log_tfp")
    fallback = ("Productivity is log value added per worker (the paper's alternative measure), not Olley-Pakes TFP: "
                f"Olley-Pakes needs the same firms in consecutive survey years; the survey years here are "
                f"{', '.join(map(str, years)) or 'none'} ({pairs} firm-years with the previous year observed, at "
                f"least {MIN_PAIRS} needed).")
    if pairs < MIN_PAIRS:
        return Productivity("va_per_worker", vapw, fallback)
    pooled, _ = olley_pakes(survey)
    if pooled.at_bound:
        return Productivity("va_per_worker", vapw, "Productivity is log value added per worker (the paper's "
                            f"alternative measure): the pooled Olley-Pakes beta_k ({pooled.beta_k:.3f}) is at its "
                            f"search bound {BK_BOUNDS}, so the second stage is not informative.", pooled)
    grp = industry_groups(survey, jsic)
    parts, groups, source = [], {}, {}
    for g, rows in survey.groupby(grp):
        n_pairs = consecutive_pairs(rows)
        op = None
        if n_pairs >= MIN_GROUP_PAIRS:
            op, _ = olley_pakes(rows)
            groups[g] = op
            source[g] = "own" if not op.at_bound else f"pooled (own beta_k {op.beta_k:.3f} at its bound)"
            op = op if not op.at_bound else None
        else:
            source[g] = f"pooled ({n_pairs} consecutive-year pairs < {MIN_GROUP_PAIRS})"
        parts.append(_tfp_with(rows, op or pooled))
    own = [g for g, s in source.items() if s == "own"]
    note = (f"TFP by Olley-Pakes (value added; investment proxy; third-order polynomials; year effects; no exit "
            f"correction) estimated per industry group ({len(own)} of {len(source)} groups with their own "
            f"coefficients, the others pooled: beta_l {pooled.beta_l:.3f}, beta_k {pooled.beta_k:.3f}); values "
            "are nominal: log TFP is net of industry-group year means, which absorb the price level (no deflators in the data).")
    flagged = [g for g, s in source.items() if "bound" in s]
    if flagged:
        note += f" beta_k at its search bound in {', '.join(flagged)}: pooled coefficients used there."
    return Productivity("olley_pakes", pd.concat(parts).rename("log_tfp"), note, pooled, groups, source)
