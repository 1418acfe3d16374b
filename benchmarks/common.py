"""Shared helpers for the benchmark scripts: timing (median of repeats), peak RSS of a child process,
machine description, and the RESULTS.md writer."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("results")


def machine() -> str:
    import psutil

    cpu = platform.processor() or platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        model = cpu
    return (f"{model}, {psutil.cpu_count(logical=True)} logical cores, "
            f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def timed(fn, repeats: int = 3) -> tuple[float, object]:
    """Median wall time of ``repeats`` calls and the last result."""
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def run_isolated(code: str, env: dict | None = None) -> dict:
    """Run Python ``code`` in a fresh process (so peak RSS is its own); it must print one JSON line."""
    p = subprocess.run([sys.executable, "-c", f"import resource,json\n{code}\n"
                        "print(json.dumps({'peak_rss_gib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/2**20, **RESULT}))"],
                       capture_output=True, text=True, env=os.environ | (env or {}), cwd=Path(__file__).parent.parent)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-3000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def save(name: str, rows: list[dict]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))
    return path
