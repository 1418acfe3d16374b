"""FE-OLS / LPM through pyfixest, returned as the shared ``Fit`` object.

pyfixest traps handled here (ECONOMETRICS_NOTES): FE are always joined with `` + `` (without spaces the
nested-FE check can miscount K depending on the hash seed), the demeaning tolerance is reghdfe's 1e-8,
and fits are lean (no copy of the data kept: a 7.7M-row design otherwise costs gigabytes per fit)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyfixest as pf

from analytics.econometrics.result import Fit
from analytics.econometrics.vcov import VcovSpec


def _pf_vcov(spec: VcovSpec):
    if spec.kind == "cluster":
        return {"CRV1": spec.cluster}
    return {"iid": "iid", "robust": "hetero"}[spec.kind]


def feols(depvar: str, exog: list[str], data: pd.DataFrame, fe: list[str] = (), vcov="robust") -> Fit:
    """``depvar ~ exog | fe`` by pyfixest (reghdfe small-sample conventions), as a ``Fit``."""
    spec = VcovSpec.parse(vcov)
    rhs = " + ".join(exog)
    fml = f"{depvar} ~ {rhs}" + (f" | {' + '.join(fe)}" if fe else "")
    cols = list(dict.fromkeys([depvar, *exog, *fe, *([spec.cluster] if spec.cluster else [])]))
    m = pf.feols(fml, data=data[cols], vcov=_pf_vcov(spec), fixef_tol=1e-8, lean=True, store_data=False,
                 fixef_rm="singleton", ssc=pf.ssc(k_adj=True, k_fixef="nonnested", G_adj=True))
    coef = m.coef()
    names = list(coef.index)
    V = pd.DataFrame(np.asarray(m._vcov), index=names, columns=names)
    n = int(m._N)
    g = int(np.asarray(m._G).ravel()[0]) if spec.kind == "cluster" else None
    k = _k_from_ssc(float(np.asarray(m._ssc).ravel()[0]), n, g, spec.kind)
    return Fit(method="ols", depvar=depvar, coef=coef, vcov=V, vcov_type=spec.kind, nobs=n, df_resid=n - k, k=k,
               df_a=k - len(names), r2=float(m._r2), r2_within=float(m._r2_within), rss=float("nan"), fe=list(fe),
               cluster=spec.cluster, n_clusters=g, extra={"engine": "pyfixest"})


def _k_from_ssc(ssc: float, n: int, g: int | None, kind: str) -> int:
    """K (regressors + absorbed df) implied by pyfixest's small-sample factor."""
    if g is not None:
        return round(n - (n - 1) * g / ((g - 1) * ssc))
    return round(n - (n - 1 if kind == "iid" else n) / ssc)
