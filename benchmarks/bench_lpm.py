"""The 7.7M-row incidence LPM of Table 5 (13,784 buyers × 12 sectors × 47 prefectures; buyer FE and
sector × source-region FE; clustered by buyer): pyfixest (what run_all uses), prodnet's own FE solver,
and linearmodels AbsorbingLS. Writes benchmarks/results/lpm.json."""

from __future__ import annotations

from benchmarks.common import run_isolated, save

SIM = """
import numpy as np, pandas as pd
rng = np.random.default_rng(0)
nb = 13_784
b = np.repeat(np.arange(nb), 564)
sr = np.tile(np.arange(564), nb)
lnd = np.log1p(rng.uniform(0, 1500, len(b)))
th = rng.uniform(2, 20, 564)[sr]
x1, x2 = lnd * th, lnd * th * rng.uniform(1, 2, 564)[sr]
y = (rng.random(len(b)) < 0.05 + 0.02 * (x1 < np.median(x1))).astype(float)
df = pd.DataFrame({"y": y, "x1": x1, "x2": x2, "buyer": b, "sector_r": sr})
"""

CODE = {
    "pyfixest (feols, lean)": SIM + """
import time
from analytics.econometrics.ols import feols
t = time.perf_counter(); f = feols("y", ["x1", "x2"], df, ["sector_r", "buyer"], vcov={"CRV1": "buyer"})
RESULT = {"seconds": time.perf_counter() - t, "coef_x1": float(f.coef["x1"]), "se_x1": float(f.se["x1"])}
""",
    "prodnet feiv (own demeaning + OLS)": SIM + """
import time
from analytics.econometrics.iv import feiv
t = time.perf_counter(); f = feiv("y ~ x1 + x2 | sector_r + buyer", df, vcov={"cluster": "buyer"})
RESULT = {"seconds": time.perf_counter() - t, "coef_x1": float(f.coef["x1"]), "se_x1": float(f.se["x1"])}
""",
    "linearmodels AbsorbingLS": SIM + """
import time
from linearmodels.iv.absorbing import AbsorbingLS
t = time.perf_counter()
absorb = pd.DataFrame({"sector_r": pd.Categorical(df.sector_r), "buyer": pd.Categorical(df.buyer)})
r = AbsorbingLS(df.y, df[["x1", "x2"]], absorb=absorb).fit(cov_type="clustered", clusters=df.buyer)
RESULT = {"seconds": time.perf_counter() - t, "coef_x1": float(r.params["x1"]), "se_x1": float(r.std_errors["x1"])}
""",
}


def main() -> None:
    rows = []
    for name, code in CODE.items():
        r = run_isolated(code)
        rows.append({"what": f"7.77M-row LPM, 2 FE sets, clustered: {name}", "rows": 7_773_696, **r})
        print(rows[-1], flush=True)
    print(save("lpm", rows))


if __name__ == "__main__":
    main()
