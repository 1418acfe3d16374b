"""Collect benchmarks/results/*.json (and a run-all summary.json, if given) into benchmarks/RESULTS.md."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmarks.common import RESULTS, machine

TITLES = {
    "pipeline": "Full-scale pipeline (synthetic `full` root: 850k firms, 3,586,090 + 4,463,168 links)",
    "graph": "Query library and features on the embedded store",
    "bolt": "Embedded store vs the local Bolt server (ArcadeDB, Neo4j-compatible; not Neo4j)",
    "fe2sls": "FE-2SLS (2 endogenous, 2 instruments, 4 FE sets) vs linearmodels IV2SLS with dummy FE",
    "lpm": "Table 5's 7.7M-row linear probability model",
    "power": "Power-law x_min search on the CSN data sets vs the powerlaw package",
    "isolation": "Each exhibit in a forked child vs in-process (small synthetic root, seed 1)",
    "floor": "ETL and add/drop counts against their DuckDB floors, measured side by side",
    "table5": "Table 5's twelve LPMs at full scale: absorbed designs vs per-fit vs pyfixest",
}


CUSTOM = {"coverage_medium", "full_inference"}  # results whose section is a markdown file of the same name (written by its script)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 1000 else f"{v:,.0f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def table(rows: list[dict]) -> str:
    keys = ["what"] + sorted({k for r in rows for k in r} - {"what"}, key=lambda k: (k != "seconds", k))
    out = ["| " + " | ".join(keys) + " |", "|" + "|".join("---" for _ in keys) + "|"]
    out += ["| " + " | ".join(_fmt(r.get(k, "")) for k in keys) + " |" for r in rows]
    return "\n".join(out)


def _row(name: str, prefix: str) -> dict | None:
    f = RESULTS / f"{name}.json"
    if not f.exists():
        return None
    return next((r for r in json.loads(f.read_text())["rows"] if r["what"].startswith(prefix)), None)


def _fmt_run(r: dict | None) -> str:
    if r is None:
        return "not measured"
    m = f"{r['seconds']:.1f} s"
    if r.get("peak_rss_gib"):
        m += f", peak RSS {r['peak_rss_gib']:.2f} GiB (largest process)"
    if r.get("peak_pss_tree_gib"):
        m += f", {r['peak_pss_tree_gib']:.2f} GiB (whole process tree, PSS)"
    return m


def _fmt_load(load: dict | None) -> str:
    """The store load in run-all (beside the exhibits) and alone (``bench_store_load``)."""
    if load is None:
        return "not measured"
    wait = _row("pipeline_full", "run-all step: graph store: waiting")
    alone = _row("store_load_full", "prodnet load --rebuild")
    m = (f"{load['seconds']:.1f} s in its own process while two exhibits share the 2 cores (the run waited "
         f"{wait['seconds'] if wait else 0:.1f} s for it after the exhibits)")
    if alone:
        m += (f"; alone, `prodnet load --rebuild` built it in {alone['build_seconds']:.1f} s "
              f"({alone['seconds']:.1f} s with the cache check, peak RSS {alone['peak_rss_gib']:.2f} GiB)")
    return m


def _targets() -> list[str]:
    """The performance targets on 2 cores / 24 GB against the measured full-scale figures."""
    run = _row("pipeline_full", "prodnet run-all (ETL")
    rerun = _row("pipeline_full", "prodnet run-all again")
    load = _row("pipeline_full", "run-all step: graph store load")
    lines = [
        ("`run-all` clean (ETL + store + every exhibit) ≤ 150 s; peak RSS ≤ 4 GiB", _fmt_run(run)),
        ("unchanged rerun ≤ 10 s", _fmt_run(rerun)),
        ("Table 5 (12 fits) ≤ 15 s", _fmt_run(_row("table5", "Table 5, 12 fits: absorbed designs"))),
        ("`synth --scale full` ≤ 90 s (and < 5 min, peak RSS < 8 GB)", _fmt_run(_row("pipeline_full", "prodnet synth"))),
        ("embedded load of both vintages < 60 s", _fmt_load(load)),
        ("7.7M-row LPM < 60 s", _fmt_run(_row("lpm", "7.77M-row LPM, 2 FE sets, clustered: pyfixest"))),
    ]
    ego = _row("graph_full", "single-firm ego")
    lines.append(("single-firm ego query < 10 ms median, warm store", f"{ego['ms']:.2f} ms" if ego else "not measured"))
    for what, r in (("ETL, both vintages + survey ≤ 1.5× the DuckDB floor of the same run",
                     _row("floor_full", "prodnet ETL: both vintages")),
                    ("add/drop counts for all buyers through the store ≤ 2× DuckDB",
                     _row("floor_full", "add/drop counts, all buyers: add_drop_counts"))):
        lines.append((what, f"{r['ratio_vs_floor']:.2f}× ({r['seconds']:.1f} s)" if r else "not measured"))
    return ["## Targets", "", "| target | measured |", "|---|---|", *(f"| {w} | {m} |" for w, m in lines), ""]


def main(extra: list[str]) -> None:
    parts = ["# Benchmarks", "", f"Machine: {machine()}.", "",
             "Times are wall-clock seconds (median of the stated repeats where repeated); peak RSS in GiB of a "
             "fresh process where given. Reproduce with the scripts in this folder (see each module's docstring).", ""]
    parts += _targets()
    for f in sorted(RESULTS.glob("*.json")):
        if f.stem in CUSTOM:
            continue
        d = json.loads(f.read_text())
        kind = f.stem.split("_")[0]
        parts += [f"## {TITLES.get(kind, f.stem)} — `{f.stem}`", "", table(d["rows"]), ""]
    for f in sorted(RESULTS.glob("*.md")):  # sections written by their scripts (or by hand) with their analysis
        parts += [f.read_text().strip(), ""]
    for p in extra:
        s = json.loads(Path(p).read_text())
        rows = [{"what": k, "seconds": v} for k, v in s["timings_seconds"].items()]
        parts += [f"## run_all step times — {p}", "", f"peak RSS {s['peak_rss_gib']:.2f} GiB; total "
                  f"{s['seconds_total']:.0f} s", "", table(rows), ""]
    (Path(__file__).parent / "RESULTS.md").write_text("\n".join(parts) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
