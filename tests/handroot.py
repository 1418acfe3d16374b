"""A data root written by hand for the store and CLI tests (not by the generator): firm ids with leading
zeros, both-side and one-side reports, a self-report, an unknown partner and a shareholder row; its path
has an apostrophe and a double quote. Expected link counts are computed here with pandas."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import pandas as pd
import pytest

from prodnet.cli import main

FIRMS = [  # tsr_id, name, address, pref_code, lat, lon
    ("000123", "株式会社一号製作所", "東京都千代田区丸の内一丁目1", 13, 35.6812, 139.7671),
    ("075988591", "(株)ゼロ始まり工業", "大阪府大阪市北区梅田一丁目2", 27, 34.7025, 135.4959),
    ("100200300", "三河部品株式会社", "愛知県豊田市トヨタ町1", 23, 35.0826, 137.1560),
    ("000000007", "㈱七番商事", "福岡県福岡市博多区博多駅前二丁目1", 40, 33.5902, 130.4207),
    ("555666777", "北海精機株式会社", "北海道札幌市中央区北一条西二丁目", 1, 43.0621, 141.3544),
    ("012345678", "株式会社ゼロイチ", "神奈川県横浜市西区みなとみらい二丁目", 14, 35.4550, 139.6317),
]
LINKAGE = {  # reporter, partner, relation, rank
    2005: [("000123", "075988591", "supplier", 1), ("075988591", "000123", "customer", 1),  # both sides
           ("000123", "100200300", "supplier", 2), ("100200300", "000000007", "customer", 1),
           ("555666777", "000123", "customer", 1), ("012345678", "555666777", "supplier", 1),
           ("000123", "000123", "supplier", 3), ("000123", "999999999", "supplier", 4),  # self, unknown
           ("000000007", "012345678", "shareholder", 1)],
    2010: [("000123", "075988591", "supplier", 1), ("000123", "100200300", "supplier", 2),
           ("100200300", "000000007", "customer", 1), ("100200300", "555666777", "customer", 2),
           ("555666777", "000123", "customer", 1), ("012345678", "555666777", "supplier", 1),
           ("012345678", "000123", "supplier", 2), ("075988591", "012345678", "customer", 1),
           ("000000007", "075988591", "supplier", 1), ("075988591", "000000007", "customer", 2)],
}


def _write_vintage(root: Path, year: int, linkage: list[tuple]) -> None:
    d = root / "tsr" / str(year)
    d.mkdir(parents=True, exist_ok=True)
    jsic = pd.read_csv(root / "industry" / "jsic.csv", dtype=str)
    codes = jsic.jsic4[jsic.manufacturing == "1"].tolist()
    comp = pd.DataFrame([{"tsr_id": i, "name": n, "address": a, "pref_code": p, "lat": la, "lon": lo,
                          "jsic_main": codes[k % len(codes)], "employees": 10 + k, "sales": 1000 * (k + 1)}
                         for k, (i, n, a, p, la, lo) in enumerate(FIRMS)])
    comp.to_csv(d / "company.csv", index=False)
    pd.DataFrame(linkage, columns=["tsr_id", "partner_id", "relation", "rank"]).to_csv(d / "linkage.csv", index=False)


def make_root(base: Path, small_root: Path) -> Path:
    """A hand-written root whose path has an apostrophe and a double quote; industry and survey files
    are taken from the synthetic small root of the test run."""
    root = base / "O'Brien \"data\"" / "root"
    root.mkdir(parents=True)
    shutil.copytree(small_root / "industry", root / "industry")
    (root / "bsjbsa").mkdir()
    for y in (2005, 2010):
        shutil.copy(small_root / "bsjbsa" / f"{y}.csv", root / "bsjbsa")
        _write_vintage(root, y, LINKAGE[y])
    return root


def raw_links(root: Path, year: int) -> int:
    """Directed links seller → buyer from the raw files (two-way matching), computed independently."""
    comp = pd.read_csv(root / "tsr" / str(year) / "company.csv", dtype=str)
    lk = pd.read_csv(root / "tsr" / str(year) / "linkage.csv", dtype=str)
    sup = lk[lk.relation == "supplier"].rename(columns={"partner_id": "seller", "tsr_id": "buyer"})
    cus = lk[lk.relation == "customer"].rename(columns={"tsr_id": "seller", "partner_id": "buyer"})
    pairs = pd.concat([sup[["seller", "buyer"]], cus[["seller", "buyer"]]]).drop_duplicates()
    ids = set(comp.tsr_id)
    pairs = pairs[(pairs.seller != pairs.buyer) & pairs.seller.isin(ids) & pairs.buyer.isin(ids)]
    return len(pairs)


def cache_links(root: Path) -> dict[int, int]:
    """Links per vintage as the clean tables hold them (pandas on the cache's Parquet files)."""
    return {y: len(pd.read_parquet(root / ".prodnet" / "cache" / f"links_{y}.parquet")) for y in (2005, 2010)}


def counts(store) -> dict[int, int]:
    """SUPPLIES links per vintage in a store."""
    df = store.run("MATCH ()-[r:SUPPLIES]->() RETURN r.year AS year, count(*) AS n ORDER BY year")
    return dict(zip(df.year.astype(int), df.n.astype(int), strict=True))


def cli(capsys, *args) -> tuple[int, str, str]:
    """Run the console entry point in this process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    c = capsys.readouterr()
    return e.value.code, c.out, c.err


def drop_reports(root: Path, year: int, n: int) -> None:
    """Change the inputs: remove the last ``n`` reports of a vintage's linkage file."""
    f = root / "tsr" / str(year) / "linkage.csv"
    pd.read_csv(f, dtype=str).iloc[:-n].to_csv(f, index=False)


def shared_geocoder(changes=None):
    """The offline geocoder, built once per process when there is no municipality changes table (building
    one takes seconds, and every ETL run builds one)."""
    from etl.geo import Geocoder

    if changes is not None and len(changes):
        return Geocoder(changes)
    return _plain_geocoder()


@functools.cache
def _plain_geocoder():
    from etl.geo import Geocoder

    return Geocoder()
