"""Exhibits kept between runs: an unchanged rerun of ``run_all`` reads them instead of recomputing.

An exhibit is reused only when everything it is computed from is the same: the clean tables (a hash of
their content, so the same data under another path spelling still matches), the vintages, truth.json (planted values shown beside the
estimates), the project's code (every source, query and data file of its packages) and the versions of the
numerical libraries. Anything else gives another key, and the exhibits are computed again. Exhibits that
failed or crashed are never kept (a rerun tries them again); "not estimable" ones are, since the reason
is a property of the data. The store is ``<work>/exhibits/<key>/``; only the latest key is kept."""

from __future__ import annotations

import hashlib
import pickle
import shutil
from importlib import metadata
from pathlib import Path

from analytics.exhibits import Exhibit
from etl.pipeline import Cache

PACKAGES = ("analytics", "etl", "graph", "prodnet", "queries")
SOURCE_SUFFIXES = {".py", ".cypher", ".csv", ".json"}
LIBRARIES = ("numpy", "pandas", "pyarrow", "scipy", "pyfixest", "igraph", "matplotlib", "statsmodels")


def code_version() -> str:
    """Hash of the project's sources and the versions of the libraries the numbers come from."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for pkg in PACKAGES:
        for p in sorted((root / pkg).rglob("*")):
            if p.suffix in SOURCE_SUFFIXES and "__pycache__" not in p.parts:
                h.update(p.relative_to(root).as_posix().encode())
                h.update(p.read_bytes())
    for lib in LIBRARIES:
        try:
            h.update(f"{lib}={metadata.version(lib)}".encode())
        except metadata.PackageNotFoundError:
            pass
    return h.hexdigest()


def clean_tables_digest(cache: Cache) -> str:
    """Hash of the content of every clean table in the cache (not of the inputs' paths or times: the same
    data reached by another path, or re-cleaned after a ``touch``, gives the same digest)."""
    h = hashlib.blake2b(digest_size=16)
    for p in sorted(Path(cache.dir).glob("*.parquet")):
        h.update(p.name.encode())
        with open(p, "rb") as f:
            h.update(hashlib.file_digest(f, "blake2b").digest())
    return h.hexdigest()


def _keep(ex: Exhibit) -> bool:
    return ex.error is None or ex.error.startswith("not estimable")


class ExhibitCache:
    """Computed exhibits (and the study summary the report needs) for one key, in ``<work>/exhibits``."""

    def __init__(self, work: Path, cache: Cache, y0: int, y1: int, truth: Path | None = None, enabled: bool = True):
        self.enabled = enabled
        h = hashlib.sha256()
        h.update(clean_tables_digest(cache).encode())
        h.update(f"{y0}-{y1}|{code_version()}|".encode())
        if truth is not None and truth.exists():
            h.update(truth.read_bytes())
        self.root = Path(work) / "exhibits"
        self.dir = self.root / h.hexdigest()[:24]

    def _path(self, name: str) -> Path:
        return self.dir / f"{name}.pkl"

    def has(self, name: str) -> bool:
        return self.enabled and self._path(name).exists()

    def get(self, name: str, fig_dir: Path | None) -> Exhibit | None:
        """The kept exhibit (its figure copied into ``fig_dir``), or None."""
        if not self.has(name):
            return None
        try:
            ex = pickle.loads(self._path(name).read_bytes())
        except Exception:  # noqa: BLE001 - an unreadable file (truncated, other code) is computed again
            return None
        if ex.figure is not None:
            kept = self.dir / "figures" / Path(ex.figure).name
            if fig_dir is None or not kept.exists():
                return None
            ex.figure = Path(shutil.copy2(kept, Path(fig_dir) / kept.name))
        ex.seconds = 0.0
        return ex

    def put(self, ex: Exhibit) -> None:
        if not self.enabled or not _keep(ex):
            return
        self._claim()
        if ex.figure is not None and Path(ex.figure).exists():
            (self.dir / "figures").mkdir(exist_ok=True)
            shutil.copy2(ex.figure, self.dir / "figures" / Path(ex.figure).name)
        tmp = self._path(ex.id).with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(ex, protocol=pickle.HIGHEST_PROTOCOL))
        tmp.replace(self._path(ex.id))

    def meta(self) -> dict | None:
        p = self.dir / "meta.pkl"
        try:
            return pickle.loads(p.read_bytes()) if self.enabled and p.exists() else None
        except Exception:  # noqa: BLE001
            return None  # unreadable (e.g. a run killed while writing it): computed again

    def put_meta(self, meta: dict) -> None:
        if not self.enabled:
            return
        self._claim()
        tmp = self.dir / "meta.tmp"
        tmp.write_bytes(pickle.dumps(meta, protocol=pickle.HIGHEST_PROTOCOL))
        tmp.replace(self.dir / "meta.pkl")

    def _claim(self) -> None:
        """Create this key's folder, removing the folders of other keys (older data or code)."""
        if self.dir.exists():
            return
        if self.root.exists():
            for d in self.root.iterdir():
                if d.is_dir():
                    shutil.rmtree(d, ignore_errors=True)
        self.dir.mkdir(parents=True)
