"""The x_min search of analytics.power_law against the ``powerlaw`` package on the five data sets of
Clauset, Shalizi & Newman (2009) shipped with the tests: wall time (median of repeats), x_min, α and the
number of x_min candidates. Writes benchmarks/results/power_law.json.

    python -m benchmarks.bench_power_law --repeats 3
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

from analytics import power_law as pl
from benchmarks.common import save, timed

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "powerlaw_csn"
SETS = {"words": True, "terrorism": True, "blackouts": False, "flares": False, "cities": False}


def main() -> None:
    import powerlaw

    a = argparse.ArgumentParser(description=__doc__)
    a.add_argument("--repeats", type=int, default=3)
    args = a.parse_args()
    rows = []
    for name, discrete in SETS.items():
        x = np.loadtxt(DATA / f"{name}.txt.gz")
        t_ours, f = timed(lambda x=x, d=discrete: pl.fit(x, discrete=d), args.repeats)
        t_csn, g = timed(lambda x=x, d=discrete: pl.fit(x, discrete=d, one_sided_ks=True), args.repeats)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_ref, r = timed(lambda x=x, d=discrete: powerlaw.Fit(x, discrete=d, verbose=False), args.repeats)
        rows.append({"what": name, "n": len(x), "candidates": f.n_candidates,
                     "prodnet_s": t_ours, "prodnet_xmin": f.xmin, "prodnet_alpha": f.alpha,
                     "prodnet_one_sided_s": t_csn, "prodnet_one_sided_xmin": g.xmin,
                     "powerlaw_s": t_ref, "powerlaw_xmin": float(r.xmin), "powerlaw_alpha": float(r.alpha),
                     "speedup": t_ref / t_ours})
        print(f"{name:>10}  n={len(x):>6,}  candidates={f.n_candidates:>5,}  prodnet {t_ours:6.3f} s "
              f"(x_min {f.xmin:g}, α {f.alpha:.4f})  powerlaw {t_ref:6.3f} s (x_min {r.xmin:g}, α {r.alpha:.4f})  "
              f"×{t_ref / t_ours:.1f}")
    save("power_law", rows)


if __name__ == "__main__":
    main()
