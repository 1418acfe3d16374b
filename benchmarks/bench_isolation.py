"""What running each exhibit in a forked child costs: every exhibit of run-all timed in a child and
in-process (median of repeats) on one data root. Writes benchmarks/results/isolation.json.

    python -m benchmarks.bench_isolation /path/to/small_root --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from analytics import descriptives, figures, regressions, study
from analytics.isolation import exhibit_name, fork_is_safe, run_exhibit
from analytics.run import _store
from benchmarks.common import save
from etl.pipeline import Cache, default_work_dir, run_etl


def main() -> None:
    a = argparse.ArgumentParser(description=__doc__)
    a.add_argument("root", type=Path)
    a.add_argument("--repeats", type=int, default=3)
    a.add_argument("--out", type=Path, default=Path("/tmp/bench_isolation_figures"))
    args = a.parse_args()
    work = default_work_dir(args.root)
    fork_is_safe()  # loads the compiled estimators once, as run_all does
    run_etl(args.root, work, progress=None)
    cache = Cache(work)
    s, _ = _store("embedded", work, cache, [2005, 2010], lambda *_: None)
    data = study.build(cache, s, 2005, 2010)
    args.out.mkdir(parents=True, exist_ok=True)
    fns = [(f, (data,)) for f in descriptives.all_descriptives() + regressions.all_regressions()]
    fns += [(f, (data, args.out)) for f in figures.all_figures()]
    # every forked run first: once the parent itself has run the estimators, their thread pool makes forking
    # unsafe (analytics.isolation), which is why run_all never runs an exhibit in the parent when isolating
    t: dict[str, dict[bool, list[float]]] = {exhibit_name(fn): {True: [], False: []} for fn, _ in fns}
    for iso in (True, False):
        for _ in range(args.repeats):
            for fn, fargs in fns:
                t[exhibit_name(fn)][iso].append(run_exhibit(fn, *fargs, isolate=iso, timeout=600).seconds)
    rows = [{"what": k, "in_process_s": statistics.median(v[False]), "forked_child_s": statistics.median(v[True])}
            for k, v in t.items()]
    tot_in, tot_fork = sum(r["in_process_s"] for r in rows), sum(r["forked_child_s"] for r in rows)
    rows.append({"what": "total", "in_process_s": tot_in, "forked_child_s": tot_fork})
    for r in rows:
        print(f"{r['what']:>12}  in-process {r['in_process_s']:7.3f} s   forked child {r['forked_child_s']:7.3f} s")
    print(f"overhead {tot_fork - tot_in:+.2f} s over {len(rows) - 1} exhibits "
          f"({(tot_fork - tot_in) / (len(rows) - 1) * 1000:+.0f} ms each)")
    save("isolation", rows)


if __name__ == "__main__":
    main()
