"""A small data root written by hand in the contract layout, in the forms real extracts arrive in.

``build_fixture_root(root)`` writes 48 firms over two vintages (2005, 2010), four survey years and every
industry file, each file in a different form:

    tsr/2005/company.csv      CP932, CRLF line ends
    tsr/2005/linkage.csv      UTF-8 with byte-order mark (as Excel's "CSV UTF-8" writes it)
    tsr/2010/company.csv      UTF-8 with byte-order mark, CRLF line ends
    tsr/2010/linkage.parquet  typed columns: ids as strings, rank as int64
    bsjbsa/2004.csv, 2005.csv UTF-8; survey ids with letters (``S0000012``, ``AB-7``)
    bsjbsa/2010.parquet       typed columns: ids and codes as strings, money as float64, employees int64
    bsjbsa/2011.csv           CP932
    industry/*.csv            UTF-8 (jsic.csv with a byte-order mark)

Firm ids have leading zeros (``000000100``). Every file carries noise rows, each with exactly one defect
(listed in ``NOISE``): self-links, partners absent from the company file, duplicate reports and firms,
bad optional values (blanked) and bad required values (rejected). The expected counts are NOT stored here:
tests recompute them from the raw files.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

N_FIRMS = 48
FIRMS_2005 = range(0, 44)  # firms 0-3 exit after 2005, firms 44-47 enter by 2010
FIRMS_2010 = range(4, 48)
SURVEY_YEARS = (2004, 2005, 2010, 2011)

_PLACES = [  # prefecture + city, a point in it, JIS prefecture code, phone area code
    ("東京都千代田区", 35.6940, 139.7536, 13, "03"),
    ("愛知県豊田市", 35.0825, 137.1563, 23, "0565"),
    ("大阪府大阪市北区", 34.7055, 135.4983, 27, "06"),
    ("福岡県福岡市博多区", 33.5903, 130.4207, 40, "092"),
    ("北海道札幌市中央区", 43.0554, 141.3410, 1, "011"),
    ("宮城県仙台市青葉区", 38.2682, 140.8694, 4, "022"),
    ("広島県広島市中区", 34.3853, 132.4553, 34, "082"),
    ("新潟県新潟市中央区", 37.9161, 139.0364, 15, "025"),
]
_SURNAMES = ["山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村", "小林", "加藤", "吉田", "松本"]
_KINDS = ["製作所", "工業", "精機", "商事"]
# jsic4, jsic3, English name, manufacturing, sector12, rho, theta_cp, air_share, rauch
_INDUSTRIES = [
    ("0911", "091", "Livestock products", 1, 1, 3.1, 5.2, 0.02, 0),
    ("0921", "092", "Seafood products", 1, 1, 2.6, 4.1, 0.05, 1),
    ("2411", "241", "Aluminium rolling", 1, 5, 4.0, 8.3, 0.01, 0),
    ("2811", "281", "Electronic devices", 1, 8, 1.9, 3.4, 0.45, 1),
    ("3111", "311", "Motor vehicles", 1, 10, 2.2, 1.8, 0.03, 1),
    ("5011", "501", "General merchandise wholesale", 0, None, None, None, None, None),
    ("0611", "061", "General construction", 0, None, 1.5, None, None, None),
]

# One defect per noise row: (file, description); the builder writes exactly these.
NOISE = {
    "tsr/2005/company.csv": ["duplicate tsr_id of firm 3", "jsic_main 91x (required)", "empty name (required)",
                             "employees 'many' (optional)", "lat 999 (optional)", "pref_code 48 (optional)",
                             "postal_code 12-345 (optional)"],
    "tsr/2005/linkage.csv": ["self-link", "partner not in company file", "reporter not in company file",
                             "duplicate report", "relation 'buyer'", "rank 25", "malformed id 12a",
                             "shareholder rank 5", "partner whose company row is rejected"],
    "tsr/2010/company.csv": ["duplicate tsr_id of firm 8", "tsr_id 0012X (required)",
                             "employees -3 (optional)", "lon abc (optional)"],
    "tsr/2010/linkage.parquet": ["self-link", "partner not in company file", "duplicate report", "rank 0"],
    "bsjbsa/2005.csv": ["duplicate survey_id", "jsic3 9x (required)", "employees n/a (optional)"],
    "bsjbsa/2010.parquet": ["empty survey_id (required)"],
}


def firm_id(i: int) -> str:
    """Nine-digit TSR code with leading zeros."""
    return f"{100 + 97 * i:09d}"


def _jsic(i: int) -> tuple:
    return _INDUSTRIES[i % 5] if i % 8 else _INDUSTRIES[5 + (i // 8) % 2]  # every 8th firm non-manufacturing


def _company_row(i: int, year: int) -> dict:
    place, lat, lon, pref, area = _PLACES[i % len(_PLACES)]
    grow = 1.0 if year == 2005 else 1.2
    row = {
        "tsr_id": firm_id(i), "name": f"株式会社{_SURNAMES[i % 12]}{_KINDS[i // 12]}",
        "address": f"{place}本町{i + 1}番{i % 9 + 1}号", "postal_code": f"{100 + i:03d}-{i * 37 % 10000:04d}",
        "pref_code": str(pref), "municipality_code": "", "lat": f"{lat + 0.001 * i:.4f}",
        "lon": f"{lon + 0.001 * i:.4f}", "phone": f"{area}-{1000 + i}-{2000 + i}", "jsic_main": _jsic(i)[0],
        "jsic_sub1": "", "jsic_sub2": "", "employees": str(20 + 7 * i), "sales": f"{(500 + 113 * i) * grow:.1f}",
        "founded": str(1950 + i), "establishments": str(1 + i % 4),
    }
    if i in (16, 17):  # no provider geocode: the ETL geocodes offline
        row["lat"] = row["lon"] = ""
    if i == 18:  # prefecture left to the address
        row["pref_code"] = ""
    return row


def _companies(year: int) -> pd.DataFrame:
    ids = FIRMS_2005 if year == 2005 else FIRMS_2010
    rows = [_company_row(i, year) for i in ids]
    if year == 2005:
        rows[12]["employees"] = "many"
        rows[13]["lat"] = "999"
        rows[14]["pref_code"] = "48"
        rows[15]["postal_code"] = "12-345"
        rows.insert(20, _company_row(3, year) | {"name": "株式会社重複"})
        rows.append(_company_row(2, year) | {"tsr_id": "000777777", "jsic_main": "91x"})
        rows.append(_company_row(5, year) | {"tsr_id": "000777778", "name": ""})
    else:
        rows[10]["employees"] = "-3"
        rows[11]["lon"] = "abc"
        rows.append(_company_row(8, year) | {"name": "株式会社別名"})
        rows.append(_company_row(9, year) | {"tsr_id": "0012X"})
    return pd.DataFrame(rows)


def _suppliers(b: int, year: int) -> list[int]:
    """Sellers of buyer ``b``: three partners, the third one changes between vintages; a fourth in 2010."""
    ks = [1, 6, 11] if year == 2005 else [1, 6, 13, 20]
    return [(b + k) % N_FIRMS for k in ks]


def _reports(year: int) -> pd.DataFrame:
    """Supplier reports by buyers and customer reports by sellers; who reports a link depends on the pair
    (buyer only, seller only, or both)."""
    present = set(FIRMS_2005 if year == 2005 else FIRMS_2010)
    rows, rank = [], {}
    for b in sorted(present):
        for s in _suppliers(b, year):
            if s not in present or s == b:
                continue
            side = (b + 2 * s + year) % 3  # 0: buyer reports, 1: seller reports, 2: both
            if side in (0, 2):
                rank[b, "supplier"] = rank.get((b, "supplier"), 0) + 1
                rows.append((firm_id(b), firm_id(s), "supplier", rank[b, "supplier"]))
            if side in (1, 2):
                rank[s, "customer"] = rank.get((s, "customer"), 0) + 1
                rows.append((firm_id(s), firm_id(b), "customer", rank[s, "customer"]))
    # parent-child: 10 and 11 (11 supplies 10), 20 and 21 (21 supplies 20), 30 and 5 (no trade link)
    rows += [(firm_id(10), firm_id(11), "shareholder", 1), (firm_id(21), firm_id(20), "shareholder", 1),
             (firm_id(30), firm_id(5), "shareholder", 2)]
    df = pd.DataFrame(rows, columns=["tsr_id", "partner_id", "relation", "rank"]).astype({"rank": str})
    if year == 2005:
        noise = [(firm_id(5), firm_id(5), "supplier", "9"), (firm_id(6), "000999999", "supplier", "9"),
                 ("000888888", firm_id(7), "customer", "1"), tuple(df.iloc[3]),
                 (firm_id(8), firm_id(9), "buyer", "1"), (firm_id(8), firm_id(12), "supplier", "25"),
                 ("12a", firm_id(9), "supplier", "1"), (firm_id(31), firm_id(30), "shareholder", "5"),
                 (firm_id(9), "000777777", "customer", "7")]
    else:
        noise = [(firm_id(40), firm_id(40), "customer", "9"), (firm_id(41), "000999998", "customer", "9"),
                 tuple(df.iloc[7]), (firm_id(42), firm_id(43), "supplier", "0")]
    return pd.concat([df, pd.DataFrame(noise, columns=df.columns)], ignore_index=True)


def _survey_firms() -> list[int]:
    """Manufacturing firms present in both vintages, and three firms TSR does not cover."""
    return [i for i in FIRMS_2005 if i in FIRMS_2010 and _jsic(i)[3] == 1][:24] + [100, 101, 102]


def survey_id(i: int) -> str:
    return f"S{i:07d}" if i % 3 else f"AB-{i}"


def _survey(year: int) -> pd.DataFrame:
    rows = []
    for k, i in enumerate(_survey_firms()):
        place, _, _, _, area = _PLACES[i % len(_PLACES)]
        in_tsr = i < N_FIRMS
        t = year - 2004
        size = 1.0 + 0.05 * t + 0.01 * k
        imports = 0.0 if (k % 3 == 0 or (k % 3 == 1 and year < 2010)) else 12.0 * size  # starters, continuers
        rows.append({
            "survey_id": survey_id(i),
            "name": f"({'株'}){_SURNAMES[i % 12]}{_KINDS[(i // 12) % 4]}" if in_tsr else f"株式会社未収録{i}",
            "address": f"{place}本町{i + 1}-{i % 9 + 1}" if in_tsr else f"{place}別町{i}",
            "phone": f"{area}{1000 + i}{2000 + i}" if in_tsr else "",
            "jsic3": _jsic(i)[1] if in_tsr else "281", "employees": 20 + 7 * i + 3 * t,
            "sales": 800.0 * size, "purchases": 450.0 * size, "value_added": 210.0 * size * (1 + 0.02 * k),
            "tangible_assets": 300.0 * size * (1 + 0.03 * (k % 5)), "investment": 25.0 * size * (1 + 0.04 * (k % 7)),
            "wages": 90.0 * size, "imports_total": imports, "imports_asia": imports * 0.6,
            "imports_europe": imports * 0.2, "imports_north_america": imports * 0.1,
            "imports_other": imports * 0.1, "exports_total": 5.0 * size * (k % 2),
        })
    df = pd.DataFrame(rows)
    if year in (2010,):
        return pd.concat([df, df.iloc[[0]].assign(survey_id="")], ignore_index=True)
    df = df.astype(str)
    if year == 2005:
        df = pd.concat([df, df.iloc[[2]].assign(name="(株)重複")], ignore_index=True)  # duplicate survey_id
        df.loc[len(df)] = df.iloc[4].to_dict() | {"survey_id": "S9999999", "jsic3": "9x"}
        df.loc[5, "employees"] = "n/a"
    return df


def _industry() -> dict[str, pd.DataFrame]:
    jsic = pd.DataFrame([(a, b, c, str(d), "" if e is None else str(e)) for a, b, c, d, e, *_ in _INDUSTRIES],
                        columns=["jsic4", "jsic3", "name", "manufacturing", "sector12"])
    ch = pd.DataFrame([(b, *("" if v is None else str(v) for v in rest)) for _, b, _, _, _, *rest in _INDUSTRIES],
                      columns=["jsic3", "rho", "theta_cp", "air_share", "rauch"])
    mfg = [r for r in _INDUSTRIES if r[3] == 1]
    exports = pd.DataFrame([(r[0], str(y), f"{1e9 * (1 + k) * (1.1 + 0.1 * k if y == 2010 else 1.0):.0f}")
                            for k, r in enumerate(mfg) for y in (2005, 2010)], columns=["jsic4", "year", "exports_usd"])
    wages = pd.DataFrame([(r[1], str(y), str(6000 + 100 * k), str(4000 + 50 * k - 20 * (y == 2010)),
                           str(1000 + k), str(3000 + k)) for k, r in enumerate(mfg) for y in (2005, 2010)],
                         columns=["jsic3", "year", "wage_high", "wage_low", "emp_high", "emp_low"])
    return {"jsic": jsic, "characteristics": ch, "world_exports": exports, "wages": wages}


def write_csv(path: Path, df: pd.DataFrame, encoding: str = "utf-8", bom: bool = False, crlf: bool = False) -> Path:
    """Write ``df`` (all text) as CSV bytes exactly in the given form."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = df.to_csv(index=False, lineterminator="\r\n" if crlf else "\n")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path


def build_fixture_root(root: Path) -> Path:
    """Write the fixture data root under ``root`` (created if needed) and return it."""
    root = Path(root)
    write_csv(root / "tsr/2005/company.csv", _companies(2005), "cp932", crlf=True)
    write_csv(root / "tsr/2005/linkage.csv", _reports(2005), bom=True)
    write_csv(root / "tsr/2010/company.csv", _companies(2010), bom=True, crlf=True)
    links10 = _reports(2010).astype({"rank": "int64"})
    links10.to_parquet(root / "tsr/2010/linkage.parquet", index=False)
    for y in SURVEY_YEARS:
        df = _survey(y)
        if y == 2010:
            df.astype({"employees": "int64"}).to_parquet(root / "bsjbsa/2010.parquet", index=False)
        else:
            write_csv(root / f"bsjbsa/{y}.csv", df, "cp932" if y == 2011 else "utf-8")
    for name, df in _industry().items():
        write_csv(root / f"industry/{name}.csv", df, bom=name == "jsic")
    return root
