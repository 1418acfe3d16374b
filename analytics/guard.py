"""Estimating one table column safely: the exhibit's sample is checked in Python before any compiled code
sees it, a column that cannot be estimated becomes a reason in words (with the sample's context) instead of
an exception, and estimates that look fine but are not carry a flag that the table prints as a footnote:
the estimator's own (a constant dependent variable, a standard error over 1,000 times its coefficient, a
first stage with F below 1, few clusters, …)."""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.econometrics.design import AbsorbedDesign
from analytics.econometrics.fixed_effects import absorb, factorize, singleton_mask
from analytics.econometrics.iv import feiv, parse_formula
from analytics.econometrics.result import EstimationError, Fit

WEAK_FIRST_STAGE_F = 1.0  # a first-stage F below this is flagged (first-stage tables A6–A8)


class NotEstimable(Exception):
    """An exhibit (or one of its columns) cannot be estimated on this data; the message says why."""


@dataclass
class Sample:
    """Row counts of an estimation sample as the estimator will see it."""

    rows: int
    complete: int  # after dropping rows with a missing (or infinite) value in a model variable
    estimation: int  # after dropping fixed-effect singletons as well
    parameters: int
    clusters: int | None
    absorbed: int = 0  # fixed-effect degrees of freedom, counted only when they could exhaust the sample


@dataclass
class Column:
    """One table column: its fit, or the reason it could not be estimated, and the flags of its estimates."""

    fit: Fit | None
    reason: str | None = None
    flags: list[str] = field(default_factory=list)
    context: str = ""  # what the reader needs to judge the reason, e.g. the sample's size

    @property
    def note(self) -> str | None:
        """The column's note for the table when it is not estimable (flags travel with the fit)."""
        if self.reason:
            return f"not estimable: {self.reason}" + (f"; {self.context}" if self.context else "")
        return None


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def inspect_sample(formula: str, data: pd.DataFrame, cluster: str | None = None) -> Sample:
    """Count the rows ``feiv(formula, data)`` would estimate on (missing values, then FE singletons
    dropped iteratively), the parameters, the clusters left and, when they could exhaust the rows, the
    degrees of freedom the fixed effects absorb."""
    spec = parse_formula(formula)
    cols = list(dict.fromkeys([spec.depvar, *spec.exog, *spec.endog, *spec.instruments, *spec.fe,
                               *([cluster] if cluster else [])]))
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise KeyError(f"column(s) not in data: {', '.join(missing)}")
    d = data[cols]
    num = d[[c for c in cols if c not in spec.fe and c != cluster]]
    ok = d.notna().all(axis=1).to_numpy() & np.isfinite(num.to_numpy(np.float64)).all(axis=1)
    d = d[ok]
    complete = len(d)
    if spec.fe and len(d):
        d = d[singleton_mask(factorize(d, spec.fe))]
    k = len(spec.exog) + len(spec.endog) + (0 if spec.fe else 1)
    absorbed = 0
    if spec.fe and len(d) and len(d) <= k + sum(d[c].nunique() for c in spec.fe):  # else N − K > 0 for sure
        absorbed = absorb(d, spec.fe, cluster).df_absorbed(cluster is not None)
    return Sample(len(data), complete, len(d), k, int(d[cluster].nunique()) if cluster else None, absorbed)


def check_sample(s: Sample, has_fe: bool) -> None:
    """Raise NotEstimable when the sample leaves nothing to estimate (before any compiled code runs)."""
    if s.complete == 0:
        raise NotEstimable(f"0 rows with complete data (of {_plural(s.rows, 'row')})")
    if has_fe and s.estimation == 0:
        raise NotEstimable(f"0 rows after dropping singletons (of {s.complete:,} with complete data)")
    if s.estimation <= s.parameters:
        raise NotEstimable(f"{_plural(s.estimation, 'row')} left for {_plural(s.parameters, 'parameter')}")
    if s.estimation <= s.parameters + s.absorbed:
        raise NotEstimable(f"no residual degrees of freedom: {_plural(s.estimation, 'row')} after dropping "
                           f"singletons, {_plural(s.parameters, 'parameter')} and {s.absorbed:,} absorbed by the "
                           "fixed effects")
    if s.clusters is not None and s.clusters < 2:
        raise NotEstimable(f"{_plural(s.clusters, 'cluster')} in the estimation sample; clustered SEs need two")


def first_stage_flags(fit: Fit, endog: str) -> str | None:
    """The flag of a first stage whose F on the excluded instruments is below 1 (or undefined)."""
    f = fit.first_stages[endog].f_excluded
    if f >= WEAK_FIRST_STAGE_F:
        return None
    return f"first-stage F of {endog} is {f:.3g}, below {WEAK_FIRST_STAGE_F:g}: the instruments carry no information"


@contextmanager
def warnings_named(where: str):
    """Re-raise the warnings of the block prefixed with ``where`` (e.g. "Table 5 column 3"), so that a
    table's warnings say which column they come from."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        warnings.warn(f"{where}: {w.message}" if where else str(w.message), w.category, stacklevel=3)


def fit_column(formula: str, data: pd.DataFrame | AbsorbedDesign, vcov="robust", where: str = "",
               context: str = "") -> Column:
    """Estimate one column by ``feiv`` (on a frame, or a design several columns share) after checking its
    sample; any failure becomes the column's reason
    (``context`` appended, e.g. the sample's size), warnings are re-raised prefixed with ``where``."""
    cluster = vcov.get("cluster") if isinstance(vcov, dict) else None
    try:
        s = inspect_sample(formula, data.data if isinstance(data, AbsorbedDesign) else data, cluster)
        check_sample(s, bool(parse_formula(formula).fe))
        with warnings_named(where):
            fit = feiv(formula, data, vcov=vcov)
    except (NotEstimable, EstimationError) as e:
        return Column(None, str(e), context=context)
    except Exception as e:  # noqa: BLE001 - one column failing must not take the table down
        return Column(None, f"{type(e).__name__}: {e}", context=context)
    fit.extra["formula"] = formula  # lets a user refit the column, e.g. under another vcov
    return Column(fit, flags=list(fit.flags))


def fit_columns(specs: dict[str, tuple], table: str, context: str = "") -> tuple[dict[str, Fit | None], dict[str, str]]:
    """Estimate ``{label: (formula, data, vcov)}``; returns the fits (None where not estimable) and the
    reasons of the columns not estimable. Raises NotEstimable, with every column's reason, only when no
    column is estimable."""
    cols = {}
    for i, (label, (formula, data, vcov)) in enumerate(specs.items(), 1):
        cols[label] = fit_column(formula, data, vcov, where=f"{table} column {i}", context=context)
    notes = {k: c.note for k, c in cols.items() if c.note}
    if cols and all(c.fit is None for c in cols.values()):
        by_reason: dict[str, list[int]] = {}
        for i, c in enumerate(cols.values(), 1):
            by_reason.setdefault(c.reason, []).append(i)
        if len(by_reason) == 1:
            text = f"{table}, all {len(cols)} columns: {next(iter(by_reason))}"
        else:
            text = f"{table}: " + "; ".join(f"column{'s' if len(ix) > 1 else ''} {', '.join(map(str, ix))}: {r}"
                                            for r, ix in by_reason.items())
        raise NotEstimable(text + (f"; {context}" if context else ""))
    return {k: c.fit for k, c in cols.items()}, notes
