"""The result object shared by every estimator (OLS through pyfixest, FE-2SLS): coefficients, the
variance matrix with Stata's small-sample conventions, fit statistics, first stages and diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

# an SE this many times |coefficient| is flagged as numerically meaningless
SE_RATIO_FLAG = 1_000


class EstimationError(ValueError):
    """The model cannot be estimated on these data; the message names the cause (rows, variable, clusters)."""


class EstimationWarning(UserWarning):
    """The model was estimated but something about it deserves the reader's attention."""


@dataclass
class FirstStage:
    """One first-stage regression (endogenous variable on all instruments)."""

    endog: str
    coef: pd.Series
    se: pd.Series
    partial_r2: float
    f_excluded: float  # Wald test of the excluded instruments / k, small-sample scaled
    f_pvalue: float
    sw_f: float  # Sanderson–Windmeijer conditional F
    sw_df: tuple[int, int]
    r2: float = float("nan")


@dataclass
class Fit:
    method: str  # "ols" or "2sls"
    depvar: str
    coef: pd.Series
    vcov: pd.DataFrame
    vcov_type: str  # iid | robust | cluster
    nobs: int
    df_resid: int  # N − K (K: regressors + absorbed df)
    k: int
    df_a: int
    r2: float
    r2_within: float
    rss: float
    fe: list[str] = field(default_factory=list)
    cluster: str | None = None
    n_clusters: int | None = None
    n_input: int | None = None  # rows handed to the estimator
    dropped: dict[str, int] = field(default_factory=dict)  # reason ("missing values", "singletons") → rows
    dropped_collinear: list[str] = field(default_factory=list)
    endog: list[str] = field(default_factory=list)
    instruments: list[str] = field(default_factory=list)
    first_stages: dict[str, FirstStage] = field(default_factory=dict)
    diagnostics: dict[str, float] = field(default_factory=dict)
    stock_yogo: dict[str, float] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)  # what a reader must know (few clusters, absurd SEs, …)

    @property
    def dropped_singletons(self) -> int:
        return self.dropped.get("singletons", 0)

    @property
    def dropped_missing(self) -> int:
        return self.dropped.get("missing values", 0)

    @property
    def se(self) -> pd.Series:
        d = np.diag(self.vcov.to_numpy())
        # a variance that rounding made negative (collinear design, tiny sample) is reported as NaN
        return pd.Series(np.sqrt(np.where(d >= 0, d, np.nan)), index=self.coef.index)

    @property
    def t_df(self) -> int:
        """Degrees of freedom of the t reference: G − 1 when clustered, else N − K (Stata); normal (∞) for
        Adão–Kolesár–Morales SEs, as their reference implementation."""
        if self.vcov_type == "akm":
            return np.inf
        return self.n_clusters - 1 if self.vcov_type == "cluster" else self.df_resid

    @property
    def pvalue(self) -> pd.Series:
        t = self.coef / self.se
        return pd.Series(2 * stats.t.sf(np.abs(t), self.t_df), index=self.coef.index)

    def tidy(self, alpha: float = 0.05) -> pd.DataFrame:
        """One row per coefficient: term, estimate, std_error, statistic, p_value, conf_low, conf_high; the
        sample note (rows dropped and why) and the flags in ``attrs``."""
        se = self.se
        crit = stats.t.ppf(1 - alpha / 2, self.t_df)
        out = pd.DataFrame({
            "term": self.coef.index, "estimate": self.coef.to_numpy(), "std_error": se.to_numpy(),
            "statistic": (self.coef / se).to_numpy(), "p_value": self.pvalue.to_numpy(),
            "conf_low": (self.coef - crit * se).to_numpy(), "conf_high": (self.coef + crit * se).to_numpy(),
        })
        out.attrs.update(sample=self.sample_note(), dropped=dict(self.dropped), flags=list(self.flags))
        return out

    def summary_stats(self) -> dict:
        out = {"nobs": self.nobs, "r2": self.r2, "r2_within": self.r2_within, "df_resid": self.df_resid,
               "n_clusters": self.n_clusters, "dropped_missing": self.dropped_missing,
               "dropped_singletons": self.dropped_singletons, **self.diagnostics, **self.extra}
        return {k: v for k, v in out.items() if v is not None}

    def sample_note(self) -> str:
        """'N = 2,990 (10 rows dropped: 4 with missing values, 6 singletons)' or 'N = 3,000'."""
        parts = [f"{v:,} {'with ' if k == 'missing values' else ''}{k}" for k, v in self.dropped.items() if v]
        total = sum(self.dropped.values())
        return f"N = {self.nobs:,}" + (f" ({total:,} rows dropped: {', '.join(parts)})" if parts else "")

    def summary(self) -> str:
        """Plain-text summary: sample, coefficients, diagnostics and flags."""
        t = self.tidy().set_index("term")
        lines = [f"{self.method.upper()} of {self.depvar}; {self.sample_note()}; vcov {self.vcov_type}"
                 + (f" by {self.cluster} ({self.n_clusters} clusters)" if self.cluster else ""),
                 t[["estimate", "std_error", "p_value"]].to_string()]
        if self.diagnostics:
            lines.append("; ".join(f"{k} {v:.4g}" for k, v in self.diagnostics.items()))
        lines += [f"! {f}" for f in self.flags]
        return "\n".join(lines)


def numeric_flags(fit: Fit) -> list[str]:
    """Flags a reader must see beside the numbers: SEs ≥ SE_RATIO_FLAG × |coefficient|, undefined SEs and
    first stages with F below 1."""
    out = []
    se = fit.se
    for term, b in fit.coef.items():
        if fit.vcov_type == "akm" and term not in fit.endog:
            continue  # AKM gives SEs for the endogenous coefficients only
        if not np.isfinite(se[term]):
            out.append(f"standard error of {term} is not defined")
        elif se[term] > SE_RATIO_FLAG * abs(b):
            out.append(f"standard error of {term} is {se[term]:.3g}, over {SE_RATIO_FLAG:,} times its coefficient")
    for name, fs in fit.first_stages.items():
        if fs.f_excluded < 1:
            out.append(f"first stage of {name}: F of the excluded instruments {fs.f_excluded:.3g} < 1")
    return out
