"""ETL entry point: raw contract root → validated Parquet cache + quarantine + load report.

The cache (``<work>/cache``) is what the graph loader and the analytics read. Each part is rebuilt only
when its input files changed (size and modification time), and written atomically."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from etl.bsjbsa import match_to_tsr, read_survey
from etl.contract import ContractError
from etl.geo import Geocoder, known_municipality_codes
from etl.geo.changes import read_changes
from etl.industry import FILES, read_industry
from etl.tsr import add_distances, build_links, clean_company, geocode_summary


def default_work_dir(root: Path) -> Path:
    return Path(root) / ".prodnet"


def vintages(root: Path) -> list[int]:
    d = Path(root) / "tsr"
    if not d.exists():
        raise ContractError(f"{d}: folder not found (expected tsr/<YEAR>/company.csv and linkage.csv)")
    return sorted(int(p.name) for p in d.iterdir() if p.is_dir() and p.name.isdigit())


def fingerprint(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        st = p.stat()
        h.update(f"{p}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _inputs(root: Path, part: str) -> list[Path]:
    root = Path(root)
    if part.startswith("tsr/"):  # geo/ holds the municipality changes the geocoder honours
        return [p for d in (root / part, root / "geo") for p in d.glob("*") if p.suffix in (".csv", ".parquet")]
    if part == "geo":
        return [p for p in (root / "geo").glob("*") if p.suffix in (".csv", ".parquet")]
    if part == "bsjbsa":
        return [p for p in (root / "bsjbsa").glob("*") if p.suffix in (".csv", ".parquet")] + _inputs(root, "industry")
    return [p for p in (root / "industry").glob("*") if p.suffix in (".csv", ".parquet")]


class Cache:
    """The Parquet cache of one data root, with its manifest of input fingerprints."""

    def __init__(self, work: Path) -> None:
        self.dir = Path(work) / "cache"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.manifest_path = self.dir / "manifest.json"
        self.manifest = json.loads(self.manifest_path.read_text()) if self.manifest_path.exists() else {}

    def path(self, name: str) -> Path:
        return self.dir / f"{name}.parquet"

    def read(self, name: str) -> pd.DataFrame:
        p = self.path(name)
        if not p.exists():
            raise FileNotFoundError(f"{p}: not in the cache; run `prodnet etl` or `prodnet load` first")
        return pd.read_parquet(p)

    def fresh(self, part: str, fp: str, outputs: list[str]) -> bool:
        return self.manifest.get(part, {}).get("fingerprint") == fp and all(self.path(o).exists() for o in outputs)

    def commit(self, part: str, fp: str, tables: dict[str, pd.DataFrame], report: dict,
               quarantine: pd.DataFrame) -> None:
        """Write the tables of one part atomically, then record it in the manifest."""
        tmp = Path(tempfile.mkdtemp(dir=self.dir, prefix=".tmp-"))
        try:
            for name, df in tables.items():
                df.to_parquet(tmp / f"{name}.parquet", index=False)
            qdir = self.dir / "quarantine"
            qdir.mkdir(exist_ok=True)
            quarantine.to_csv(tmp / "quarantine.csv", index=False)
            for name in tables:
                os.replace(tmp / f"{name}.parquet", self.path(name))
            os.replace(tmp / "quarantine.csv", qdir / f"{part.replace('/', '_')}.csv")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.manifest[part] = {"fingerprint": fp, "outputs": list(tables), "report": report}
        tmpm = self.manifest_path.with_suffix(".tmp")
        tmpm.write_text(json.dumps(self.manifest, indent=1, ensure_ascii=False))
        os.replace(tmpm, self.manifest_path)

    def report(self) -> dict:
        return {k: v["report"] for k, v in self.manifest.items()}


def etl_vintage(root: Path, year: int, cache: Cache, encoding: str | None = None, force: bool = False,
                geocoder: Geocoder | None = None) -> dict:
    part = f"tsr/{year}"
    fp = fingerprint(_inputs(root, part))
    outputs = [f"firms_{year}", f"links_{year}"]
    if not force and cache.fresh(part, fp, outputs):
        return cache.manifest[part]["report"] | {"reused": True}
    firms, frep, fq = clean_company(root, year, encoding, geocoder)
    links, lrep, lq = build_links(root, year, firms.tsr_id, encoding)
    links = add_distances(links, firms)
    report = {"company": frep.as_dict(), "linkage": lrep.as_dict(),
              "geocoding": geocode_summary(firms, geocoder or Geocoder()),
              "links_without_distance": int(links.dist_km.isna().sum())}
    cache.commit(part, fp, {f"firms_{year}": firms, f"links_{year}": links}, report, pd.concat([fq, lq]))
    return report


def etl_industry(root: Path, cache: Cache, encoding: str | None = None, force: bool = False) -> dict:
    fp = fingerprint(_inputs(root, "industry"))
    names = [f"industry_{n}" for n in FILES]
    if not force and cache.fresh("industry", fp, names):
        return cache.manifest["industry"]["report"] | {"reused": True}
    tables, report, qs = {}, {}, []
    for n in FILES:
        df, rep, q = read_industry(root, n, encoding)
        tables[f"industry_{n}"], report[n] = df, rep.as_dict()
        qs.append(q)
    cache.commit("industry", fp, tables, report, pd.concat(qs))
    return report


def etl_bsjbsa(root: Path, cache: Cache, years: list[int], encoding: str | None = None, force: bool = False) -> dict:
    fp = fingerprint(_inputs(root, "bsjbsa") + sum((_inputs(root, f"tsr/{y}") for y in years), []))
    if not force and cache.fresh("bsjbsa", fp, ["bsjbsa", "bsjbsa_match"]):
        return cache.manifest["bsjbsa"]["report"] | {"reused": True}
    survey, reps, q = read_survey(root, encoding)
    if survey.empty:
        return {"files": 0}
    tsr = pd.concat([cache.read(f"firms_{y}") for y in sorted(years, reverse=True)]).drop_duplicates("tsr_id")
    match, stats = match_to_tsr(survey, tsr)
    survey = survey.merge(match[["survey_id", "tsr_id"]], on="survey_id", how="left")
    report = {"files": [r.as_dict() for r in reps], "match": stats}
    cache.commit("bsjbsa", fp, {"bsjbsa": survey, "bsjbsa_match": match}, report, q)
    return report


def run_etl(root: Path, work: Path | None = None, years: list[int] | None = None, encoding: str | None = None,
            force: bool = False, progress=None) -> dict:
    """Run (or reuse) every ETL part for ``years`` (default: all vintages); return the load report."""
    root = Path(root)
    cache = Cache(work or default_work_dir(root))
    step = progress or (lambda m: None)
    years = years or vintages(root)
    out: dict = {}
    step("industry files")
    out["industry"] = etl_industry(root, cache, encoding, force)
    step("geocoder and municipality changes")
    changes, crep, cq = read_changes(root, known_municipality_codes(), encoding)
    if crep is not None:
        cache.commit("geo", fingerprint(_inputs(root, "geo")), {}, {"municipality_changes": crep.as_dict()}, cq)
        out["geo"] = cache.manifest["geo"]["report"]
    else:
        cache.manifest.pop("geo", None)
    g = Geocoder(changes)
    for y in years:
        step(f"TSR {y}")
        out[f"tsr/{y}"] = etl_vintage(root, y, cache, encoding, force, g)
    all_years = [y for y in vintages(root) if cache.path(f"firms_{y}").exists()]
    step("BSJBSA survey and match")
    out["bsjbsa"] = etl_bsjbsa(root, cache, all_years, encoding, force)
    (cache.dir / "load_report.json").write_text(json.dumps(cache.report(), indent=1, ensure_ascii=False))
    return out
