"""FE-OLS / LPM through pyfixest, returned as the shared ``Fit`` object.

pyfixest traps handled here (ECONOMETRICS_NOTES): FE are always joined with `` + `` (without spaces the
nested-FE check can miscount K depending on the hash seed), the demeaning tolerance is reghdfe's 1e-8,
and fits are lean (no copy of the data kept: a 7.7M-row design otherwise costs gigabytes per fit). The
sample is prepared and screened by the same code as FE-2SLS before pyfixest's compiled code runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyfixest as pf

from analytics.econometrics.fixed_effects import absorb, demean
from analytics.econometrics.result import EstimationError, Fit, numeric_flags
from analytics.econometrics.sample import (
    Sample,
    Spec,
    check_clusters,
    check_roles,
    check_size,
    prepare,
    screen,
    var_name,
    within_share,
)
from analytics.econometrics.vcov import VcovSpec, n_clusters


def _pf_vcov(spec: VcovSpec):
    if spec.kind == "cluster":
        return {"CRV1": "+".join(spec.clusters)}
    return {"iid": "iid", "robust": "hetero"}[spec.kind]


def _screen_exog(spec: Spec, vs: VcovSpec, smp: Sample, flags: list[str]) -> list[str]:
    """The regressors to hand to pyfixest: absorbed or collinear ones dropped with a warning (pyfixest's
    absolute-tolerance check lets an absorbed regressor through as numerical noise); an error when fewer
    rows than parameters remain. Runs before pyfixest sees the data."""
    df = smp.data
    ab = absorb(df, spec.fe, vs.clusters) if spec.fe else None
    df_a = ab.df_a if ab else 1  # the constant
    check_size(smp, len(spec.exog), df_a)
    raw = df[[spec.depvar, *spec.exog]].to_numpy(np.float64)
    dm = demean(raw, ab)
    ex, _, _ = screen(within_share(raw, dm), dm, spec, flags)
    if not ex:
        raise EstimationError(f"no regressor of {spec.depvar} is left to estimate")
    return [var_name(spec, c) for c in ex]


def feols(depvar: str, exog: list[str], data: pd.DataFrame, fe: list[str] = (), vcov="robust",
          drop_singletons: bool = True) -> Fit:
    """``depvar ~ exog | fe`` by pyfixest (reghdfe small-sample conventions), as a ``Fit``. Raises
    ``EstimationError`` naming the cause when nothing is left to estimate (see ``sample.prepare``)."""
    vs = VcovSpec.parse(vcov)
    spec = Spec(depvar, list(exog), list(fe), [], [])
    check_roles(spec)
    smp = prepare(data, [depvar, *exog], spec.fe, vs, drop_singletons)
    flags: list[str] = []
    groups = check_clusters(smp.data, vs, flags)
    kept = _screen_exog(spec, vs, smp, flags)
    fml = f"{depvar} ~ {' + '.join(kept)}" + (f" | {' + '.join(fe)}" if fe else "")
    m = pf.feols(fml, data=smp.data, vcov=_pf_vcov(vs), fixef_tol=1e-8, lean=True, store_data=False,
                 fixef_rm="singleton" if drop_singletons else "none",
                 ssc=pf.ssc(k_adj=True, k_fixef="nonnested", G_adj=True, G_df="min"))
    coef = m.coef()
    names = list(coef.index)
    V = pd.DataFrame(np.asarray(m._vcov), index=names, columns=names)
    n = int(m._N)
    g = n_clusters(groups)
    k = _k_from_ssc(float(np.asarray(m._ssc).ravel()[0]), n, g, vs.kind)
    fit = Fit(method="ols", depvar=depvar, coef=coef, vcov=V, vcov_type=vs.kind, nobs=n, df_resid=n - k, k=k,
              df_a=k - len(names), r2=float(m._r2), r2_within=float(m._r2_within), rss=float("nan"), fe=list(fe),
              cluster=vs.cluster, n_clusters=g, n_input=smp.n_input, dropped=dict(smp.dropped),
              dropped_collinear=[x for x in exog if x not in kept], extra={"engine": "pyfixest"}, flags=flags)
    fit.flags += numeric_flags(fit)
    return fit


def _k_from_ssc(ssc: float, n: int, g: int | None, kind: str) -> int:
    """K (regressors + absorbed df) implied by pyfixest's small-sample factor."""
    if g is not None:
        return round(n - (n - 1) * g / ((g - 1) * ssc))
    return round(n - (n - 1 if kind == "iid" else n) / ssc)
