"""Eq. (16) inference on written `full` worlds: Table 7's Kleibergen–Paap F (robust, buyer-clustered,
AKM) and, for each planted drop/add effect, the 2SLS estimate and its 95% intervals under each kind of
standard error, against the planted value and the generator's oracle.

    python -m benchmarks.full_inference ROOT0 ROOT1 ...   (roots written by `prodnet synth --scale full`)

Rows are saved to results/full_inference.json and the table to results/full_inference.md (a section of
RESULTS.md)."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmarks.common import RESULTS, machine
from benchmarks.coverage_medium import world_rows

OUT = RESULTS / "full_inference.json"
HEADER = """## Eq. (16) inference on the `full` default worlds — `full_inference`

Each world written by `prodnet synth --scale full --seed N` with the default planted values, then run
through Tables 6–8 and W1 (`python -m benchmarks.full_inference ROOT…`). Intervals are estimate ± 1.96 s.e.
under robust, buyer-clustered and AKM (shocks clustered by 3-digit industry) errors of the same 2SLS
estimate; "covers" compares them with the planted value; the oracle is the same regression on the world's
realised draws with the unobserved buyer shock known.
"""


def _interval(estimate: float, se: float | None, planted: float) -> str:
    if se is None:
        return ""
    lo, hi = estimate - 1.96 * se, estimate + 1.96 * se
    return f"[{lo:.3f}, {hi:.3f}] {'covers' if lo <= planted <= hi else 'misses'}"


def markdown(rows: list[dict]) -> str:
    d = pd.DataFrame(rows)
    d = d[d.exhibit.isin(["table_7", "table_8"]) & ~d.ols]
    lines = []
    for seed, g in d.groupby("seed"):
        k = g.iloc[0]
        kp = [c for c in g.columns if c.startswith("kp_f ")]
        lines.append(f"- seed {seed}: Kleibergen–Paap F of Table 7 column 5: "
                     + "; ".join(f"{c.removeprefix('kp_f ')} {k[c]:,.1f}" for c in kp))
    lines += ["", "| seed | parameter | planted | oracle | 2SLS | robust 95% | buyer-clustered 95% | AKM 95% |",
              "|" + "---|" * 8]
    for (seed, par), g in d.groupby(["seed", "parameter"], sort=False):
        by = g.set_index("se_kind")
        r = by.iloc[0]
        cis = [_interval(r.estimate, by.std_error.get(kind), r.planted) for kind in ("robust", "cluster", "AKM")]
        lines.append(f"| {seed} | {par} | {r.planted:g} | {r.oracle:.4g} | {r.estimate:.4g} | " + " | ".join(cis) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("roots", type=Path, nargs="+")
    a = ap.parse_args()
    rows = []
    for root in a.roots:
        seed = json.loads((root / "truth.json").read_text())["seed"]
        with tempfile.TemporaryDirectory() as out:
            rows += world_rows(root, Path(out), seed, time.perf_counter())
        print(f"seed {seed} done", flush=True)
    OUT.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))
    text = HEADER + "\n" + markdown(rows) + "\n"
    (RESULTS / "full_inference.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
