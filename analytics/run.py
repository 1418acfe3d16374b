"""``run_all(data_root, out_dir)``: the whole paper from a data root in the contract layout.

Steps: ETL (reused when the inputs are unchanged) → graph store (reused when it already holds the same
vintages built from the same cache) → features and samples → every table and figure → report.html,
tables/*.csv|md|tex, figures/*.png, summary.json. Each exhibit runs guarded (analytics.isolation): one that
cannot be estimated, fails or even crashes is reported with its reason and the others still run."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from analytics import descriptives, figures, offshoring, regressions, report, robustness, study
from analytics.exhibit_cache import ExhibitCache
from analytics.exhibits import Exhibit
from analytics.isolation import exhibit_name, fork_is_safe, run_exhibits
from etl.pipeline import Cache, default_work_dir, run_etl
from prodnet.progress import peak_rss_gib, steps

PAPER_ORDER = ["table_1", "table_2", "figure_1", "figure_2", "figure_3", "table_3", "figure_4", "figure_5", "table_4",
               "table_5", "table_6", "table_7", "table_7_inference", "table_8",
               "table_8_inference", "table_9", "table_9_inference", "table_A1", "table_A2", "table_A3", "table_A4",
               "table_A5", "table_A9", "figure_A1", "figure_A3", "figure_A4", "table_W1", "table_R1", "table_R2",
               "table_R3", "table_R4"]


# the exhibits that take longest at full scale, started first when several run at a time
LONG_FIRST = ["table_9_inference", "table_R3", "table_9", "table_4", "table_A5", "table_7_inference",
              "table_8_inference", "table_5", "table_7", "table_8", "table_3", "table_R1", "table_R4", "table_A4",
              "table_R2", "figure_A1"]
MAX_DEFAULT_JOBS = 4  # each child holds its own working copies (Table 5's design is ~2 GiB at full scale)


def default_jobs() -> int:
    """Exhibits computed at the same time by default: the cores this process may use, at most 4."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:
        n = os.cpu_count() or 1
    return max(1, min(n, MAX_DEFAULT_JOBS))


def _versions() -> dict:
    out = {"python": platform.python_version(), "machine": platform.platform()}
    for p in ("prodnet", "numpy", "pandas", "pyarrow", "pyfixest", "igraph", "ladybug", "neo4j", "scipy", "matplotlib"):
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            pass
    return out


def _fingerprint(cache: Cache) -> str:
    fp = "|".join(f"{k}:{v.get('fingerprint')}" for k, v in sorted(cache.manifest.items()))
    return hashlib.sha256(fp.encode()).hexdigest()[:16]


def _store(kind: str, work: Path, cache: Cache, years: list[int], st, **kw):
    """Open the store and (re)load it unless it is current for this cache and these vintages."""
    from graph import StoreError, open_store

    s = open_store(kind, path=work / "graph.lbdb", **kw)
    fresh = s.is_current(cache, years)
    if fresh:
        return s, True
    st(f"graph: loading ({fresh.reason})")
    s.load(cache, years, progress=st)
    fresh = s.is_current(cache, years)
    if not fresh:
        raise StoreError(f"the graph store is still not current after loading ({fresh.reason}); "
                         "the cache changed during the load? Run again")
    return s, False


def load_store_main() -> None:
    """Entry point of the store-loading process (``StoreLoad``): the request as JSON on standard input, the
    result (``{"error": null}`` or the error in one line) as the last line of standard output."""
    req = json.loads(sys.stdin.read())
    try:
        s, _ = _store(req["kind"], Path(req["work"]), Cache(Path(req["work"])), req["years"], lambda m: None,
                      **req["kw"])
        s.close()
        print(json.dumps({"error": None}))
    except Exception as e:  # noqa: BLE001 - the parent reports it; the exhibits do not need the store
        from graph.store import first_line

        print(json.dumps({"error": f"{type(e).__name__}: {first_line(e)}"}))


_LOADER = "from analytics.run import load_store_main; load_store_main()"


class StoreLoad:
    """The graph store brought up to date beside the exhibits: they read the clean tables (the rows the store
    is loaded from), so the load runs in a fresh interpreter (``python -c``: nothing of the caller's
    ``__main__`` is re-run, no state shared with the forked exhibit children) while they are computed; the
    request, with any connection settings, goes through its standard input, not its command line.
    ``wait()`` returns None or the load's error; a server that cannot be reached is an error at once."""

    def __init__(self, kind: str, work: Path, cache: Cache, years: list[int], st, **kw):
        from graph import StoreError, open_store
        from graph.store import first_line

        self.reused, self.error, self.seconds, self._proc = False, None, 0.0, None
        self.kind, self.path = kind, work / "graph.lbdb"
        s = open_store(kind, path=self.path, **kw)
        try:
            s.check_reachable()
            fresh = s.is_current(cache, years)
        except StoreError as e:
            self.error = first_line(e)
            return
        finally:
            s.close()
        self.reused = bool(fresh)
        if fresh:
            return
        st(f"graph store: loading in a separate process ({fresh.reason})")
        self._out, self._err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        root = str(Path(__file__).resolve().parent.parent)
        env = os.environ | {"PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        self._t0 = time.perf_counter()
        self._proc = subprocess.Popen([sys.executable, "-c", _LOADER], stdin=subprocess.PIPE, stdout=self._out,
                                      stderr=self._err, text=True, env=env)
        self._proc.stdin.write(json.dumps({"kind": kind, "work": str(work), "years": years, "kw": kw}))
        self._proc.stdin.close()

    @property
    def loading(self) -> bool:
        return self._proc is not None

    def cancel(self) -> None:
        """Stop a load still running (the run failed). The store is left as it was before the load; the
        embedded store's half-built copy is removed."""
        if self._proc is None:
            return
        self._proc.kill()
        self._proc.wait()
        self._proc = None
        self._out.close()
        self._err.close()
        if self.kind == "embedded":
            from graph.embedded import clean_leftovers

            clean_leftovers(self.path)

    def wait(self) -> str | None:
        if self._proc is None:
            return self.error
        code = self._proc.wait()
        self.seconds, self._proc = time.perf_counter() - self._t0, None
        self._out.seek(0)
        self._err.seek(0)
        lines = self._out.read().strip().splitlines()
        try:
            self.error = json.loads(lines[-1])["error"]
        except (IndexError, ValueError, KeyError):
            tail = " | ".join(self._err.read().strip().splitlines()[-3:])
            self.error = f"the loading process ended with exit status {code} without a result" + (
                f"; last output: {tail}" if tail else "")
        self._out.close()
        self._err.close()
        return self.error


def _write_tables(out: Path, exhibits: list[Exhibit]) -> None:
    tdir = out / "tables"
    tdir.mkdir(parents=True, exist_ok=True)
    for e in exhibits:
        if e.id.startswith("figure"):
            continue
        e.tidy().to_csv(tdir / f"{e.id}.csv", index=False)
        (tdir / f"{e.id}.md").write_text(e.markdown(), encoding="utf-8")
        (tdir / f"{e.id}.tex").write_text(e.latex(), encoding="utf-8")


def run_all(data_root: str | Path, out_dir: str | Path, store: str = "embedded", work: str | Path | None = None,
            only: list[str] | None = None, quiet: bool = False, y0: int = 2005, y1: int = 2010, isolate: bool = True,
            return_exhibits: bool = False, reuse: bool = True, jobs: int | None = None,
            **store_kw) -> dict | tuple[dict, list[Exhibit]]:
    """Reproduce every table and figure of the paper (and the seed-000 table) into ``out_dir``; with
    ``isolate`` each exhibit runs in a forked child process so that a crash in compiled code ends only it.
    With ``reuse``, exhibits already computed from the same clean tables by the same code are read back
    (``ExhibitCache``); ``reuse=False`` computes everything and keeps nothing. ``jobs``: exhibits computed at
    the same time (forked children; default ``default_jobs()``).
    Returns the summary (also written to summary.json); with ``return_exhibits`` the pair (summary, the
    exhibits in the paper's order), as ``prodnet.open(root).run_all(out)`` uses it."""
    unknown = [n for n in only or [] if n not in PAPER_ORDER]
    if unknown:
        raise ValueError(f"unknown exhibit(s) {', '.join(unknown)}; available: {', '.join(PAPER_ORDER)}")
    root, out = Path(data_root), Path(out_dir)
    work = Path(work) if work else default_work_dir(root)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    truth_path = root / "truth.json"
    truth = json.loads(truth_path.read_text()) if truth_path.exists() else None
    with steps("run-all", quiet=quiet) as st:
        st("etl")
        said, loads = [], []  # the store starts loading once the vintages are clean, beside the survey's ETL

        def start_load() -> None:
            loads.append(StoreLoad(store, work, Cache(work), [y0, y1], said.append, **store_kw))

        try:
            etl_report = run_etl(root, work, progress=None, need_vintages=[y0, y1], need_surveys=[y0, y1],
                                 after_vintages=start_load)
        except BaseException:
            for ld in loads:
                ld.cancel()
            raise
        cache = Cache(work)
        st("graph store")
        load = loads[0] if loads else StoreLoad(store, work, cache, [y0, y1], said.append, **store_kw)
        for m in said:
            st(m)
        fns = [(f, None) for f in descriptives.all_descriptives() + regressions.all_regressions()
               + offshoring.all_offshoring() + robustness.all_robustness()]
        fns = [(f, d) for f, d in fns + [(f, out / "figures") for f in figures.all_figures()]
               if not only or exhibit_name(f) in only]
        saved = ExhibitCache(work, cache, y0, y1, truth_path, enabled=reuse)
        kept = {exhibit_name(f): saved.get(exhibit_name(f), d) for f, d in fns}  # None: to compute (or unreadable)
        todo = [(f, d) for f, d in fns if kept[exhibit_name(f)] is None]
        isolated = isolate and (not todo or fork_is_safe())
        meta = saved.meta() if not todo else None
        if meta is None:
            st("study: features and samples")
            data = study.build(cache, None, y0, y1)
            if truth:
                data.notes.update(_truth_notes(truth))
            meta = {"intro": _data_intro(data, root), "data_rows": _data_rows(data, truth)}
            saved.put_meta(meta)
            st("study: shared samples")
            regressions.warm(data, [exhibit_name(f) for f, _ in todo])
        exhibits = [ex for ex in kept.values() if ex is not None]
        if exhibits:
            st(f"{len(exhibits)} exhibit(s) reused: same clean tables, same code")
        if todo:
            jobs = max(1, jobs or default_jobs())
            st(f"exhibits ({jobs} at a time)" if isolated and jobs > 1 else "exhibits")
            todo.sort(key=lambda t: LONG_FIRST.index(exhibit_name(t[0])) if exhibit_name(t[0]) in LONG_FIRST else 99)

            def done(ex: Exhibit) -> None:
                saved.put(ex)
                st.record(ex.id, ex.seconds)

            exhibits += run_exhibits([(f, (data,) if d is None else (data, d)) for f, d in todo], isolate=isolated,
                                     jobs=jobs, on_done=done)
        exhibits.sort(key=lambda e: PAPER_ORDER.index(e.id) if e.id in PAPER_ORDER else 99)
        st("write outputs")
        _write_tables(out, exhibits)
        st("graph store: waiting for the load" if load.loading else "graph store")
        if load.wait():
            st(f"warning: the graph store was not loaded: {load.error}")
    timings = st.timings
    summary = _summary(root, cache, meta["data_rows"], exhibits, timings, load.reused, truth, etl_report, store)
    summary["graph_store"] = {"reused": load.reused, "load_seconds": load.seconds, "error": load.error}
    summary["exhibits_reused"] = len(fns) - len(todo)
    summary["seconds_total"] = time.perf_counter() - t_all
    summary["exhibits_in_child_processes"] = isolated
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=_json))
    intro = (meta["intro"] + f" Graph store: {store}{_store_state(load)}."
             + ("" if isolated or not isolate else " Exhibits ran in this process: a forked child could not run the "
                                                   "compiled estimators, so a crash in one would end the run."))
    report.write(out, exhibits, {"intro": intro, "timings": timings, "truth": bool(truth),
                                 "data_warnings": etl_report.get("warnings", []),
                                 "footer": f"prodnet {summary['versions'].get('prodnet', '')}; peak RSS "
                                           f"{summary['peak_rss_gib']:.2f} GiB; total {summary['seconds_total']:.0f} s."})
    return (summary, exhibits) if return_exhibits else summary


def _truth_notes(truth: dict) -> dict:
    c = truth["counts"]
    return {"planted": truth["planted"], "oracle": c.get("oracle_eq16", {}),
            "oracle_table6": c.get("table6", {}).get("oracle", {}), "oracle_eq15": c.get("oracle_eq15", {}),
            "oracle_indegree_tail": c.get("oracle_indegree_tail", {})}


def _data_intro(data, root: Path) -> str:
    b = data.buyers
    return (f"Data root {root}. Vintages {data.y0} and {data.y1}: {len(data.links[data.y0]):,} and "
            f"{len(data.links[data.y1]):,} links among {len(data.firms[data.y0]):,} and {len(data.firms[data.y1]):,} "
            f"firms; {int(b.manufacturing.sum()):,} manufacturing firms matched to the BSJBSA. Samples follow the "
            f"paper: manufacturing buyers, buyers and sellers present in both vintages, parent-child links removed, "
            f"existing importers excluded from the offshoring regressions. {_geocoding(data)}")


def _store_state(load: StoreLoad) -> str:
    if load.error:
        return f" (NOT LOADED: {load.error}; the tables do not depend on it, Cypher queries do)"
    return " (reused)" if load.reused else f" (loaded beside the exhibits in {load.seconds:.0f} s)"


def _geocoding(data) -> str:
    """Firms per geocode precision level and vintage, for the introduction of the report."""
    from etl.geo import PRECISION_LEVELS

    parts = []
    for y in (data.y0, data.y1):
        c = data.firms[y].geo_precision.value_counts()
        parts.append(f"{y}: " + ", ".join(f"{k} {int(c[k]):,}" for k in PRECISION_LEVELS if c.get(k, 0)))
    return "Firms by geocode precision: " + "; ".join(parts) + "."


def _data_rows(data, truth) -> dict:
    """The parts of the summary computed from the study rather than an exhibit: productivity and θ′."""
    rows = []
    if data.op.pooled is not None:
        pl = truth["planted"] if truth else {}
        no_se = "point estimate without a standard error (Olley-Pakes second stage)"
        rows += [{"parameter": f"Olley-Pakes {b} (pooled)", "planted": pl.get(f"prod_{b}"),
                  "estimate": getattr(data.op.pooled, b), "exhibit": "tfp", "note": no_se}
                 for b in ("beta_l", "beta_k")]
    if truth:
        tp = pd.Series(truth["industries"]["theta_prime"])
        est = data.theta.theta_prime.reindex(tp.index)
        ok = est.notna()
        rows.append({"parameter": "theta_prime (appendix B.3), median |est/true - 1| over industries",
                     "planted": 0.0, "estimate": float(np.median(np.abs(est[ok] / tp[ok] - 1))) if ok.any() else None,
                     "exhibit": "theta", "n_industries": int(ok.sum()),
                     "note": "a distance summary over industries, not one parameter with a standard error"})
    return {"rows": rows, "productivity": {"method": data.op.method, "note": data.op.note,
                                           "groups": data.op.group_source}}


def _summary(root, cache, data_rows, exhibits, timings, reused, truth, etl_report, store) -> dict:
    out = {"versions": _versions(), "data_root": str(root), "data_fingerprint": _fingerprint(cache),
           "store": store, "graph_reused": reused, "timings_seconds": timings, "peak_rss_gib": peak_rss_gib(),
           "exhibits": {e.id: {"title": e.title, "seconds": e.seconds, "error": e.error, "warnings": e.warnings,
                               "column_notes": e.column_notes} for e in exhibits},
           "errors": [e.id for e in exhibits if e.error]}
    out["planted_vs_estimated"] = [r | {"exhibit": e.id} for e in exhibits for r in e.truth] + data_rows["rows"]
    out["productivity"] = data_rows["productivity"]
    if truth:
        out["truth_counts"] = {"links_2005": truth["counts"]["2005"]["links"], "links_2010": truth["counts"]["2010"]["links"]}
    out["etl"] = {k: v for k, v in etl_report.items() if k != "industry"}
    return out


def _json(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    return str(o)
