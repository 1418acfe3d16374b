"""Full-scale pipeline: `prodnet synth --scale full`, then `prodnet run-all` on a clean work folder
(repeated; median reported), then an unchanged re-run. Each command runs in a fresh process; peak RSS
is that process tree's maximum resident set. Per-step times come from the synth progress lines and
run-all's summary.json.

    python -m benchmarks.bench_pipeline /tmp/full_root /tmp/full_out [--repeats 3] [--seed 1] [--synth-only]

``--synth-only`` re-measures the generator (median of ``--repeats``) and replaces its rows in
results/pipeline_full.json;
``--keep-root`` measures run-all on the root already written and keeps the generator's rows;
``--scales`` also writes ``small`` and ``medium`` roots (same seed) next to ROOT, measures a clean run-all
on each (median of ``--repeats``) and adds the scale table: time and peak RSS against links at the three
scales, with the growth exponents d log(time) / d log(links) between consecutive scales (the full row is
this run's); ``--scales-only`` measures only that table, taking the full row from the last measurement;
``--all`` is ``--scales`` and then, in the same invocation on the same root, the DuckDB floors
(``bench_floor``, the store run-all loaded) and Table 5 against pyfixest (``bench_table5``).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import RESULTS, save

_WRAP = ("import resource, subprocess, sys, time\n"
         "t = time.perf_counter(); r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
         "sys.stdout.write(r.stdout); sys.stderr.write(r.stderr)\n"
         "print(f'@@ {time.perf_counter() - t} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20}')\n"
         "sys.exit(r.returncode)")


def measured(args: list[str]) -> tuple[float, float, str, float]:
    """Wall seconds, peak RSS (GiB) of the largest process, output, and the peak of the summed proportional
    set size of the whole process tree (GiB; sampled every 0.5 s: exhibits run in parallel children, the
    store loads in its own process) of one command in a fresh process."""
    import tempfile

    import psutil

    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        p = subprocess.Popen([sys.executable, "-c", _WRAP, *args], stdout=fo, stderr=fe, text=True)
        top, peak = psutil.Process(p.pid), 0
        while p.poll() is None:
            try:
                procs = [top, *top.children(recursive=True)]
                # PSS: shared pages (the study the forked exhibits inherit) split among their users, so
                # the sum is the tree's real footprint
                peak = max(peak, sum(q.memory_full_info().pss for q in procs if q.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.5)
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{err[-3000:]}")
    secs, rss = map(float, re.findall(r"^@@ (\S+) (\S+)$", out, re.M)[-1])
    return secs, rss, out + err, peak / 2**30  # progress lines go to stderr


def synth_steps(output: str) -> list[dict]:
    """Rows from the synth progress lines ``  step: 12.3 s (peak RSS 1.2 GiB)``."""
    return [{"what": f"synth step: {m[0]}", "seconds": float(m[1]), "peak_rss_gib": float(m[2])}
            for m in re.findall(r"^\s+(.+?): ([\d.]+) s \(peak RSS ([\d.]+) GiB\)$", output, re.M)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--synth-only", action="store_true")
    ap.add_argument("--keep-root", action="store_true",
                    help="run-all on the existing root; keep the synth rows of the last measurement")
    ap.add_argument("--scales", action="store_true", help="also the small/medium/full scale table")
    ap.add_argument("--scales-only", action="store_true", help="only the scale table (full row: last measurement)")
    ap.add_argument("--all", action="store_true", help="--scales, then the floors and Table 5 on the same root")
    a = ap.parse_args()
    a.scales = a.scales or a.all
    prodnet = [sys.executable, "-c", "from prodnet.cli import main; main()"]
    if a.scales_only:
        old = [r for r in json.loads((RESULTS / "pipeline_full.json").read_text())["rows"] if "scale" not in r["what"]]
        full = next(r for r in old if r["what"].startswith("prodnet run-all (ETL"))
        print(save("pipeline_full", old + scale_rows(prodnet, a.root, a.seed, a.repeats, full)))
        return
    if a.keep_root:
        rows = [r for r in json.loads((RESULTS / "pipeline_full.json").read_text())["rows"] if "synth" in r["what"]]
    else:
        runs = []
        for _ in range(a.repeats if a.synth_only else 1):
            shutil.rmtree(a.root, ignore_errors=True)
            runs.append((*measured([*prodnet, "synth", str(a.root), "--scale", "full", "--seed", str(a.seed)]),
                         load_average()))
        secs, rss, out, _, _ = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
        rows = [{"what": f"prodnet synth --scale full (3,586,090 + 4,463,168 links), median of {len(runs)}",
                 "seconds": secs, "peak_rss_gib": rss, "runs_seconds": ", ".join(f"{r[0]:.1f}" for r in runs),
                 "load_average_1_5_15": "; ".join(r[4] for r in runs)}, *synth_steps(out)]
    if a.synth_only:
        old = json.loads((RESULTS / "pipeline_full.json").read_text())["rows"]
        print(save("pipeline_full", rows + [r for r in old if "synth" not in r["what"]]))
        return
    runs = []
    for _ in range(a.repeats):
        shutil.rmtree(a.root / ".prodnet", ignore_errors=True)
        shutil.rmtree(a.out, ignore_errors=True)
        secs, rss, _, tree = measured([*prodnet, "run-all", str(a.root), str(a.out)])
        runs.append((secs, rss, json.loads((a.out / "summary.json").read_text()), tree, load_average()))
        time.sleep(5)
    med = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
    rows.append(runall := {"what": f"prodnet run-all (ETL + graph load + every table and figure), median of {a.repeats} "
                 "clean runs", "seconds": statistics.median(r[0] for r in runs), "peak_rss_gib": med[1],
                 "peak_pss_tree_gib": med[3], "runs_seconds": ", ".join(f"{r[0]:.0f}" for r in runs),
                 "runs_peak_rss_gib": ", ".join(f"{r[1]:.2f}" for r in runs),
                 "runs_peak_pss_tree_gib": ", ".join(f"{r[3]:.2f}" for r in runs),
                 "load_average_1_5_15": "; ".join(r[4] for r in runs)})
    secs, rss, _, tree = measured([*prodnet, "run-all", str(a.root), str(a.out)])
    rows.append({"what": "prodnet run-all again, inputs unchanged (clean tables, graph and exhibits reused)",
                 "seconds": secs, "peak_rss_gib": rss, "peak_pss_tree_gib": tree})
    rows += [{"what": f"run-all step: {k}", "seconds": round(v, 1)}
             for k, v in med[2]["timings_seconds"].items() if k != "total"]
    rows.append({"what": "run-all step: graph store load (own process, beside the exhibits)",
                 "seconds": round(med[2]["graph_store"]["load_seconds"], 1)})
    rows += [{"what": f"disk: {what}", "size": f"{_du(p) / 1e6:,.0f} MB"}
             for what, p in (("embedded graph store (both vintages)", a.root / ".prodnet" / "graph.lbdb"),
                             ("Parquet cache (both vintages, survey, industry)", a.root / ".prodnet" / "cache"))]
    if a.scales:
        rows += scale_rows(prodnet, a.root, a.seed, a.repeats, runall)
    print(save("pipeline_full", rows))
    if a.all:
        for args in (["bench_floor", str(a.root), "--repeats", str(a.repeats), "--store",
                      str(a.root / ".prodnet" / "graph.lbdb")],
                     ["bench_table5", str(a.root), "--work", str(a.root.parent / f"{a.root.name}-table5")]):
            subprocess.run([sys.executable, "-m", f"benchmarks.{args[0]}", *args[1:]], check=True)


def scale_rows(prodnet: list[str], root: Path, seed: int, repeats: int, full: dict) -> list[dict]:
    """Clean run-all at the ``small`` and ``medium`` scales (roots written next to ``root``), the ``full`` row
    given, and the growth exponents between consecutive scales: log(t2/t1) / log(links2/links1) for the time
    and the peak RSS of the largest process."""
    from etl.synth import SCALES

    measured_at = {}
    for name in ("small", "medium"):
        r = root.parent / f"{root.name}-{name}"
        shutil.rmtree(r, ignore_errors=True)
        subprocess.run([*prodnet, "synth", str(r), "--scale", name, "--seed", str(seed)], check=True,
                       capture_output=True)
        runs = []
        for _ in range(repeats):
            shutil.rmtree(r / ".prodnet", ignore_errors=True)
            runs.append(measured([*prodnet, "run-all", str(r), str(r.parent / f"{r.name}-out")])[:2])
        secs, rss = sorted(runs)[len(runs) // 2]
        measured_at[name] = (secs, rss, ", ".join(f"{x[0]:.1f}" for x in runs))
    measured_at["full"] = (full["seconds"], full["peak_rss_gib"], full.get("runs_seconds", ""))
    out, prev = [], None
    for name in ("small", "medium", "full"):
        links = SCALES[name].links_2005 + SCALES[name].links_2010
        secs, rss, runs = measured_at[name]
        row = {"what": f"scale: run-all clean at {name} ({links:,} links), median of {repeats}", "links": links,
               "seconds": secs, "peak_rss_gib": rss, "runs_seconds": runs}
        if prev:
            dl = math.log(links / prev[0])
            row["time_exponent_vs_previous"] = round(math.log(secs / prev[1]) / dl, 3)
            row["rss_exponent_vs_previous"] = round(math.log(rss / prev[2]) / dl, 3)
        out.append(row)
        prev = (links, secs, rss)
    return out


def load_average() -> str:
    import os

    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def _du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


if __name__ == "__main__":
    main()
