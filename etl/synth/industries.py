"""Synthetic JSIC (rev. 11 style) industries, their characteristics (Table A9 moments), an input–output
weight matrix at the 3-digit level, and world exports per 4-digit manufacturing industry (eq. 17)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .params import Planted, Scale

# JSIC rev. 11 manufacturing major groups and the BSJBSA broad product group (1-12) of each.
MFG_GROUPS = [
    ("09", "Food", 1), ("10", "Beverages, tobacco and feed", 1), ("11", "Textile mill products", 2),
    ("12", "Apparel", 2), ("13", "Lumber and wood products", 3), ("14", "Furniture and fixtures", 3),
    ("15", "Pulp, paper and paper products", 3), ("16", "Printing", 3), ("17", "Chemical products", 4),
    ("18", "Petroleum and coal products", 4), ("19", "Plastic products", 5), ("20", "Rubber products", 5),
    ("21", "Leather products", 5), ("22", "Ceramic, stone and clay products", 6), ("23", "Iron and steel", 7),
    ("24", "Non-ferrous metals", 7), ("25", "Fabricated metal products", 8), ("26", "General machinery", 9),
    ("27", "Electrical machinery", 10), ("28", "Information and communication electronics", 10),
    ("29", "Electronic parts and devices", 10), ("30", "Transportation equipment", 11),
    ("31", "Precision instruments", 12), ("32", "Miscellaneous manufacturing", 12),
]
# Non-manufacturing divisions: (2-digit codes, name, share of TSR firms)
NONMFG_GROUPS = [
    (["01", "02"], "Agriculture and forestry", 0.008), (["03", "04"], "Fishing", 0.003),
    (["05"], "Mining", 0.003), (["06", "07", "08"], "Construction", 0.27),
    (["33", "34", "35", "36"], "Electricity, gas and water", 0.004),
    (["37", "38", "39", "40", "41"], "Information services", 0.03),
    (["42", "43", "44", "45", "46", "47", "48"], "Transportation", 0.045),
    (["49", "50", "51", "52", "53", "54"], "Wholesale trade", 0.17),
    (["55", "56", "57", "58", "59", "60"], "Retail trade", 0.12),
    (["61", "62", "64", "65", "67"], "Finance and insurance", 0.01),
    (["68", "69"], "Real estate", 0.04), (["71", "72", "73", "74", "75", "76", "77", "78", "79", "80"],
                                          "Services", 0.117),
]
MFG_FIRM_SHARE = 0.18


def _split(total: int, parts: int, rng: np.random.Generator, minimum: int = 1) -> np.ndarray:
    w = rng.gamma(2.0, 1.0, parts)
    n = np.maximum(minimum, np.floor(w / w.sum() * total).astype(int))
    while n.sum() < total:
        n[rng.integers(parts)] += 1
    while n.sum() > total:
        i = rng.choice(np.flatnonzero(n > minimum))
        n[i] -= 1
    return n


def build_jsic(scale: Scale, rng: np.random.Generator) -> pd.DataFrame:
    """JSIC 4-digit table: jsic4, jsic3, name, manufacturing, sector12, firm_weight (generator only)."""
    rows = []
    n3_per_group = _split(scale.n_mfg3, len(MFG_GROUPS), rng)
    while n3_per_group.max() > 9:  # a JSIC major group has at most 9 three-digit groups here
        n3_per_group[n3_per_group.argmax()] -= 1
        n3_per_group[n3_per_group.argmin()] += 1
    n4_per_3 = _split(scale.n_mfg4, scale.n_mfg3, rng)
    while n4_per_3.max() > 9:  # at most 9 four-digit industries per three-digit group
        n4_per_3[n4_per_3.argmax()] -= 1
        n4_per_3[n4_per_3.argmin()] += 1
    k = 0
    for (g2, gname, sec12), n3 in zip(MFG_GROUPS, n3_per_group, strict=True):
        for a in range(n3):
            j3 = f"{g2}{a + 1}"
            w3 = rng.lognormal(0, 0.8)
            for b in range(min(n4_per_3[k], 9)):
                rows.append((f"{j3}{b + 1}", j3, f"{gname} {j3}-{b + 1}", 1, sec12,
                             MFG_FIRM_SHARE * w3 * rng.lognormal(0, 0.4)))
            k += 1
    mfg = pd.DataFrame(rows, columns=["jsic4", "jsic3", "name", "manufacturing", "sector12", "firm_weight"])
    mfg = mfg.drop_duplicates("jsic4")
    mfg["firm_weight"] *= MFG_FIRM_SHARE / mfg.firm_weight.sum()
    rows = []
    n3 = _split(scale.n_nonmfg3, len(NONMFG_GROUPS), rng)
    for (codes, gname, share), m in zip(NONMFG_GROUPS, n3, strict=True):
        per = _split(m, len(codes), rng, minimum=1) if m >= len(codes) else np.ones(len(codes), int)
        ws = []
        for code, mm in zip(codes, per, strict=True):
            for a in range(min(mm, 9)):
                j3 = f"{code}{a + 1}"
                for b in range(int(rng.integers(2, 5))):
                    ws.append((f"{j3}{b + 1}", j3, f"{gname} {j3}-{b + 1}", 0, np.nan, rng.lognormal(0, 0.7)))
        w = np.array([r[-1] for r in ws])
        w = w / w.sum() * share
        rows += [r[:-1] + (wi,) for r, wi in zip(ws, w, strict=True)]
    non = pd.DataFrame(rows, columns=mfg.columns)
    out = pd.concat([mfg, non], ignore_index=True)
    out["firm_weight"] /= out.firm_weight.sum()
    return out


def build_characteristics(jsic: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Per manufacturing 3-digit industry: rho, theta_cp, air_share, rauch (Table A9 moments), plus the
    firm-revenue Fréchet shape θ′ = θ_firm/(ρ−1) of appendix B.3 (truth, not written to the contract)."""
    j3 = np.sort(jsic.loc[jsic.manufacturing == 1, "jsic3"].unique())
    n = len(j3)
    # rho/(rho-1) = 1 + r, r lognormal with mean .328, sd .262
    m, s = 0.328, 0.262
    sig2 = np.log(1 + (s / m) ** 2)
    r = rng.lognormal(np.log(m) - sig2 / 2, np.sqrt(sig2), n)
    ratio = 1 + np.clip(r, 0.02, None)
    rho = ratio / (ratio - 1)
    # Caliendo-Parro: ~20 sector values, mean 9.82 sd 5.81, shared by the 3-digit industries of a group
    groups = pd.Series(j3).str[:2]
    raw = rng.gamma((9.82 / 5.81) ** 2, 5.81**2 / 9.82, groups.nunique())
    z = (raw - raw.mean()) / raw.std()  # standardised so the group values have Table A9's mean and sd
    cp_by_group = dict(zip(groups.unique(), np.clip(9.82 + 5.81 * z, 1.5, 40.0), strict=True))
    theta_cp = groups.map(cp_by_group).to_numpy()
    rauch = (rng.random(n) < 0.77).astype(float)
    air = np.clip(rng.beta(1.3, 9.0, n), 0.001, 0.8)
    # firm-based theta (mean ~13.7, sd ~9) constrained so that theta' = theta/(rho-1) > 2.3 (finite variance)
    theta_firm = np.clip(rng.gamma((13.7 / 9.0) ** 2, 81 / 13.7, n), 3.0, 45.0)
    theta_firm = np.maximum(theta_firm, 2.3 * (rho - 1) + 0.1)
    theta_prime = theta_firm / (rho - 1)
    ch = pd.DataFrame({"jsic3": j3, "rho": rho, "theta_cp": theta_cp, "air_share": air, "rauch": rauch,
                       "theta_firm": theta_firm, "theta_prime": theta_prime})
    # missing values for a few industries, as in the paper (~6 without rho, 2 without Rauch)
    miss = rng.choice(n, size=max(1, n // 25), replace=False)
    ch.loc[miss, "rho"] = np.nan
    ch.loc[rng.choice(n, size=max(1, n // 75), replace=False), "rauch"] = np.nan
    return ch


def build_io_weights(jsic: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Sparse input–output weights w[buyer jsic3, input jsic3] (rows sum to 1): the buyer's own major
    group, wholesale trade, a random set of manufacturing inputs and services."""
    j3 = jsic.groupby("jsic3", as_index=False).agg(manufacturing=("manufacturing", "first"))
    codes = j3.jsic3.to_numpy()
    mfg = codes[j3.manufacturing.to_numpy() == 1]
    wholesale = codes[np.isin(pd.Series(codes).str[:2], ["49", "50", "51", "52", "53", "54"])]
    services = codes[np.isin(pd.Series(codes).str[:2], ["06", "07", "08", "37", "38", "39", "40", "42", "43", "44",
                                                          "45", "71", "72", "73", "74", "75"])]
    rows = []
    for b in codes:
        own = codes[pd.Series(codes).str[:2].to_numpy() == b[:2]]
        parts = [(own, 0.25), (wholesale, 0.30),
                 (rng.choice(mfg, size=min(len(mfg), 10), replace=False), 0.28),
                 (rng.choice(services, size=min(len(services), 6), replace=False), 0.17)]
        for inputs, share in parts:
            w = rng.dirichlet(np.full(len(inputs), 0.7)) * share
            rows += [(b, s, x) for s, x in zip(inputs, w, strict=True)]
    io = pd.DataFrame(rows, columns=["buyer_jsic3", "input_jsic3", "w"]).groupby(
        ["buyer_jsic3", "input_jsic3"], as_index=False).w.sum()
    io["w"] /= io.groupby("buyer_jsic3").w.transform("sum")
    return io


def build_world_exports(jsic: pd.DataFrame, planted: Planted, rng: np.random.Generator,
                        years=range(2003, 2012)) -> tuple[pd.DataFrame, pd.Series]:
    """World exports (USD, all exporters except Japan) per manufacturing JSIC 4-digit and year, and the
    planted WES_s = ln exp_2010 − ln exp_2005 (eq. 17)."""
    j4 = jsic.loc[jsic.manufacturing == 1, "jsic4"].to_numpy()
    base = rng.lognormal(np.log(2e9), 1.2, len(j4))
    wes = rng.normal(planted.wes_mean, planted.wes_sd, len(j4))
    rows = []
    for y in years:
        frac = (y - 2005) / 5
        noise = 0 if y in (2005, 2010) else rng.normal(0, 0.05, len(j4))
        v = base * np.exp(wes * frac + noise)
        rows.append(pd.DataFrame({"jsic4": j4, "year": y, "exports_usd": np.round(v, 0)}))
    return pd.concat(rows, ignore_index=True), pd.Series(wes, index=j4, name="wes")
