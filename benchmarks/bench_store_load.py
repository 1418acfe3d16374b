"""The embedded store built alone: `prodnet load ROOT --rebuild` (the ETL cache is current, so the command
is the cache check plus the build), repeated in fresh processes; wall time, the build's own seconds and
peak RSS, median of the repeats.

    python -m benchmarks.bench_store_load /tmp/full_root [--repeats 3]

Writes benchmarks/results/store_load_full.json."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from benchmarks.bench_pipeline import measured
from benchmarks.common import save


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", type=Path)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    prodnet = [sys.executable, "-c", "from prodnet.cli import main; main()"]
    runs = []
    for _ in range(a.repeats):
        secs, rss, out, _ = measured([*prodnet, "load", str(a.root), "--rebuild"])
        build = re.search(r"'build_seconds':\s*([\d.]+)", out)
        runs.append((secs, rss, float(build.group(1)) if build else float("nan")))
    med = sorted(runs)[len(runs) // 2]
    row = {"what": f"prodnet load --rebuild, both vintages, median of {a.repeats}", "seconds": med[0],
           "build_seconds": med[2], "peak_rss_gib": med[1], "runs_seconds": ", ".join(f"{r[0]:.1f}" for r in runs)}
    print(json.dumps(row))
    print(save("store_load_full", [row]))


if __name__ == "__main__":
    main()
