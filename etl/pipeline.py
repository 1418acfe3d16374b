"""ETL entry point: raw contract root → validated Parquet cache + quarantine + load report.

The cache (``<work>/cache``) is what the graph loader and the analytics read. Each part is rebuilt only
when its input files changed (size and modification time), and written atomically. A part that cannot
give the analysis usable rows (a missing or unreadable file, a required file with no usable row) is not
committed: its old tables are removed, its quarantine is still written, and the run ends with an
``EtlError`` whose message names each file and the reason."""

from __future__ import annotations

import codecs
import hashlib
import json
import multiprocessing as mp
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from etl.bsjbsa import match_to_tsr, read_survey, survey_years
from etl.contract import ContractError
from etl.geo import Geocoder, known_municipality_codes
from etl.geo.changes import read_changes
from etl.industry import FILES, read_industry
from etl.jsic_codes import read_concordance
from etl.report import rejection_warnings, unusable
from etl.survey_sectors import read_sector_imports
from etl.tsr import add_distances, build_links, clean_company, geocode_summary

WARN_REJECTED_SHARE = 0.01  # a file with more rejected rows than this share is named at the end of the run
MAX_VINTAGE_PROCESSES = 2  # vintages cleaned at the same time (each holds its files in memory)


class EtlError(ContractError):
    """The ETL could not produce what the run needs. One line per problem, each naming the file and the
    reason; ``report`` is the load report of the run so far."""

    def __init__(self, problems: list[str], report: dict) -> None:
        super().__init__("\n".join(problems))
        self.problems, self.report = problems, report


def default_work_dir(root: Path) -> Path:
    return Path(root) / ".prodnet"


def vintages(root: Path) -> list[int]:
    d = Path(root) / "tsr"
    if not d.exists():
        raise ContractError(f"{d}: folder not found (expected tsr/<YEAR>/company.csv and linkage.csv)")
    return sorted(int(p.name) for p in d.iterdir() if p.is_dir() and p.name.isdigit())


def fingerprint(paths: list[Path], encoding: str | None = None) -> str:
    """Input files' paths, sizes and modification times, and the encoding asked for (so a run with another
    ``--encoding`` reads the files again instead of reusing tables decoded otherwise)."""
    h = hashlib.sha256(f"encoding={encoding or 'detect'}".encode())
    for p in sorted(paths):
        st = p.stat()
        h.update(f"{p}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _inputs(root: Path, part: str) -> list[Path]:
    root = Path(root)
    if part.startswith("tsr/"):  # geo/: municipality changes; industry/: JSIC codes and their concordance
        return [p for d in (root / part, root / "geo", root / "industry") for p in d.glob("*")
                if p.suffix in (".csv", ".parquet")]
    if part == "geo":
        return [p for p in (root / "geo").glob("*") if p.suffix in (".csv", ".parquet")]
    if part == "bsjbsa":
        return [p for p in [*(root / "bsjbsa").glob("*"), *(root / "bsjbsa" / "imports_by_sector").glob("*")]
                if p.suffix in (".csv", ".parquet")] + _inputs(root, "industry")
    return [p for p in (root / "industry").glob("*") if p.suffix in (".csv", ".parquet")]


class Cache:
    """The Parquet cache of one data root, with its manifest of input fingerprints."""

    def __init__(self, work: Path) -> None:
        self.dir = Path(work) / "cache"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.manifest_path = self.dir / "manifest.json"
        self.manifest = json.loads(self.manifest_path.read_text()) if self.manifest_path.exists() else {}
        self.defer_manifest = False  # a worker process: its parent records the manifest entries

    def path(self, name: str) -> Path:
        return self.dir / f"{name}.parquet"

    def read(self, name: str, columns: list[str] | None = None) -> pd.DataFrame:
        return pd.read_parquet(self._existing(name), columns=columns)

    def read_arrow(self, name: str, columns: list[str] | None = None) -> pa.Table:
        """A clean table as Arrow (no conversion to pandas)."""
        return pq.read_table(self._existing(name), columns=columns)

    def _existing(self, name: str) -> Path:
        p = self.path(name)
        if not p.exists():
            raise FileNotFoundError(f"{p}: not in the cache; run `prodnet etl` or `prodnet load` first")
        return p

    def fresh(self, part: str, fp: str, outputs: list[str]) -> bool:
        return self.manifest.get(part, {}).get("fingerprint") == fp and all(self.path(o).exists() for o in outputs)

    def commit(self, part: str, fp: str, tables: dict[str, pd.DataFrame], report: dict,
               quarantine: pd.DataFrame) -> None:
        """Write the tables of one part atomically, then record it in the manifest."""
        tmp = Path(tempfile.mkdtemp(dir=self.dir, prefix=".tmp-"))
        try:
            for name, df in tables.items():
                df.to_parquet(tmp / f"{name}.parquet", index=False)
            self.quarantine_path(part).parent.mkdir(exist_ok=True)
            quarantine.to_csv(tmp / "quarantine.csv", index=False)
            for name in tables:
                os.replace(tmp / f"{name}.parquet", self.path(name))
            os.replace(tmp / "quarantine.csv", self.quarantine_path(part))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.manifest[part] = {"fingerprint": fp, "outputs": list(tables), "report": report}
        self._write_manifest()

    def quarantine_path(self, part: str) -> Path:
        return self.dir / "quarantine" / f"{part.replace('/', '_')}.csv"

    def fail(self, part: str, quarantine: pd.DataFrame | None = None) -> None:
        """Forget a part whose inputs are unusable (its old tables no longer match the inputs); keep its
        quarantine so the user can see why."""
        old = self.manifest.pop(part, None)
        for name in (old or {}).get("outputs", []):
            self.path(name).unlink(missing_ok=True)
        q = self.quarantine_path(part)
        if quarantine is not None and len(quarantine):
            q.parent.mkdir(exist_ok=True)
            quarantine.to_csv(q, index=False)
        else:
            q.unlink(missing_ok=True)
        self._write_manifest()

    def _write_manifest(self) -> None:
        if self.defer_manifest:
            return
        tmpm = self.manifest_path.with_suffix(".tmp")
        tmpm.write_text(json.dumps(self.manifest, indent=1, ensure_ascii=False))
        os.replace(tmpm, self.manifest_path)

    def report(self) -> dict:
        return {k: v["report"] for k, v in self.manifest.items()}


def _failed(cache: Cache, part: str, report: dict, problem: str, quarantine: pd.DataFrame | None = None) -> dict:
    cache.fail(part, quarantine)
    return report | {"error": problem}


def etl_vintage(root: Path, year: int, cache: Cache, encoding: str | None = None, force: bool = False,
                geocoder: Geocoder | None = None) -> dict:
    """Company and linkage file of one vintage → ``firms_<year>``, ``links_<year>``; the report has an
    ``error`` when either file is missing, unreadable or yields no usable row."""
    part = f"tsr/{year}"
    fp = fingerprint(_inputs(root, part), encoding)
    outputs = [f"firms_{year}", f"links_{year}"]
    if not force and cache.fresh(part, fp, outputs):
        return cache.manifest[part]["report"] | {"reused": True}
    qpath = cache.quarantine_path(part)
    try:
        firms, frep, fq = clean_company(root, year, encoding, geocoder)
    except ContractError as e:
        return _failed(cache, part, {}, str(e))
    report = {"company": frep.as_dict()}
    if problem := unusable(report["company"], qpath):
        return _failed(cache, part, report, problem, fq)
    try:
        links, lrep, lq = build_links(root, year, firms.tsr_id, encoding)
    except ContractError as e:
        return _failed(cache, part, report, str(e), fq)
    report["linkage"] = lrep.as_dict()
    quarantine = pd.concat([fq, lq], ignore_index=True)
    problem = unusable(report["linkage"], qpath)
    if not problem and links.empty:
        problem = f"{lrep.file}: no supplier or customer report among {lrep.rows_loaded:,} usable rows, so no link"
    if problem:
        return _failed(cache, part, report, problem, quarantine)
    links = add_distances(links, firms)
    report["geocoding"] = geocode_summary(firms, geocoder or Geocoder())
    report["links_without_distance"] = int(links.dist_km.isna().sum())
    cache.commit(part, fp, {f"firms_{year}": firms, f"links_{year}": links}, report, quarantine)
    return report


def etl_industry(root: Path, cache: Cache, encoding: str | None = None, force: bool = False) -> dict:
    """Every industry file → ``industry_<name>``; all or nothing."""
    fp = fingerprint(_inputs(root, "industry"), encoding)
    names = [f"industry_{n}" for n in FILES]
    if not force and cache.fresh("industry", fp, names):
        return cache.manifest["industry"]["report"] | {"reused": True}
    tables, report, qs, problems = {}, {}, [], []
    for n in FILES:
        try:
            df, rep, q = read_industry(root, n, encoding)
        except ContractError as e:
            problems.append(str(e))
            continue
        tables[f"industry_{n}"], report[n] = df, rep.as_dict()
        qs.append(q)
        if problem := unusable(report[n], cache.quarantine_path("industry")):
            problems.append(problem)
    quarantine = pd.concat(qs, ignore_index=True) if qs else None
    if problems:
        return _failed(cache, "industry", report, "\n".join(problems), quarantine)
    cache.commit("industry", fp, tables, report, quarantine)
    return report


def etl_bsjbsa(root: Path, cache: Cache, years: list[int], encoding: str | None = None, force: bool = False) -> dict:
    """Every survey year → ``bsjbsa`` (stacked, with the matched ``tsr_id``) and ``bsjbsa_match``, matched
    against the firms of ``years``; all or nothing. A survey file with no usable row is an error."""
    fp = fingerprint(_inputs(root, "bsjbsa") + sum((_inputs(root, f"tsr/{y}") for y in years), []), encoding)
    if not force and cache.fresh("bsjbsa", fp, ["bsjbsa", "bsjbsa_match", "bsjbsa_sectors"]):
        return cache.manifest["bsjbsa"]["report"] | {"reused": True}
    frames, reps, qs, problems = [], [], [], []
    for y in survey_years(root):
        try:
            survey, rep, q = read_survey(root, encoding, [y])
        except ContractError as e:
            problems.append(str(e))
            continue
        frames.append(survey)
        reps.append(rep[0].as_dict())
        qs.append(q)
        if problem := unusable(reps[-1], cache.quarantine_path("bsjbsa")):
            problems.append(problem)
    report: dict = {"files": reps}
    quarantine = pd.concat(qs, ignore_index=True) if qs else None
    if problems:
        return _failed(cache, "bsjbsa", report, "\n".join(problems), quarantine)
    if not frames or not years:  # nothing to match (no survey file, or no vintage loaded)
        cache.fail("bsjbsa")
        return report
    survey = pd.concat(frames, ignore_index=True)
    tsr = pd.concat([cache.read(f"firms_{y}") for y in sorted(years, reverse=True)]).drop_duplicates("tsr_id")
    match, stats = match_to_tsr(survey, tsr)
    survey = survey.merge(match[["survey_id", "tsr_id"]], on="survey_id", how="left")
    report["match"] = stats
    sectors, report["imports_by_sector"], sq = read_sector_imports(root, survey, encoding)
    _, report["jsic_concordance"], cq = read_concordance(root, encoding)
    cache.commit("bsjbsa", fp, {"bsjbsa": survey, "bsjbsa_match": match, "bsjbsa_sectors": sectors}, report,
                 pd.concat([quarantine, sq, cq], ignore_index=True))
    return report


def etl_vintages(root: Path, years: list[int], cache: Cache, encoding: str | None, force: bool, geocoder: Geocoder,
                 step) -> dict:
    """``etl_vintage`` of each year (report by part ``tsr/<year>``). With several vintages and cores, each
    vintage is cleaned in its own forked worker process: cleaning is mostly single-threaded pandas, so two
    vintages take about the time of one. Workers write their tables; the parent records the manifest."""
    jobs = min(len(years), os.cpu_count() or 1, MAX_VINTAGE_PROCESSES)
    if jobs < 2 or "fork" not in mp.get_all_start_methods():
        out = {}
        for y in years:
            step(f"TSR {y}")
            out[f"tsr/{y}"] = etl_vintage(root, y, cache, encoding, force, geocoder)
        return out
    step(f"TSR {', '.join(map(str, years))} ({jobs} processes)")
    with ProcessPoolExecutor(jobs, mp_context=mp.get_context("fork"), initializer=_vintage_worker_init,
                             initargs=(geocoder,)) as pool:
        futures = {y: pool.submit(_vintage_in_worker, root, y, cache, encoding, force) for y in years}
        try:
            done = {y: f.result() for y, f in futures.items()}
        except BrokenProcessPool as e:
            raise EtlError([f"{root / 'tsr'}: a vintage's cleaning process ended abnormally ({e}); "
                            "run `prodnet etl` again, or with less memory in use"], {}) from None
    out = {}
    for y, (report, entry) in done.items():
        if entry is None:
            cache.manifest.pop(f"tsr/{y}", None)
        else:
            cache.manifest[f"tsr/{y}"] = entry
        out[f"tsr/{y}"] = report
    cache._write_manifest()
    return out


_WORKER_GEOCODER: Geocoder | None = None  # set in each vintage worker (inherited by fork, not pickled)


def _vintage_worker_init(geocoder: Geocoder) -> None:
    global _WORKER_GEOCODER  # noqa: PLW0603 - the worker's one copy of the parent's geocoder
    _WORKER_GEOCODER = geocoder


def _vintage_in_worker(root: Path, year: int, cache: Cache, encoding: str | None, force: bool) -> tuple[dict, dict | None]:
    cache.defer_manifest = True
    report = etl_vintage(root, year, cache, encoding, force, _WORKER_GEOCODER)
    return report, cache.manifest.get(f"tsr/{year}")


def _missing(root: Path, vintages_needed: list[int], present: list[int], surveys_needed: list[int]) -> list[str]:
    """One line per vintage folder or survey file the run needs but the root lacks."""
    out = [f"{root / 'tsr' / str(y)}: vintage folder not found (present: "
           f"{', '.join(map(str, present)) or 'none'}; needed: {', '.join(map(str, vintages_needed))})"
           for y in vintages_needed if y not in present]
    have = survey_years(root)
    out += [f"{root / 'bsjbsa' / str(y)}.csv (or .parquet): survey file not found (present: "
            f"{', '.join(map(str, have)) or 'none'}; needed: {', '.join(map(str, surveys_needed))})"
            for y in surveys_needed if y not in have]
    return out


def run_etl(root: Path, work: Path | None = None, years: list[int] | None = None, encoding: str | None = None,
            force: bool = False, progress=None, *, need_vintages: list[int] = (), need_surveys: list[int] = (),
            warn_share: float = WARN_REJECTED_SHARE, after_vintages: Callable[[], None] | None = None) -> dict:
    """Run (or reuse) every ETL part for ``years`` (default: all vintages); return the load report.
    ``after_vintages`` is called once the industry files and every vintage of ``need_vintages`` are in the
    cache, before the survey is read and matched (``run-all`` starts loading the graph store there).

    The report also lists ``warnings`` (files whose rejected share exceeds ``warn_share``, no survey file)
    and is written to ``<work>/cache/load_report.json``. Raises EtlError, after writing the report, when a
    part failed or a vintage (``years``, ``need_vintages``) or survey year (``need_surveys``) is missing."""
    root = Path(root)
    if not root.is_dir():
        raise EtlError([f"{root}: data root not found (a folder with tsr/, bsjbsa/ and industry/)"], {})
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise EtlError([f"unknown encoding {encoding!r} (use utf-8 or cp932, or leave it out)"], {}) from None
    try:
        present = vintages(root)
    except ContractError as e:
        raise EtlError([str(e)], {}) from None
    cache = Cache(work or default_work_dir(root))
    step = progress or (lambda m: None)
    todo = sorted(set(years or present))
    problems = _missing(root, sorted(set(todo) | set(need_vintages)), present, sorted(set(need_surveys)))
    if not present:
        problems.append(f"{root / 'tsr'}: no vintage folder (expected tsr/<YEAR>/company.csv and linkage.csv)")
    out: dict = {}
    step("industry files")
    out["industry"] = etl_industry(root, cache, encoding, force)
    step("geocoder and municipality changes")
    changes = None
    try:
        changes, crep, cq = read_changes(root, known_municipality_codes(), encoding)
    except ContractError as e:
        problems.append(str(e))
        crep = None
    if crep is not None:
        cache.commit("geo", fingerprint(_inputs(root, "geo")), {}, {"municipality_changes": crep.as_dict()}, cq)
        out["geo"] = cache.manifest["geo"]["report"]
    else:
        cache.manifest.pop("geo", None)
    out |= etl_vintages(root, [y for y in todo if y in present], cache, encoding, force, Geocoder(changes), step)
    all_years = [y for y in present if f"tsr/{y}" in cache.manifest]
    if after_vintages and "industry" in cache.manifest and set(need_vintages) <= set(all_years):
        after_vintages()
    step("BSJBSA survey and match")
    out["bsjbsa"] = etl_bsjbsa(root, cache, all_years, encoding, force)
    problems += [r["error"] for r in out.values() if r.get("error")]
    warnings = rejection_warnings(out, warn_share)
    if not survey_years(root):
        warnings.append(f"{root / 'bsjbsa'}: no survey file (bsjbsa/<YEAR>.csv); the survey-based tables need one")
    m = out["bsjbsa"].get("match") or {}
    if survey_years(root) and m and not m.get("matched"):
        warnings.append(f"{root / 'bsjbsa'}: no survey firm matched a TSR firm ({m.get('ambiguous', 0):,} ambiguous, "
                        f"{m.get('unmatched', 0):,} unmatched): check names, phones and addresses, and that survey_id "
                        "stays the same for a firm across survey years; the survey-based tables need matches")
    out["warnings"] = warnings
    if problems:
        out["errors"] = problems
    full = cache.report() | out
    (cache.dir / "load_report.json").write_text(json.dumps(full, indent=1, ensure_ascii=False))
    if problems:
        raise EtlError(problems, out)
    return out
