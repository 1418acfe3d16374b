"""Measure a data root (through the ETL, as a user's data would be) against the calibration targets of
the paper (Tables 1, 2, A3, A9; section 2) and the planted truth."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from etl.pipeline import Cache, default_work_dir, run_etl
from etl.synth.params import SCALES


def _row(metric: str, measured: float, lo: float, hi: float, target: str) -> dict:
    return {"metric": metric, "target": target, "measured": float(measured), "ok": bool(lo <= measured <= hi)}


def measure(root: Path, work: Path | None = None) -> pd.DataFrame:
    """One row per calibration target: metric, target, measured, ok."""
    root = Path(root)
    truth = json.loads((root / "truth.json").read_text())
    sc = SCALES[truth["scale"]]
    full = sc.name == "full"
    run_etl(root, work)
    c = Cache(work or default_work_dir(root))
    rows = []
    for y, target in ((2005, sc.links_2005), (2010, sc.links_2010)):
        l = c.read(f"links_{y}")
        deg = l.groupby("buyer_id").size()
        outdeg = l.groupby("seller_id").size()
        rows.append(_row(f"links {y}", len(l), 0.99 * target, 1.01 * target, f"{target:,} ±1%"))
        mean_t, med_t = (4.89, 2) if y == 2005 else (5.47, 3)
        tol = 0.15 if full else 0.6
        rows.append(_row(f"mean sellers per buyer {y}", deg.mean(), mean_t - tol, mean_t + tol, f"{mean_t} (Table 1)"))
        rows.append(_row(f"median sellers per buyer {y}", deg.median(), med_t - (0 if full else 1), med_t + (0 if full else 1),
                         f"{med_t} (Table 1)"))
        lo, hi = (0.42, 0.62) if full else (0.2, 0.7)  # a sparse small world has fewer near suppliers
        rows.append(_row(f"share of links within 25 km {y}", (l.dist_km < 25).mean(), lo, hi, "about half (Fig. 1)"))
        if y == 2010 and full:
            rows.append(_row("top seller's buyers 2010", outdeg.max(), 11_000, 1e9, "> 11,000 (section 2)"))
            rows.append(_row("top buyer's sellers 2010", deg.max(), 5_000, 12_000, "close to 8,000 (section 2)"))
    l05, l10 = c.read("links_2005"), c.read("links_2010")
    kept = l05[["seller_id", "buyer_id"]].merge(l10[["seller_id", "buyer_id"]], on=["seller_id", "buyer_id"])
    reformed = 1 - len(kept) / len(l05)
    rows.append(_row("share of 2005 links not in 2010", reformed, 0.4, 0.65, "about half"))
    rows += _survey_rows(c, full)
    rows += _industry_rows(c, full)
    return pd.DataFrame(rows)


def _survey_rows(c: Cache, full: bool) -> list[dict]:
    s = c.read("bsjbsa")
    jsic = c.read("industry_jsic")
    mfg3 = set(jsic.loc[jsic.manufacturing == 1, "jsic3"])
    s05 = s[s.year == 2005]
    rows = [_row("BSJBSA firms 2005", len(s05), 21_000 if full else 0, 25_000 if full else 1e9, "22,939 (Table A3)")]
    m = s[s.jsic3.isin(mfg3)]
    rows.append(_row("BSJBSA manufacturing firms 2005", (m.year == 2005).sum(), 10_000 if full else 0,
                     12_500 if full else 1e9, "11,021 (Table A3)"))
    imp = m[m.year.isin([2005, 2010])].pivot_table(index="survey_id", columns="year", values="imports_total")
    imp = imp.dropna()
    i05, i10 = imp[2005] > 0, imp[2010] > 0
    for name, mask, t in (("continuing importers", i05 & i10, 0.13), ("import starters", ~i05 & i10, 0.07),
                          ("non-importers", ~i05 & ~i10, 0.74)):
        rows.append(_row(f"share of {name} (mfg)", mask.mean(), t - 0.025, t + 0.025, f"{t:.2f} (Table 2)"))
    f05 = set(c.read("firms_2005").tsr_id)
    buyers6 = s05[s05.tsr_id.fillna("").isin(f05)]
    rows.append(_row("Table 6 buyers (survey 2005 matched to TSR)", len(buyers6), 20_800 if full else 0,
                     22_100 if full else 1e9, "21,434 (Table 6)"))
    if c.path("bsjbsa_sectors").exists():
        sec = c.read("bsjbsa_sectors")
        sec = sec[(sec.year == 2005) & sec.survey_id.isin(set(buyers6.survey_id))]
        rows.append(_row("share of Table 6 buyers offshoring in some sector", sec.survey_id.nunique() / len(buyers6),
                         0.12, 0.24, "about the 2005 importer share (Table 2)"))
    return rows


def _industry_rows(c: Cache, full: bool) -> list[dict]:
    jsic = c.read("industry_jsic")
    ch = c.read("industry_characteristics")
    mfg = jsic[jsic.manufacturing == 1]
    ratio = ch.rho / (ch.rho - 1)
    rows = []
    if full:
        rows.append(_row("manufacturing JSIC 3-digit groups", mfg.jsic3.nunique(), 150, 150, "150 (B.1)"))
        rows.append(_row("manufacturing JSIC 4-digit industries", len(mfg), 560, 566, "563 (B.2)"))
    tol = 1.0 if full else 2.0
    rows += [
        _row("mean rho/(rho-1)", ratio.mean(), 1.328 - 0.06 * tol, 1.328 + 0.06 * tol, "1.328 (Table A9)"),
        _row("sd rho/(rho-1)", ratio.std(), 0.262 - 0.08 * tol, 0.262 + 0.08 * tol, "0.262 (Table A9)"),
        _row("mean theta_CP", ch.theta_cp.mean(), 9.82 - 2 * tol, 9.82 + 2 * tol, "9.82 (Table A9)"),
        _row("sd theta_CP", ch.theta_cp.std(), 5.81 - 2.5 * tol, 5.81 + 2.5 * tol, "5.81 (Table A9)"),
        _row("mean Rauch", ch.rauch.astype(float).mean(), 0.77 - 0.08 * tol, 0.77 + 0.08 * tol, "0.77 (Table A9)"),
    ]
    return rows
