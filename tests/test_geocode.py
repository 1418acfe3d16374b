"""Offline geocoder on real addresses of public buildings with published coordinates.

``tests/data/geocode_public_buildings.csv`` lists prefectural offices, city halls and former town halls
with the coordinates their sources give (the source of every row is in the file); each address is
rewritten here in the notations business files use, independently of the geocoder's own
normalisation (kanji numerals by kanjize, width by str.translate). ``municipality_changes.csv`` lists
the Heisei mergers behind the pre-merger addresses, each with its source."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kanjize import kanji2number, number2kanji

from etl.geo import Geocoder, haversine_km, towns

DATA = Path(__file__).parent / "data"
_FULL = str.maketrans("0123456789-", "０１２３４５６７８９－")
_KANJI_NUM = "〇一二三四五六七八九十"


def _arabic(s: str) -> str:
    return re.sub(rf"[{_KANJI_NUM}]+(?=丁目|条)", lambda m: str(kanji2number(m.group(0))), s)


def _hyphenated(s: str) -> str:
    """``2丁目8番1号`` / ``2丁目8番地の1`` / ``978番6`` → ``2-8-1`` / ``978-6`` (block numbers only)."""
    s = _arabic(s)
    s = re.sub(r"(\d+)丁目(\d+)番地?の?(\d+)号?$", r"\1-\2-\3", s)
    s = re.sub(r"(\d+)丁目(\d+)番地?$", r"\1-\2", s)
    s = re.sub(r"(\d+)番地?の?(\d+)号?$", r"\1-\2", s)
    return re.sub(r"(\d+)番地?$", r"\1", s)


def _kanji_chome(s: str) -> str:
    return re.sub(r"\d+(?=丁目|条)", lambda m: number2kanji(int(m.group(0))), _arabic(s))


def _banchi_no(s: str) -> str:
    return re.sub(r"(\d+)-(\d+)-(\d+)$", r"\1丁目\2番地の\3", _hyphenated(s))


def notations(address: str) -> set[str]:
    """The same address as business databases write it."""
    h = _hyphenated(address)
    pref_split = re.sub(r"^(東京都|北海道|(?:京都|大阪)府|.{2,3}県)", r"\1 ", address)
    return {address, h, h.translate(_FULL), h.replace("-", "ー"), h.replace("-", "−"), _kanji_chome(address),
            _banchi_no(address), pref_split}


@pytest.fixture(scope="module")
def buildings() -> pd.DataFrame:
    return pd.read_csv(DATA / "geocode_public_buildings.csv", dtype=str).fillna("")


@pytest.fixture(scope="module")
def changes() -> pd.DataFrame:
    return pd.read_csv(DATA / "municipality_changes.csv", dtype=str)


@pytest.fixture(scope="module")
def results(buildings, changes) -> pd.DataFrame:
    g = Geocoder(changes)
    old_names = [re.sub(r"^.+郡", "", n) for n in changes.old_name]
    rows = []
    for b in buildings.itertuples():
        for base in (b.address, b.old_address):
            kind = "pre-merger" if any(n in base for n in old_names) else "current"
            for a in sorted(notations(base)) if base else []:
                lat, lon, prec, pref, muni = g.geocode(a)
                rows.append({"building": b.building, "kind": kind, "address": a, "precision": prec,
                             "km": float(haversine_km(lat, lon, float(b.lat), float(b.lon)))})
    return pd.DataFrame(rows)


def test_test_set_is_large_and_sourced(buildings):
    assert buildings.building.nunique() >= 60
    assert (buildings.coord_source != "").all() and (buildings.address_source != "").all()
    # coordinates given to at least 1e-4 degree, inside Japan
    lat, lon = buildings.lat.astype(float), buildings.lon.astype(float)
    assert lat.between(24, 46).all() and lon.between(122, 154).all()


def test_public_buildings_geocode_at_district_precision(results):
    """≥ 95% of all notations at district precision, median error ≤ 0.3 km."""
    share = (results.precision == "district").mean()
    median = results.km.median()
    assert len(results) >= 300
    assert share >= 0.95, results[results.precision != "district"].to_string()
    assert median <= 0.3
    # no building named by its municipality falls back to the prefecture capital
    assert not results.precision.isin(["prefecture", "none"]).any()
    # the pre-merger addresses are part of the measure and meet it on their own
    old = results[results.kind == "pre-merger"]
    assert old.building.nunique() >= 9 and len(old) >= 40
    assert (old.precision == "district").mean() >= 0.95 and old.km.median() <= 0.5


def test_pre_merger_names_need_the_changes_table(buildings):
    """Without the changes table a pre-merger name only yields the prefecture; with it, the district."""
    old = buildings[buildings.old_address != ""]
    plain = Geocoder()
    assert {plain.geocode(a)[2] for a in old.old_address} == {"prefecture"}


def test_notations_match_the_district_point_exactly():
    """Every notation of 西新宿二丁目 lands on Geolonia's point for that district of 新宿区 (13104)."""
    t = towns()
    row = t[(t.muni_code == "13104") & (t.town == "西新宿二丁目")].iloc[0]
    g = Geocoder()
    for a in notations("東京都新宿区西新宿二丁目8番1号"):
        lat, lon, prec, pref, muni = g.geocode(a)
        assert (lat, lon, prec, pref, muni) == (row.lat, row.lon, "district", 13, "13104"), a


@pytest.mark.parametrize("address,muni,town", [
    ("北海道札幌市中央区北3条西6丁目", "01101", "北三条西六丁目"),            # Sapporo grid, arabic
    ("北海道札幌市中央区北三条西六丁目", "01101", "北三条西六丁目"),
    ("京都府京都市上京区下立売通新町西入薮ノ内町", "26102", "藪之内町"),   # street notation, 薮/藪 and ノ/之
    ("京都府京都市中京区寺町通御池上る上本能寺前町488", "26104", "上本能寺前町"),
    ("長野県長野市大字南長野字幅下692-2", "20201", "大字南長野"),          # 大字 and 字
    ("東京都千代田区霞ケ関1-1", "13101", "霞が関一丁目"),                   # ケ / が
    ("埼玉県さいたま市高砂3-15-1", "11107", "高砂三丁目"),                  # designated city without its ward
    ("〒163-8001 東京都新宿区西新宿2-8-1", "13104", "西新宿二丁目"),         # postal code written in front
    ("新宿区西新宿2-8-1", "13104", "西新宿二丁目"),                         # no prefecture: one ward has it
])
def test_notation_examples(address, muni, town):
    t = towns()
    row = t[(t.muni_code == muni) & (t.town == town)].iloc[0]
    lat, lon, prec, _, code = Geocoder().geocode(address)
    assert (prec, code) == ("district", muni)
    assert (lat, lon) == (row.lat, row.lon)


def test_old_code_maps_to_current(changes):
    g = Geocoder(changes)
    assert g.current_code("11204") == "11100" and g.current_code("13104") == "13104"


def test_no_prefecture_and_a_ward_name_of_several_cities_is_not_guessed():
    assert Geocoder().geocode("中央区心斎橋筋1-1")[2] == "none"  # Osaka's 中央区, not Tokyo's


def test_unknown_current_code_is_refused():
    bad = pd.DataFrame({"old_name": ["架空町"], "new_code": ["99999"], "effective": ["2005-01-01"]})
    with pytest.raises(ValueError, match="99999"):
        Geocoder(bad)


def test_unresolved_prefix_shows_where_matching_stopped():
    g = Geocoder()
    assert g.unresolved_prefix("静岡県浜名郡舞阪町舞阪2664") == "静岡県浜名郡舞"
    assert g.unresolved_prefix("東京都新宿区西新宿9丁目99") == "東京都新宿区西新宿"


def test_accuracy_figures_are_reported(results, capsys):
    """Not an assertion of its own: prints the measured figures (pytest -s shows them)."""
    by = results.groupby("kind").agg(n=("km", "size"), district=("precision", lambda p: (p == "district").mean()),
                                     median_km=("km", "median"), p90_km=("km", lambda k: np.quantile(k, 0.9)))
    print(by.to_string())
    assert set(by.index) == {"current", "pre-merger"}


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def hand_root(tmp_path_factory) -> Path:
    """A data root written by hand: pre-merger and modern notations, one unresolvable address, a
    changes file with one good row, one bad date and one unknown current code."""
    root = tmp_path_factory.mktemp("geo_root")
    header = "tsr_id,name,address,jsic_main\n"
    _write(root / "tsr/2005/company.csv", header + "\n".join([
        "001,株式会社甲,埼玉県浦和市高砂3-15-1,0911",
        "002,株式会社乙,東京都新宿区西新宿２－８－１,0911",
        "003,株式会社丙,東京都新宿区字不明99,0911",
        "004,株式会社丁,東京都新宿区字不明12,0911",
        "005,株式会社戊,長野県更埴市杭瀬下84,0911"]) + "\n")
    _write(root / "tsr/2005/linkage.csv", "tsr_id,partner_id,relation,rank\n001,002,supplier,1\n")
    _write(root / "tsr/2010/company.csv", header + "001,株式会社甲,埼玉県さいたま市浦和区高砂三丁目15番1号,0911\n"
                                                   "002,株式会社乙,東京都新宿区西新宿2丁目8番地の1,0911\n")
    _write(root / "tsr/2010/linkage.csv", "tsr_id,partner_id,relation,rank\n001,002,supplier,1\n")
    _write(root / "industry/jsic.csv", "jsic4,jsic3,name,manufacturing,sector12\n0911,091,Meat,1,1\n")
    for name, text in (("characteristics", "jsic3,rho,theta_cp,air_share,rauch\n091,3,4,0.1,1\n"),
                       ("world_exports", "jsic4,year,exports_usd\n0911,2005,1\n0911,2010,2\n"),
                       ("wages", "jsic3,year,wage_high,wage_low\n091,2005,5,3\n")):
        _write(root / f"industry/{name}.csv", text)
    _write(root / "geo/municipality_changes.csv",
           "old_name,old_code,new_code,effective\n浦和市,11204,11100,2001-05-01\n"
           "更埴市,20216,20218,2003/09/01\n架空市,99999,99999,2005-01-01\n")
    return root


def test_etl_honours_changes_and_reports_precision(hand_root):
    from etl.pipeline import Cache, run_etl

    rep = run_etl(hand_root)
    c = rep["geo"]["municipality_changes"]
    assert (c["rows_read"], c["rows_loaded"], c["rows_rejected"]) == (3, 1, 2)
    q = pd.read_csv(hand_root / ".prodnet/cache/quarantine/geo.csv")
    assert sorted(zip(q.line, q.column, strict=True)) == [(3, "effective"), (4, "new_code")]
    g05 = rep["tsr/2005"]["geocoding"]
    # 浦和市 resolves through the changes file; 更埴市 (its row rejected) stays at the prefecture
    assert g05["precision"] == {"provider": 0, "district": 2, "postal": 0, "municipality": 2, "prefecture": 1,
                                "none": 0}
    assert g05["unresolved_prefixes"] == [["東京都新宿区字不明", 2], ["長野県更埴市杭", 1]]
    assert rep["tsr/2010"]["geocoding"]["precision"]["district"] == 2
    firms = Cache(hand_root / ".prodnet").read("firms_2005").set_index("tsr_id")
    t = towns()
    row = t[(t.muni_code == "11107") & (t.town == "高砂三丁目")].iloc[0]
    assert (firms.lat["001"], firms.lon["001"], firms.municipality_code["001"]) == (row.lat, row.lon, "11107")
    # a second run reuses every part; fixing the changes file rebuilds the vintages
    assert all(v.get("reused") for k, v in run_etl(hand_root).items() if k.startswith("tsr/"))
    _write(hand_root / "geo/municipality_changes.csv",
           "old_name,old_code,new_code,effective\n浦和市,11204,11100,2001-05-01\n更埴市,20216,20218,2003-09-01\n")
    rep = run_etl(hand_root)
    assert rep["tsr/2005"]["geocoding"]["precision"]["district"] == 3
    assert rep["geo"]["municipality_changes"]["rows_loaded"] == 2


def test_report_intro_counts_precision(hand_root):
    from types import SimpleNamespace

    from analytics.run import _geocoding
    from etl.pipeline import Cache, run_etl

    run_etl(hand_root)
    c = Cache(hand_root / ".prodnet")
    firms = {y: c.read(f"firms_{y}") for y in (2005, 2010)}
    text = _geocoding(SimpleNamespace(y0=2005, y1=2010, firms=firms))
    n05 = firms[2005].geo_precision.value_counts()
    assert f"2005: district {n05['district']}, municipality {n05['municipality']}" in text
    assert f"2010: district {(firms[2010].geo_precision == 'district').sum()}." in text


def test_a_kanji_run_that_is_not_a_numeral_is_kept_not_an_error():
    """A run of numeral kanji before 丁目/番… that kanjize cannot read (十十) is kept as written: the
    address still gets a key, and equal texts still match (found by the columnar property test)."""
    from etl.geo import address_key, map_text

    assert address_key("東京都千代田区丸の内十十丁目") == address_key("東京都千代田区丸の内十十丁目")
    assert "十十" in address_key("東京都千代田区丸の内十十丁目")
    assert address_key("丸の内二十三番").endswith("23番")
    assert map_text(["十十丁目", "三丁目"], address_key) == [address_key("十十丁目"), "3丁目"]
