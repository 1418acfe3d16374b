"""The result object shared by every estimator (OLS through pyfixest, FE-2SLS): coefficients, the
variance matrix with Stata's small-sample conventions, fit statistics, first stages and diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats


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
    dropped_singletons: int = 0
    dropped_collinear: list[str] = field(default_factory=list)
    endog: list[str] = field(default_factory=list)
    instruments: list[str] = field(default_factory=list)
    first_stages: dict[str, FirstStage] = field(default_factory=dict)
    diagnostics: dict[str, float] = field(default_factory=dict)
    stock_yogo: dict[str, float] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    @property
    def se(self) -> pd.Series:
        d = np.diag(self.vcov.to_numpy())
        # a variance that rounding made negative (collinear design, tiny sample) is reported as NaN
        return pd.Series(np.sqrt(np.where(d >= 0, d, np.nan)), index=self.coef.index)

    @property
    def t_df(self) -> int:
        """Degrees of freedom of the t reference: G − 1 when clustered, else N − K (Stata)."""
        return self.n_clusters - 1 if self.vcov_type == "cluster" else self.df_resid

    @property
    def pvalue(self) -> pd.Series:
        t = self.coef / self.se
        return pd.Series(2 * stats.t.sf(np.abs(t), self.t_df), index=self.coef.index)

    def tidy(self, alpha: float = 0.05) -> pd.DataFrame:
        """One row per coefficient: term, estimate, std_error, statistic, p_value, conf_low, conf_high."""
        se = self.se
        crit = stats.t.ppf(1 - alpha / 2, self.t_df)
        return pd.DataFrame({
            "term": self.coef.index, "estimate": self.coef.to_numpy(), "std_error": se.to_numpy(),
            "statistic": (self.coef / se).to_numpy(), "p_value": self.pvalue.to_numpy(),
            "conf_low": (self.coef - crit * se).to_numpy(), "conf_high": (self.coef + crit * se).to_numpy(),
        })

    def summary_stats(self) -> dict:
        out = {"nobs": self.nobs, "r2": self.r2, "r2_within": self.r2_within, "df_resid": self.df_resid,
               "n_clusters": self.n_clusters, **self.diagnostics, **self.extra}
        return {k: v for k, v in out.items() if v is not None}
