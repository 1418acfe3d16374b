"""Coverage of the 95% intervals over many `medium` synthetic worlds: for every planted parameter the
report compares (Tables 6, 7, 8, W1), the share of seeds whose interval estimate ± 1.96 s.e. contains the
planted value and the generator's oracle, for each kind of standard error the report gives (robust,
buyer-clustered, AKM for eq. 16; buyer-clustered for Table 6; HC1 for the wage table), with the
Kleibergen–Paap F of Table 7 column 5 under each.

    python -m benchmarks.coverage_medium --seeds 1-20 [--set start_pi_shock=0.55]

Each seed's rows are appended to results/coverage_medium.json as they finish, so an interrupted run keeps
what it measured; ``--table`` prints the coverage table from that file."""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import RESULTS, machine

EXHIBITS = ["table_6", "table_7", "table_7_inference", "table_8", "table_W1"]
SE_KINDS = {"std_error": "cluster", "std_error_robust": "robust", "std_error_akm": "AKM"}
OUT = RESULTS / "coverage_medium.json"


def _seeds(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def _kp_f(out: Path) -> dict[str, float]:
    t = pd.read_csv(out / "tables" / "table_7_inference.csv")
    t = t[(t.column == "2SLS") & t.term.str.startswith("Kleibergen-Paap F")]
    return {r.term.removeprefix("Kleibergen-Paap F, "): float(r.estimate) for r in t.itertuples()}


def one_seed(seed: int, overrides: list[str]) -> list[dict]:
    from etl.synth import generate, planted_from

    tmp = Path(tempfile.mkdtemp(prefix=f"cov{seed}_"))
    try:
        t0 = time.perf_counter()
        generate(tmp / "root", scale="medium", seed=seed, planted=planted_from(overrides) if overrides else None)
        return world_rows(tmp / "root", tmp / "out", seed, t0)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def world_rows(root: Path, out: Path, seed: int, t0: float) -> list[dict]:
    """Run the report's eq. (16), Table 6 and wage exhibits on a written world; one row per planted
    parameter and kind of standard error, with Table 7's KP F under each."""
    from analytics import run_all

    s = run_all(root, out, quiet=True, only=EXHIBITS)
    kp = _kp_f(out)
    rows = []
    for r in s["planted_vs_estimated"]:
        if r.get("exhibit") not in ("table_6", "table_7", "table_8", "table_W1") or r.get("estimate") is None:
            continue
        for key, kind in SE_KINDS.items():
            if r.get(key) is None:
                continue
            se_kind = kind if r["exhibit"] in ("table_7", "table_8") else ("HC1" if r["exhibit"] == "table_W1"
                                                                           else "cluster")
            rows.append({"seed": seed, "parameter": r["parameter"], "exhibit": r["exhibit"],
                         "ols": bool(r.get("ols")), "se_kind": se_kind, "planted": r["planted"],
                         "oracle": r.get("oracle"), "estimate": r["estimate"], "std_error": r[key],
                         **{f"kp_f {k}": v for k, v in kp.items()}, "seconds": time.perf_counter() - t0})
    return rows


def coverage_table(rows: list[dict]) -> pd.DataFrame:
    d = pd.DataFrame(rows)
    d = d[~d.ols]
    half = 1.96 * d.std_error
    d["covers_planted"] = (d.estimate - d.planted).abs() <= half
    d["covers_oracle"] = ((d.estimate - d.oracle).abs() <= half).where(d.oracle.notna())
    g = d.groupby(["exhibit", "parameter", "se_kind"], sort=False)
    return pd.DataFrame({"seeds": g.seed.nunique(), "planted": g.planted.first(), "mean oracle": g.oracle.mean(),
                         "mean estimate": g.estimate.mean(), "sd of estimates": g.estimate.std(),
                         "mean s.e.": g.std_error.mean(), "covers planted": g.covers_planted.mean(),
                         "covers oracle": g.covers_oracle.mean()}).reset_index()


def markdown(rows: list[dict]) -> str:
    c = coverage_table(rows)
    lines = ["| exhibit | parameter | s.e. | seeds | planted | mean oracle | mean estimate | sd of estimates | "
             "mean s.e. | covers planted | covers oracle |", "|" + "---|" * 11]
    for r in c.itertuples(index=False):
        cells = [r.exhibit, r.parameter, r.se_kind, r.seeds, *(f"{v:.4g}" for v in r[4:9]),
                 f"{r[9]:.0%}", "" if np.isnan(r[10]) else f"{r[10]:.0%}"]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    kp = pd.DataFrame(rows).groupby("seed").first().filter(like="kp_f")
    lines += ["", "Kleibergen-Paap F of Table 7 column 5 over the seeds (median [min, max]): "
              + "; ".join(f"{c.removeprefix('kp_f ')} {kp[c].median():,.1f} [{kp[c].min():,.1f}, {kp[c].max():,.1f}]"
                          for c in kp.columns)]
    return "\n".join(lines)


HEADER = """## Coverage of the 95% intervals over {n} `medium` worlds (seeds {seeds}) — `coverage_medium`

Each world is generated with its seed and the default planted values{overrides}, then run through the
report's exhibits; a row is one planted parameter under one kind of standard error. "covers planted": share
of worlds whose interval estimate ± 1.96 s.e. contains the planted value; "covers oracle": the same for the
generator's oracle (the same regression on the world's realised draws with the unobserved buyer shock or
the true productivity known), which removes the world's own sampling noise. Nominal coverage is 95%; with
{n} worlds one miss moves a share by {step:.0%}. Eq. (16) (Tables 7 and 8, 2SLS with its interaction):
robust, buyer-clustered and AKM (shocks clustered by 3-digit industry) errors of the same estimate; Table 6:
buyer-clustered; Table W1: HC1. Produced by `python -m benchmarks.coverage_medium`.
"""


def write_markdown(saved: dict) -> Path:
    rows = saved["rows"]
    seeds = sorted({r["seed"] for r in rows})
    over = saved.get("overrides") or []
    text = HEADER.format(n=len(seeds), seeds=f"{seeds[0]}–{seeds[-1]}", step=1 / len(seeds),
                         overrides=f" except {', '.join(over)}" if over else "")
    path = RESULTS / "coverage_medium.md"
    path.write_text(text + "\n" + markdown(rows) + "\n")
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="1-20")
    ap.add_argument("--set", action="append", default=[], dest="overrides")
    ap.add_argument("--table", action="store_true", help="only print the table from the saved rows")
    a = ap.parse_args()
    saved = json.loads(OUT.read_text()) if OUT.exists() else {"machine": machine(), "rows": []}
    if not a.table:
        done = {r["seed"] for r in saved["rows"]}
        for seed in _seeds(a.seeds):
            if seed in done:
                continue
            saved["rows"] += one_seed(seed, a.overrides)
            saved["overrides"] = a.overrides
            RESULTS.mkdir(exist_ok=True)
            OUT.write_text(json.dumps(saved, indent=1))
            print(f"seed {seed} done", flush=True)
    print(markdown(saved["rows"]))
    if saved["rows"]:
        print(write_markdown(saved))


if __name__ == "__main__":
    main()
