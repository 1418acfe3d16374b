"""Synthetic firms: identities, locations, industries and sizes (paper section 2, appendix B.3)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.geo import municipalities, prefectures, towns

# 2010 census population (millions) per prefecture; firm density weights, with the head-office
# concentration of Tokyo, Osaka and Aichi boosted.
_POP = [5.51, 1.37, 1.33, 2.35, 1.09, 1.17, 2.03, 2.97, 2.01, 2.01, 7.19, 6.22, 13.16, 9.05, 2.37, 1.09, 1.17,
        0.81, 0.86, 2.15, 2.08, 3.77, 7.41, 1.85, 1.41, 2.64, 8.87, 5.59, 1.40, 1.00, 0.59, 0.72, 1.95, 2.86,
        1.45, 0.79, 1.00, 1.43, 0.76, 5.07, 0.85, 1.43, 1.82, 1.20, 1.14, 1.71, 1.39]
_BOOST = {13: 1.9, 27: 1.35, 23: 1.25}

_SURNAMES = ("山田 田中 佐藤 鈴木 高橋 伊藤 渡辺 中村 小林 加藤 吉田 山本 松本 井上 木村 清水 山口 池田 橋本 阿部 石川 "
             "山崎 中島 前田 藤田 小川 岡田 後藤 長谷川 村上 近藤 石井 坂本 遠藤 青木 藤井 西村 福田 太田 三浦 藤原 "
             "岡本 松田 中川 中野 原田 小野 竹内 金子 和田").split()
_BRANDS = "東邦 日東 大和 三協 共栄 新日本 北陸 関西 中部 東洋 太平 富士 旭 昭和 平和 明治 大成 三和 協和 丸".split()
_WORDS_MFG = "製作所 工業 化学 電機 精工 食品 繊維 産業 金属 機械 製紙 印刷 樹脂 硝子 電子".split()
_WORDS_NON = "建設 工務店 商事 商店 物産 運輸 不動産 サービス システム 設備 興業 通商".split()
_FORMS = ("株式会社", "有限会社", "合同会社")
_AREA = {13: "03", 27: "06", 23: "052", 14: "045", 1: "011", 40: "092", 26: "075", 28: "078"}


def _join(*parts) -> pa.Array:
    """Element-wise concatenation of string arrays (or scalars) with Arrow: no Python object per value."""
    text = pa.large_string()
    return pc.binary_join_element_wise(*(x.cast(text) if isinstance(x, pa.Array) else pa.scalar(x, text)
                                         for x in parts), pa.scalar("", text))


def _digits(x: np.ndarray, width: int) -> pa.Array:
    """Non-negative integers as decimal text left-padded with zeros to ``width`` (``f"{x:0{width}d}"``)."""
    return pc.utf8_lpad(pa.array(x).cast(pa.string()), width, "0")


def _phone(pref: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """Phone numbers ``area-mid-last``: the prefecture's area code (2–4 digits) and 8 random digits of which
    the mid part takes 6 minus the area code's length."""
    codes, at = np.unique(pref, return_inverse=True)
    areas = [_AREA.get(int(p), f"0{200 + 17 * int(p)}"[:4]) for p in codes]
    mid = np.array([{2: 4, 3: 3}.get(len(a), 2) for a in areas])[at]
    nums = rng.integers(0, 10**8, len(pref))
    out = pa.nulls(len(pref), pa.large_string())
    for m in np.unique(mid).tolist():  # the 8 digits split after the m-th: mid part m digits, last part 4
        rows = mid == m
        n = nums[rows]
        part = _join(pa.array(areas).take(pa.array(at[rows])), "-", _digits(n // 10 ** (8 - m), m), "-",
                     _digits(n // 10 ** (4 - m) % 10**4, 4))
        out = pc.replace_with_mask(out, pa.array(rows), part)
    return out


def _pick(words, i: np.ndarray) -> pa.Array:
    """``words[i]`` for each index, as an Arrow string array."""
    return pa.array(words).take(pa.array(i))


def _names(manufacturing: np.ndarray, rng: np.random.Generator) -> tuple[pa.Array, pa.Array]:
    n = len(manufacturing)
    stem = pc.if_else(pa.array(rng.random(n) < 0.6), _pick(_SURNAMES, rng.integers(len(_SURNAMES), size=n)),
                      _pick(_BRANDS, rng.integers(len(_BRANDS), size=n)))
    word = pc.if_else(pa.array(manufacturing == 1), _pick(_WORDS_MFG, rng.integers(len(_WORDS_MFG), size=n)),
                      _pick(_WORDS_NON, rng.integers(len(_WORDS_NON), size=n)))
    form = _pick(_FORMS, rng.choice(3, size=n, p=[0.74, 0.21, 0.05]))
    prefix = pa.array(rng.random(n) < 0.55)
    core = _join(stem, word)
    return pc.if_else(prefix, _join(form, core), _join(core, form)), core


def build_firms(n_total: int, n_2005: int, exit_rate: float, jsic: pd.DataFrame, theta_prime: pd.Series,
                rng: np.random.Generator) -> pd.DataFrame:
    """Firm universe of both vintages with locations (district points), industries and Fréchet sales."""
    ids = rng.choice(10**9, size=n_total, replace=False)
    f = pd.DataFrame({"tsr_id": np.char.zfill(ids.astype(str), 9)})
    f["alive05"] = np.arange(n_total) < n_2005
    f["alive10"] = ~f.alive05 | (rng.random(n_total) >= exit_rate)
    # industry
    j = jsic.sample(n_total, replace=True, weights="firm_weight", random_state=rng).reset_index(drop=True)
    f["jsic4"], f["jsic3"], f["manufacturing"] = j.jsic4.to_numpy(), j.jsic3.to_numpy(), j.manufacturing.to_numpy()
    # location: prefecture by density weight, then a district point uniformly within it
    p = prefectures()
    w = np.array(_POP) * np.array([_BOOST.get(c, 1.0) for c in p.pref_code])
    f["pref_code"] = rng.choice(p.pref_code.to_numpy(), size=n_total, p=w / w.sum())
    t = towns()
    t_by_pref = t.groupby("pref_code").indices
    town_idx = np.empty(n_total, dtype=np.int64)
    for code, idx in f.groupby("pref_code").indices.items():
        pool = t_by_pref[code]
        town_idx[idx] = pool[rng.integers(len(pool), size=len(idx))]
    tt = t.iloc[town_idx]
    f["muni_code"], f["muni_name"], f["town"] = tt.muni_code.to_numpy(), tt.muni_name.to_numpy(), tt.town.to_numpy()
    f["town_lat"], f["town_lon"] = tt.lat.to_numpy(), tt.lon.to_numpy()
    f["lat"] = f.town_lat + rng.normal(0, 0.0015, n_total)
    f["lon"] = f.town_lon + rng.normal(0, 0.0015, n_total)
    m = municipalities().reset_index(drop=True)
    f["muni_idx"] = pd.Series(np.arange(len(m)), index=m.muni_code).reindex(f.muni_code).to_numpy()
    # sales (thousand yen): Fréchet(theta'_s) per 3-digit industry (appendix B.3); scale per industry
    tp = theta_prime.reindex(f.jsic3).fillna(3.0).to_numpy()
    ind_scale = pd.Series(rng.lognormal(np.log(1.2e5), 0.5, f.jsic3.nunique()), index=f.jsic3.unique())
    u = rng.random(n_total)
    f["sales05"] = ind_scale.reindex(f.jsic3).to_numpy() * (-np.log(u)) ** (-1.0 / tp)
    f["sales10"] = f.sales05 * np.exp(rng.normal(0.02, 0.12, n_total))
    # names, phones and addresses: the draws in order, the text built by Arrow (850k firms at full scale)
    name, core = _names(f.manufacturing.to_numpy(), rng)
    phone = _phone(f.pref_code.to_numpy(), rng)
    banchi = _join(_digits(rng.integers(1, 40, n_total), 1), "番", _digits(rng.integers(1, 30, n_total), 1), "号")
    pname = p.set_index("pref_code").name_ja.reindex(f.pref_code).to_numpy(str)
    address = _join(pa.array(pname), pa.array(f.muni_name), pa.array(f.town), banchi)
    for col, values in (("name", name), ("name_core", core), ("phone", phone), ("banchi", banchi),
                        ("address", address)):
        f[col] = values.to_pandas().array
    f["founded"] = rng.integers(1900, 2005, n_total)
    f.loc[~f.alive05, "founded"] = rng.integers(2005, 2011, (~f.alive05).sum())
    f["u"] = rng.normal(0, 1, n_total)  # unobserved buyer shock (moves importing and add/drop)
    return f


def assign_by_rank(values: np.ndarray, score: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    """Give the largest values to the firms with the highest ``score`` + noise (rank correlation)."""
    s = score + rng.normal(0, noise, len(score))
    out = np.empty_like(values)
    out[np.argsort(s)] = np.sort(values)
    return out


def pareto_floor(n: int, alpha: float, xm: float, cap: int, rng: np.random.Generator,
                 u: np.ndarray | None = None) -> np.ndarray:
    """Integer degrees floor(xm · U^(−1/α)), capped: a power-law tail with exponent α (CCDF slope −α)."""
    u = rng.random(n) if u is None else u
    return np.minimum(np.floor(xm * u ** (-1.0 / alpha)), cap).astype(np.int64)
