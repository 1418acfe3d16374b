"""The ETL and the add/drop counts against their DuckDB floors, measured side by side in one run:

- the ETL (``run_etl`` on a clean work folder, fresh process, per step) and the columnar floor doing the
  same checks, rejections, two-way matching, parent–child flags, distances and survey match in DuckDB
  (``benchmarks.floor_sql``, fresh process, same thread count), alternated ``--repeats`` times, medians;
- the all-buyer add/drop counts through the embedded store (the ``add_drop_counts`` query) and in DuckDB on
  the Parquet cache, both checked equal to each other, medians of ``--repeats`` warm runs.

``--baseline-code DIR`` also measures the ETL (once) and the query of another checkout (e.g. the
previous commit, ``git archive``) in the same run. The machine's load average is recorded with every row.

    python -m benchmarks.bench_floor ROOT [--repeats 3] [--threads 2] [--baseline-code DIR] [--store DB]"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import save, timed

REPO = Path(__file__).resolve().parent.parent

_ETL = """
import json, resource, sys, time
from pathlib import Path
from etl.pipeline import run_etl
t0 = time.perf_counter(); steps = {}; last = [t0, None]
def step(m):
    now = time.perf_counter()
    if last[1]:
        steps[last[1]] = now - last[0]
    last[0], last[1] = now, m
run_etl(Path(sys.argv[1]), Path(sys.argv[2]), progress=step)
step(None)
print(json.dumps({"total": time.perf_counter() - t0, "steps": steps,
                  "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""

_FLOOR = """
import json, resource, sys
from pathlib import Path
from benchmarks.floor_sql import floor_etl
r = floor_etl(Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4]))
print(json.dumps(r | {"peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""

ADD_DROP_SQL = """
WITH a AS (SELECT DISTINCT seller_id, buyer_id FROM read_parquet('{a}')),
     b AS (SELECT DISTINCT seller_id, buyer_id FROM read_parquet('{b}')),
     m AS (SELECT coalesce(a.buyer_id, b.buyer_id) AS buyer_id, a.seller_id IS NOT NULL AS in_from,
                  b.seller_id IS NOT NULL AS in_to
           FROM a FULL OUTER JOIN b ON a.seller_id = b.seller_id AND a.buyer_id = b.buyer_id)
SELECT buyer_id, count(*) FILTER (in_from) AS sellers_from, count(*) FILTER (in_to) AS sellers_to,
       count(*) FILTER (in_to AND NOT in_from) AS added, count(*) FILTER (in_from AND NOT in_to) AS dropped,
       count(*) FILTER (in_from AND in_to) AS continuing
FROM m GROUP BY buyer_id ORDER BY buyer_id
"""


def load_average() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def _python(code: str, args: list[str], cwd: Path) -> dict:
    """Run ``code`` in a fresh interpreter with ``cwd`` first on the path; its last stdout line is JSON."""
    env = os.environ | {"PYTHONPATH": str(cwd)}
    p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, env=env)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-3000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def etl_vs_floor(root: Path, scratch: Path, years: list[int], repeats: int, threads: int,
                 baseline: Path | None) -> tuple[list[dict], Path]:
    """Alternating runs of the ETL (clean work folder), the floor and, if given, the baseline ETL."""
    runs: dict[str, list[dict]] = {"etl": [], "floor": [], "baseline": []}
    loads = []
    for _ in range(repeats):
        loads.append(load_average())
        shutil.rmtree(scratch / "work", ignore_errors=True)
        runs["etl"].append(_python(_ETL, [str(root), str(scratch / "work")], REPO))
        shutil.rmtree(scratch / "floor", ignore_errors=True)
        runs["floor"].append(_python(_FLOOR, [str(root), str(scratch / "floor"), json.dumps(years), str(threads)],
                                     REPO))
        if baseline and not runs["baseline"]:  # once: it is the slow one
            shutil.rmtree(scratch / "base", ignore_errors=True)
            runs["baseline"].append(_python(_ETL, [str(root), str(scratch / "base")], baseline))
        print(runs["etl"][-1]["total"], runs["floor"][-1]["seconds total"],
              runs["baseline"][-1]["total"] if baseline else "", flush=True)
    med = statistics.median
    rows = []
    floor_total = med(r["seconds total"] for r in runs["floor"])
    for kind, label in (("etl", "prodnet ETL"), ("baseline", "prodnet ETL, baseline code")):
        if not runs[kind]:
            continue
        tot = [r["total"] for r in runs[kind]]
        rows.append({"what": f"{label}: both vintages + survey, clean work folder, median of {len(tot)}",
                     "seconds": med(tot), "runs_seconds": ", ".join(f"{t:.1f}" for t in tot),
                     "peak_rss_gib": max(r["peak_rss_gib"] for r in runs[kind]), "ratio_vs_floor": med(tot) / floor_total})
        rows += [{"what": f"{label} step: {s}", "seconds": med(r["steps"][s] for r in runs[kind])}
                 for s in runs[kind][0]["steps"]]
    f = runs["floor"]
    rows.append({"what": f"DuckDB floor ({threads} threads): same checks, rejections, two-way matching, parent-child "
                 f"flags, distances, survey match; no geocoding; median of {repeats}", "seconds": floor_total,
                 "runs_seconds": ", ".join(f"{r['seconds total']:.1f}" for r in f),
                 "peak_rss_gib": max(r["peak_rss_gib"] for r in f)})
    rows += [{"what": f"DuckDB floor step: {k.removeprefix('seconds ')}", "seconds": med(r[k] for r in f)}
             for k in f[0] if k.startswith("seconds ") and k != "seconds total"]
    _same_counts(scratch / "work", f[-1], years)
    for r in rows:
        r["load_average_1_5_15"] = "; ".join(loads)
    return rows, scratch / "work"


def _same_counts(work: Path, floor: dict, years: list[int]) -> None:
    """The floor did the same work: same firms, links, parent–child links and matched survey firms."""
    rep = json.loads((work / "cache" / "load_report.json").read_text())
    for y in years:
        notes = rep[f"tsr/{y}"]["linkage"]["notes"]
        got = (rep[f"tsr/{y}"]["company"]["rows_loaded"], notes["links"], notes["parent_child_links"])
        exp = (floor[f"firms {y}"]["firms"], floor[f"links {y}"]["links"], floor[f"links {y}"]["parent_child"])
        if got != exp:
            raise AssertionError(f"vintage {y}: ETL (firms, links, parent-child) {got} ≠ floor {exp}")
    if rep["bsjbsa"]["match"].get("matched", 0) != floor["survey"]["matched"]:
        raise AssertionError(f"matched survey firms: ETL {rep['bsjbsa']['match']} ≠ floor {floor['survey']}")


def add_drop(work: Path, repeats: int, threads: int, baseline: Path | None, store_path: Path | None = None
             ) -> list[dict]:
    """The add_drop_counts query on the embedded store built from ``work``'s cache (or an existing store of
    the same root, ``store_path``) vs DuckDB on the cache."""
    import duckdb

    from etl.pipeline import Cache
    from graph import open_store

    cache = Cache(work)
    years = (2005, 2010)
    store = open_store("embedded", store_path or work / "graph.lbdb")
    if store_path is None:
        store.load(cache, list(years))
    params = {"year_from": years[0], "year_to": years[1]}
    store.query("add_drop_counts", **params)  # warm
    load = load_average()
    t_store, got = timed(lambda: store.query("add_drop_counts", **params), repeats)
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    sql = ADD_DROP_SQL.format(a=cache.path("links_2005"), b=cache.path("links_2010"))
    con.execute(sql).fetchall()  # warm
    t_db, exp = timed(lambda: con.execute(sql).fetchdf(), repeats)
    cols = ["sellers_from", "sellers_to", "added", "dropped", "continuing"]
    if not (got.buyer_id.tolist() == exp.buyer_id.tolist()
            and (got[cols].to_numpy(dtype="int64") == exp[cols].to_numpy(dtype="int64")).all()):
        raise AssertionError("add_drop_counts: the store and DuckDB disagree")
    rows = [{"what": f"add/drop counts, all buyers: add_drop_counts query on the embedded store, median of {repeats}",
             "seconds": t_store, "rows": len(got), "ratio_vs_floor": t_store / t_db},
            {"what": f"add/drop counts, all buyers: DuckDB on the Parquet cache ({threads} threads), median of "
             f"{repeats}", "seconds": t_db, "rows": len(exp)}]
    if baseline:
        old = (baseline / "queries" / "add_drop_counts.cypher").read_text()
        t_old, old_df = timed(lambda: store.run(old, params), repeats)
        same = (old_df[cols].to_numpy(dtype="int64") == got[cols].to_numpy(dtype="int64")).all()
        rows.insert(1, {"what": "add/drop counts: baseline query text on the same store", "seconds": t_old,
                        "rows": len(old_df), "ratio_vs_floor": t_old / t_db, "same_result": bool(same)})
    store.close()
    for r in rows:
        r["load_average_1_5_15"] = load
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", type=Path)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--baseline-code", type=Path)
    ap.add_argument("--name", default="floor_full")
    ap.add_argument("--store", type=Path, help="an embedded store already loaded from this root (not rebuilt)")
    a = ap.parse_args()
    years = sorted(int(p.name) for p in (a.root / "tsr").iterdir() if p.name.isdigit())
    with tempfile.TemporaryDirectory(prefix="bench_floor-", dir=a.root.parent) as tmp:
        rows, work = etl_vs_floor(a.root.resolve(), Path(tmp), years, a.repeats, a.threads, a.baseline_code)
        rows += add_drop(work, a.repeats, a.threads, a.baseline_code, a.store)
    for r in rows:
        print(r, flush=True)
    print(save(a.name, rows))


if __name__ == "__main__":
    main()
