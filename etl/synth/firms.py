"""Synthetic firms: identities, locations, industries and sizes (paper section 2, appendix B.3)."""

from __future__ import annotations

import numpy as np
import pandas as pd

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


def _phone(pref: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Phone numbers ``area-mid-last``: the prefecture's area code (2–4 digits) and 8 random digits of which
    the mid part takes 6 minus the area code's length."""
    codes, at = np.unique(pref, return_inverse=True)
    areas = [_AREA.get(int(p), f"0{200 + 17 * int(p)}"[:4]) for p in codes]
    heads = [(a, {2: 4, 3: 3}.get(len(a), 2)) for a in areas]
    nums = rng.integers(0, 10**8, len(pref))
    out = []
    for i, n in zip(at.tolist(), nums.tolist(), strict=True):
        a, m = heads[i]
        s = f"{n:08d}"
        out.append(f"{a}-{s[:m]}-{s[m:m + 4]}")
    return np.array(out)


def _names(manufacturing: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n = len(manufacturing)
    stem = np.where(rng.random(n) < 0.6, np.array(_SURNAMES)[rng.integers(len(_SURNAMES), size=n)],
                    np.array(_BRANDS)[rng.integers(len(_BRANDS), size=n)])
    word = np.where(manufacturing == 1, np.array(_WORDS_MFG)[rng.integers(len(_WORDS_MFG), size=n)],
                    np.array(_WORDS_NON)[rng.integers(len(_WORDS_NON), size=n)])
    form = np.array(_FORMS)[rng.choice(3, size=n, p=[0.74, 0.21, 0.05])]
    prefix = rng.random(n) < 0.55
    core = np.char.add(stem, word)
    name = np.where(prefix, np.char.add(form, core), np.char.add(core, form))
    return name, core


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
    f["name"], f["name_core"] = _names(f.manufacturing.to_numpy(), rng)
    f["phone"] = _phone(f.pref_code.to_numpy(), rng)
    f["banchi"] = [f"{a}番{b}号" for a, b in zip(rng.integers(1, 40, n_total), rng.integers(1, 30, n_total), strict=True)]
    pname = p.set_index("pref_code").name_ja
    f["address"] = pname.reindex(f.pref_code).to_numpy() + f.muni_name + f.town + f.banchi
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
