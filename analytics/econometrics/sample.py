"""The estimation sample and the checks every estimator runs before any compiled code sees the data.

pyfixest's compiled demeaning aborts the whole process on an empty frame, which no ``except`` can catch,
so the row count is checked first; a variable absorbed by the fixed effects can survive demeaning as
numerical noise, so absorption is judged by the share of a variable's centred norm left after demeaning,
a scale-free measure. Every dropped row is counted with its reason."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.econometrics.fixed_effects import factorize, singleton_mask
from analytics.econometrics.result import EstimationError, EstimationWarning
from analytics.econometrics.vcov import VcovSpec, cluster_codes, n_clusters

# a variable whose demeaned norm is below this share of its centred norm is absorbed by the FE
ABSORBED_TOL = 1e-6
# a (normalised) column this close to the span of earlier ones is collinear with them
COLLINEAR_TOL = 1e-6
# below this many clusters cluster-robust inference is doubtful (Cameron & Miller 2015, §VI: 20–50)
FEW_CLUSTERS = 30


@dataclass(frozen=True)
class Spec:
    """The variables of ``depvar ~ exog | fe | endog ~ instruments``."""

    depvar: str
    exog: list[str]
    fe: list[str]
    endog: list[str]
    instruments: list[str]


@dataclass
class Sample:
    """The estimation sample, the rows handed in and the rows dropped by reason."""

    data: pd.DataFrame
    n_input: int
    dropped: dict[str, int]

    @property
    def nobs(self) -> int:
        return len(self.data)


@dataclass
class Selection:
    """The rows of an estimation sample (positions in the frame handed in), their FE and cluster columns,
    the rows handed in and the rows dropped by reason; ``codes``, the FE's ``factorize`` codes on these
    rows when they were computed on exactly these rows (None otherwise)."""

    rows: np.ndarray
    keys: pd.DataFrame
    n_input: int
    dropped: dict[str, int]
    codes: np.ndarray | None = None


def bad_rows(col: pd.Series, numeric: bool) -> np.ndarray:
    """Rows where ``col`` is missing (or, for a numeric variable, not finite)."""
    bad = col.isna().to_numpy()
    if numeric:
        bad = bad | ~np.isfinite(col.to_numpy(np.float64, na_value=np.nan))
    return bad


def _check_numeric(df: pd.DataFrame, numeric: list[str]) -> None:
    for c in numeric:
        if not (pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c])):
            raise EstimationError(f"variable {c} is not numeric (dtype {df[c].dtype})")


def sample_columns(data: pd.DataFrame, numeric: list[str], fe: list[str], vs: VcovSpec) -> list[str]:
    """The columns an estimation reads; a ``KeyError`` naming the absent ones, an ``EstimationError`` for a
    non-numeric variable."""
    cols = list(dict.fromkeys([*numeric, *fe, *vs.clusters]))
    absent = [c for c in cols if c not in data.columns]
    if absent:
        raise KeyError(f"column(s) not in data: {', '.join(absent)}")
    _check_numeric(data, numeric)
    return cols


def select(data: pd.DataFrame, numeric: list[str], fe: list[str], vs: VcovSpec, drop_singletons: bool = True,
           bad: np.ndarray | None = None) -> Selection:
    """Drop rows with missing or infinite values (``bad``, when the caller has them), then (with FE)
    singletons, iteratively as reghdfe does; raise ``EstimationError`` naming the cause when no row is left.
    Only the FE and cluster columns are copied."""
    cols = sample_columns(data, numeric, fe, vs)
    n_input = len(data)
    if bad is None:
        bad = np.zeros(n_input, bool)
        for c in cols:
            bad |= bad_rows(data[c], c in numeric)
    dropped = {"missing values": int(bad.sum())}
    if bad.all():
        na = data[cols].isna().sum().sort_values(ascending=False)
        worst = ", ".join(f"{c} ({int(k):,})" for c, k in na.items() if k)
        raise EstimationError(f"0 rows left of {n_input:,} after dropping rows with missing or infinite values"
                              + (f"; missing per column: {worst}" if worst else ""))
    rows = np.flatnonzero(~bad)
    keys = data[list(dict.fromkeys([*fe, *vs.clusters]))].take(rows)
    codes = None
    if fe and drop_singletons:
        codes = factorize(keys, fe)
        keep = singleton_mask(codes)
        dropped["singletons"] = int((~keep).sum())
        if not keep.any():
            raise EstimationError(f"0 rows after dropping {dropped['singletons']:,} singletons of the fixed effects "
                                  f"{' + '.join(fe)} ({len(keys):,} complete rows)")
        if not keep.all():
            rows, keys, codes = rows[keep], keys[keep], None
    return Selection(rows, keys, n_input, dropped, codes)


def prepare(data: pd.DataFrame, numeric: list[str], fe: list[str], vs: VcovSpec,
            drop_singletons: bool = True) -> Sample:
    """The sample of ``select`` as a frame of the needed columns."""
    sel = select(data, numeric, fe, vs, drop_singletons)
    return Sample(data[sample_columns(data, numeric, fe, vs)].take(sel.rows), sel.n_input, sel.dropped)


def check_clusters(df: pd.DataFrame, vs: VcovSpec, flags: list[str]) -> np.ndarray | None:
    """Cluster codes; an error with fewer than two clusters, a warning (and a flag) with few."""
    groups = cluster_codes(df, vs)
    check_cluster_count(groups, vs, flags)
    return groups


def check_cluster_count(groups: np.ndarray | None, vs: VcovSpec, flags: list[str]) -> None:
    """An error with fewer than two clusters, a warning (and a flag) with few."""
    g = n_clusters(groups)
    if g is None:
        return
    if g < 2:
        raise EstimationError(f"{g} cluster(s) of {vs.cluster}: clustered standard errors need at least two")
    if g < FEW_CLUSTERS:
        msg = (f"only {g} clusters ({vs.cluster}): cluster-robust asymptotics are doubtful below about "
               f"{FEW_CLUSTERS}; tests with more than {g - 1} restrictions are not reported")
        warnings.warn(msg, EstimationWarning, stacklevel=4)
        flags.append(msg)


def column_norms(raw: np.ndarray, demeaned: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column: ‖raw − mean‖, ‖raw‖ and ‖demeaned‖, a column at a time (no n × p temporaries)."""
    cols = range(raw.shape[1])
    return (np.array([np.linalg.norm(raw[:, j] - raw[:, j].mean()) for j in cols]),
            np.array([np.linalg.norm(raw[:, j]) for j in cols]),
            np.array([np.linalg.norm(demeaned[:, j]) for j in cols]))


def share_from_norms(centred: np.ndarray, norm: np.ndarray, within: np.ndarray) -> np.ndarray:
    """``within_share`` from the ``column_norms``."""
    scale = np.maximum(norm, np.finfo(float).tiny)
    share = within / np.where(centred > 0, centred, 1.0)
    return np.where(centred <= 1e-12 * scale, 0.0, share)


def within_share(raw: np.ndarray, demeaned: np.ndarray) -> np.ndarray:
    """‖demeaned‖ / ‖raw − mean‖ per column: the share of a variable's variation the FE leave; 0 for a
    constant column (absorbed by the constant every FE set contains)."""
    return share_from_norms(*column_norms(raw, demeaned))


def dependent_on_earlier(m: np.ndarray, start: int = 0) -> list[int]:
    """Indices j ≥ ``start`` of columns lying within COLLINEAR_TOL of the span of the columns before them,
    every column scaled to unit norm first: |R_jj| of a Householder QR is the norm of the part of column j
    orthogonal to the earlier ones (one O(n·p²) factorisation, numerically stable)."""
    if m.shape[1] == 0:
        return []
    norms = np.linalg.norm(m, axis=0)
    r = np.linalg.qr(m / np.where(norms > 0, norms, 1.0), mode="r")
    diag = np.abs(np.diag(r))  # length min(n, p): a column beyond the n-th is always dependent
    return [j for j in range(start, m.shape[1]) if norms[j] == 0 or j >= len(diag) or diag[j] <= COLLINEAR_TOL]


def check_size(smp, params: int, df_a: int) -> None:
    """At least one residual degree of freedom beyond ``params`` coefficients (for 2SLS: the first-stage
    ones, instruments + exogenous regressors) and the ``df_a`` absorbed by the FE; otherwise N − K or N − L
    would be zero or negative."""
    n = smp.nobs
    if n <= params + df_a:
        drops = ", ".join(f"{v:,} {k}" for k, v in smp.dropped.items())
        raise EstimationError(f"{n:,} rows for {params + df_a:,} parameters ({params} coefficients, {df_a:,} "
                              f"absorbed by the fixed effects), after dropping {drops} of {smp.n_input:,} rows")


def check_roles(spec: Spec) -> None:
    """Each variable in one role only (an endogenous regressor listed as an instrument would silently
    give OLS) and at least as many excluded instruments as endogenous regressors."""
    seen: dict[str, str] = {}
    roles = {"the dependent variable": [spec.depvar], "an exogenous regressor": spec.exog,
             "an endogenous regressor": spec.endog, "an excluded instrument": spec.instruments}
    for role, names in roles.items():
        for v in names:
            if v in seen:
                raise EstimationError(f"{v} is listed both as {seen[v]} and as {role}")
            seen[v] = role
    if len(spec.instruments) < len(spec.endog):
        raise EstimationError(f"underidentified: {len(spec.endog)} endogenous, {len(spec.instruments)} instruments")


def _warn(flags: list[str], msg: str) -> None:
    warnings.warn(msg, EstimationWarning, stacklevel=4)
    flags.append(msg)


def screen(share: np.ndarray, dm: np.ndarray, spec: Spec, flags: list[str]) -> tuple[list[int], list[int], list[str]]:
    """Columns of exogenous regressors and instruments to keep, as indices into the variables (depvar,
    endog, exog, instruments), and the names dropped. ``share``: their ``within_share``; ``dm``: the
    variables demeaned (centred without FE), or any matrix with the same cross-products, such as the R
    factor of their QR decomposition (every check below depends on the columns only through these).

    Absorbed (by the FE, or constant without FE) or collinear exogenous regressors and instruments are
    dropped with a warning; an absorbed or collinear endogenous regressor, or too few instruments left, is
    an ``EstimationError``. A dependent variable without variation is flagged."""
    m, p = len(spec.endog), len(spec.exog)
    absorbed = share < ABSORBED_TOL
    how = f"absorbed by the fixed effects {' + '.join(spec.fe)}" if spec.fe else "constant"
    if absorbed[0]:
        _warn(flags, f"dependent variable {spec.depvar} is {how}: its coefficients are meaningless")
    for j in range(1, 1 + m):
        if absorbed[j]:
            raise EstimationError(f"endogenous regressor {var_name(spec, j)} is {how}")
    dropped = [var_name(spec, c) for c in range(1 + m, len(absorbed)) if absorbed[c]]
    for name in dropped:
        _warn(flags, f"{_role(spec, name)} {name} is {how} and dropped")
    ex = [c for c in range(1 + m, 1 + m + p) if not absorbed[c]]
    inst = [c for c in range(1 + m + p, len(absorbed)) if not absorbed[c]]
    bad = [ex[i] for i in dependent_on_earlier(dm[:, ex])]
    bad += [(ex + inst)[i] for i in dependent_on_earlier(dm[:, ex + inst], start=len(ex)) if (ex + inst)[i] not in bad]
    for c in bad:
        dropped.append(var_name(spec, c))
        _warn(flags, f"{_role(spec, var_name(spec, c))} {var_name(spec, c)} is collinear with the other "
                     "regressors or instruments and dropped")
    ex, inst = [c for c in ex if c not in bad], [c for c in inst if c not in bad]
    en = list(range(1, 1 + m))
    for j in dependent_on_earlier(dm[:, ex + en], start=len(ex)):
        raise EstimationError(f"endogenous regressor {var_name(spec, (ex + en)[j])} is collinear with the other "
                              "regressors (exact linear dependence)")
    if len(inst) < m:
        raise EstimationError(f"underidentified after dropping {', '.join(dropped)}: {m} endogenous regressor(s), "
                              f"{len(inst)} excluded instrument(s) left")
    if m:
        z = dm[:, ex + inst]
        xhat = z @ np.linalg.lstsq(z, dm[:, en], rcond=None)[0]
        for j in dependent_on_earlier(np.column_stack([dm[:, ex], xhat]), start=len(ex)):
            raise EstimationError(f"underidentified: the instruments do not move {spec.endog[j - len(ex)]} "
                                  "independently of the other regressors")
    return ex, inst, dropped


def _role(spec: Spec, name: str) -> str:
    return "instrument" if name in spec.instruments else "regressor"


def var_name(spec: Spec, col: int) -> str:
    return [spec.depvar, *spec.endog, *spec.exog, *spec.instruments][col]
