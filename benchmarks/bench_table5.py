"""Table 5's twelve LPMs (buyer × input sector (12) × source prefecture; sector × region FE, with and
without buyer FE; clustered by buyer) on the incidence frame of a data root: the absorbed-design path
(``regressions.table_5_fits``, one design per FE set), the per-fit path (``feiv`` on the frame, each fit
absorbing on its own), optionally the per-fit path of an earlier source tree (``--baseline-src``), and
pyfixest's own ``feols`` (lean) on the same specifications. Each in a fresh process: wall time, peak RSS,
and the largest relative difference of coefficients and SEs from the design path.

    python -m benchmarks.bench_table5 ROOT --work WORK [--baseline-src DIR]
    python -m benchmarks.bench_table5 --simulate 11000 --work WORK    # a frame of the same layout

The incidence frame is built once (ETL, store and study in WORK) and kept as WORK/incidence.parquet;
``--simulate B`` writes instead a frame of B buyers × 12 sectors × 47 prefectures with the same columns.
Writes benchmarks/results/table5.json (table5_sim.json when simulated)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from benchmarks.common import RESULTS, run_isolated, save

FRAME = """
from pathlib import Path
from analytics.run import _store
from analytics.regressions import incidence_frame
from analytics import study
from etl.pipeline import Cache, run_etl
work = Path({work!r})
run_etl(Path({root!r}), work, need_vintages=[2005, 2010], need_surveys=[2005, 2010])
cache = Cache(work)
s, _ = _store("embedded", work, cache, [2005, 2010], lambda m: None)
d = incidence_frame(study.build(cache, s))
d.to_parquet(work / "incidence.parquet")
RESULT = {{"rows": len(d), "buyers": int(d.buyer.nunique())}}
"""

SIMULATE = """
import numpy as np, pandas as pd
rng = np.random.default_rng(0)
nb = {buyers}
b = np.repeat(np.arange(nb), 564)
s = np.tile(np.repeat(np.arange(1, 13), 47), nb)
r = np.tile(np.arange(1, 48), nb * 12)
lnd = np.log1p(rng.uniform(0, 1500, len(b)))
d = pd.DataFrame({{"y": (rng.random(len(b)) < 0.02 + 0.03 * (lnd < 5)).astype(float), "buyer": b,
                   "sector_r": s * 100 + r}})
for th in ("theta_cp", "theta_firm"):
    t = rng.uniform(2, 20, 13)[s]
    d[f"lnd_{{th}}"] = lnd * t
    d[f"lnd_{{th}}_rho"] = lnd * t * rng.uniform(1, 2, 13)[s]
    d[f"lnd_{{th}}_air"] = lnd * t * rng.uniform(0, 1, 13)[s]
d.to_parquet({frame!r})
RESULT = {{"rows": len(d), "buyers": nb}}
"""

LOAD = """
import time, json
import numpy as np, pandas as pd
import pyfixest.estimation  # imported before the clock starts, as in a run
d = pd.read_parquet({frame!r})
specs = json.loads({specs!r})
t = time.perf_counter()
"""

DONE = """
seconds = time.perf_counter() - t
RESULT = {"seconds": seconds, "rows": len(d), "coef": {k: [*map(float, c)] for k, c in coef.items()},
          "se": {k: [*map(float, s)] for k, s in se.items()}}
"""

CODE = {
    "absorbed designs (table_5_fits)": """
from analytics.regressions import table_5_fits
fits = table_5_fits(d)
coef = {k: f.coef for k, f in fits.items()}; se = {k: f.se for k, f in fits.items()}
""",
    "per-fit feiv": """
from analytics.econometrics.iv import feiv
coef, se = {}, {}
for label, rhs, fe in specs:
    f = feiv(f"y ~ {' + '.join(rhs)} | {' + '.join(fe)}", d, vcov={"cluster": "buyer"})
    coef[label], se[label] = f.coef, f.se
""",
    "pyfixest feols (lean)": """
import pyfixest as pf
coef, se = {}, {}
for label, rhs, fe in specs:
    m = pf.feols(f"y ~ {' + '.join(rhs)} | {' + '.join(fe)}", d, vcov={"CRV1": "buyer"}, fixef_tol=1e-8,
                 lean=True, store_data=False, fixef_rm="singleton")
    coef[label], se[label] = m.coef(), m.se()
""",
}


def _max_rel(a: dict, b: dict) -> float:
    import numpy as np

    return max(float(np.max(np.abs(np.subtract(a[k], b[k])) / np.maximum(np.abs(a[k]), 1e-300))) for k in a)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", type=Path, nargs="?")
    ap.add_argument("--simulate", type=int, metavar="BUYERS", help="a simulated frame of this many buyers")
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--baseline-src", type=Path, help="an earlier source tree whose per-fit path to time too")
    ap.add_argument("--only", help="run only the paths whose name starts with this; replace their rows")
    ap.add_argument("--repeats", type=int, default=1, help="fresh processes per path; the median run is kept")
    a = ap.parse_args()
    frame = a.work / (f"incidence_sim{a.simulate}.parquet" if a.simulate else "incidence.parquet")
    rows = []
    if not frame.exists():
        a.work.mkdir(parents=True, exist_ok=True)
        code = (SIMULATE.format(buyers=a.simulate, frame=str(frame)) if a.simulate
                else FRAME.format(root=str(a.root), work=str(a.work)))
        r = run_isolated(code)
        rows.append({"what": "incidence frame: " + ("simulated" if a.simulate else "ETL, store, study"), **r})
        print(rows[-1], flush=True)
    runs = [(name, code, None) for name, code in CODE.items()]
    if a.baseline_src:
        runs.insert(2, (f"per-fit feiv, before ({a.baseline_src.name})", CODE["per-fit feiv"],
                        {"PYTHONPATH": str(a.baseline_src)}))
    if a.only:
        runs = [r for r in runs if r[0].startswith(a.only)]
    from analytics.regressions import table_5_specs

    specs, ref = json.dumps(table_5_specs()), None
    # as `prodnet run-all` computes Table 5: the command turns numpy's huge-page advice off (see prodnet/cli.py)
    os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
    for name, code, env in runs:
        reps = sorted((run_isolated(LOAD.format(frame=str(frame), specs=specs) + code + DONE, env)
                       for _ in range(a.repeats)), key=lambda x: x["seconds"])
        r = reps[len(reps) // 2]
        coef, se = r.pop("coef"), r.pop("se")
        ref = ref or (coef, se)
        row = {"what": f"Table 5, 12 fits: {name}" + (f", median of {a.repeats}" if a.repeats > 1 else ""), **r,
               "load_avg_1min": os.getloadavg()[0]}
        if a.repeats > 1:
            row["runs_seconds"] = ", ".join(f"{x['seconds']:.1f}" for x in reps)
        if ref[0] is not coef:
            row |= {"max_rel_diff_coef": _max_rel(ref[0], coef), "max_rel_diff_se": _max_rel(ref[1], se)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    name = "table5_sim" if a.simulate else "table5"
    if a.only:  # keep the other rows of the last full run; a path's new row takes the place of its old one
        old = json.loads((RESULTS / f"{name}.json").read_text())["rows"]
        new = {r["what"].split(", median of")[0]: r for r in rows}
        rows = [new.pop(r["what"].split(", median of")[0], r) for r in old] + list(new.values())
    print(save(name, rows))


if __name__ == "__main__":
    main()
