"""Descriptive tables: Table 1 (links, sellers per buyer), Table 2 (by import status), Tables A1–A2 (by
buyer industry), A3 (BSJBSA firms), A9 (input industries by buyer–seller distance)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.exhibits import Exhibit
from analytics.study import Study

# JSIC rev. 11 divisions by 2-digit major group (public classification), for Table A1's rows.
DIVISIONS = [((1, 2), "Agriculture and forestry"), ((3, 4), "Fishing"), ((5, 5), "Mining"), ((6, 8), "Construction"),
             ((9, 32), "Manufacturing"), ((33, 36), "Electricity, gas, and water supply"),
             ((37, 41), "Information services"), ((42, 48), "Transportation"),
             ((49, 60), "Wholesale and retail trade"), ((61, 67), "Finance and insurance"),
             ((68, 69), "Housing and real estate"), ((70, 72), "Hotels, eating and accommodation"),
             ((73, 75), "Medical services"), ((76, 77), "Education"), ((78, 94), "Services, n.e.c."),
             ((95, 99), "Public services")]


def division(jsic4: pd.Series) -> pd.Series:
    g = pd.to_numeric(jsic4.str[:2], errors="coerce")
    out = pd.Series("Not available", index=jsic4.index)
    for (lo, hi), name in DIVISIONS:
        out[(g >= lo) & (g <= hi)] = name
    return out


def _k(b: np.ndarray) -> np.ndarray:
    """Sellers per buyer from buyer codes (buyers with at least one seller)."""
    k = np.bincount(b)
    return k[k > 0]


def table_1(st: Study) -> Exhibit:
    """Links and sellers per buyer: the TSR network (Panel A) and the regression sample (Panel B)."""
    rows = {}
    sample, both = st.code_mask(st.sample_buyers()), st.both_mask
    for y in (st.y0, st.y1):
        l = st.links[y]
        k = _k(l.b.to_numpy())
        rows[("A. TSR sample", y)] = (len(l), k.mean(), np.median(k))
        reg = l.b.to_numpy()[sample[l.b.to_numpy()] & both[l.s.to_numpy()]]
        k = _k(reg)
        rows[("B. Regression sample", y)] = (len(reg), k.mean(), np.median(k))
    df = pd.DataFrame(rows, index=["Nb. of links", "Mean nb. of sellers", "Median nb. of sellers"]).T
    df.index = [f"{a} {b}" for a, b in df.index]
    df.index.name = "sample"
    return Exhibit("table_1", "Summary statistics of the original network and regression samples", frame=df,
                   notes="Panel A: every link of the TSR vintage after two-way matching. Panel B: manufacturing "
                         "buyers matched to the BSJBSA, buyers and sellers present in both vintages.")


def table_2(st: Study) -> Exhibit:
    """Manufacturing buyers of the regression sample by import status: sellers and source prefectures."""
    b = st.buyers.loc[st.sample_buyers()]
    groups = {"All mfg. buyers": b.index, "Continuing importers": b.index[b.status == "continuing"],
              "Import starters": b.index[b.status == "starter"], "Continuing non-importers": b.index[b.status == "non"]}
    out = {}
    both = st.both_mask
    for name, ids in groups.items():
        col = {"Count": len(ids), "Share": len(ids) / max(len(b), 1)}
        m = st.code_mask(ids)
        for y in (st.y0, st.y1):
            l = st.links[y]
            sel = m[l.b.to_numpy()] & both[l.s.to_numpy()]
            d = pd.DataFrame({"b": l.b.to_numpy()[sel], "p": st.arr(y, "pref")[l.s.to_numpy()[sel]]})
            k = d.groupby("b").size()
            p = d.groupby("b").p.nunique()
            col |= {f"Sellers {y} mean": k.mean(), f"Sellers {y} median": k.median(), f"Sellers {y} max": k.max(),
                    f"Prefectures {y} mean": p.mean(), f"Prefectures {y} median": p.median(),
                    f"Prefectures {y} max": p.max()}
        out[name] = col
    df = pd.DataFrame(out)
    df.index.name = "statistic"
    return Exhibit("table_2", "Summary statistics (number of buyers and sellers) by import status", frame=df,
                   notes="Continuing importers: positive imports in both survey years; import starters: none in the "
                         "base year and positive in the later one; non-importers: none in both.")


def _by_group(st: Study, y: int, b: np.ndarray, label: np.ndarray) -> pd.DataFrame:
    k = np.bincount(b, minlength=len(st.ids))
    has = np.flatnonzero(k)
    g = pd.Series(k[has]).groupby(label[has])
    return pd.DataFrame({f"{y} Nb. of obs.": g.sum(), f"{y} mean": g.mean(), f"{y} median": g.median()})


def table_a1(st: Study) -> Exhibit:
    """Sellers per buyer by the buyer's broad industry, TSR sample, both vintages."""
    parts = []
    for y in (st.y0, st.y1):
        div = division(pd.Series(st.arr(y, "jsic4")).fillna("")).to_numpy()
        parts.append(_by_group(st, y, st.links[y].b.to_numpy(), div))
    df = pd.concat(parts, axis=1)
    df.index.name = "buyer industry"
    return Exhibit("table_A1", "Sellers per buyer by buyer industry, original TSR sample", frame=df)


def table_a2(st: Study) -> Exhibit:
    """Regression sample by manufacturing buyer industry (2-digit group)."""
    sample, both = st.code_mask(st.sample_buyers()), st.both_mask
    parts = []
    for y in (st.y0, st.y1):
        l = st.links[y]
        b = l.b.to_numpy()[sample[l.b.to_numpy()] & both[l.s.to_numpy()]]
        grp = pd.Series(st.arr(y, "jsic4")).fillna("").str[:2].to_numpy()
        parts.append(_by_group(st, y, b, grp))
    df = pd.concat(parts, axis=1)
    df.index.name = "JSIC major group"
    return Exhibit("table_A2", "Sellers per buyer by manufacturing buyer industry, regression sample", frame=df)


def table_a3(st: Study) -> Exhibit:
    """BSJBSA firm characteristics: importers, import intensity, Asian share (all and manufacturing)."""
    mfg3 = set(st.jsic.loc[st.jsic.manufacturing == 1, "jsic3"])
    out = {}
    for y in (st.y0, st.y1):
        s = st.survey[st.survey.year == y]
        for tag, d in (("All industries", s), ("Manufacturing", s[s.jsic3.isin(mfg3)])):
            imp = d.imports_total > 0
            asia = d.imports_asia > 0
            importers = d[imp]
            out[(tag, y)] = {
                "Nb. of firms": len(d), "Nb. of importers": int(imp.sum()), "Nb. of importers from Asia": int(asia.sum()),
                "Fraction of firms that import": imp.mean(), "Fraction importing from Asia": asia.mean(),
                "Average importer's import intensity": (importers.imports_total / importers.purchases).mean(),
                "Average importer's share from Asia": (importers.imports_asia / importers.imports_total).mean()}
    df = pd.DataFrame(out)
    df.columns = [f"{a} {b}" for a, b in df.columns]
    df.index.name = "statistic"
    return Exhibit("table_A3", "Firm characteristics in the Basic Survey of Japanese Business Structure and Activities",
                   frame=df)


def table_a9(st: Study) -> Exhibit:
    """Input industries (3-digit) by distance from manufacturing buyers, base vintage: top and bottom 20
    by mean distance, with their characteristics, and moments across industries."""
    l = st.links[st.y0]
    l = l[st.mfg_mask()[l.b.to_numpy()] & ~l.parent_child.to_numpy()]
    ind = st.arr(st.y0, "jsic3")[l.s.to_numpy()]
    g = l.dist_km.groupby(ind)
    d = pd.DataFrame({"Nb. of links": g.size(), "Median": g.median(), "Mean": g.mean(),
                      "25th pct": g.quantile(0.25), "75th pct": g.quantile(0.75)})
    ch = st.chars.reindex(d.index)
    d["rho/(rho-1)"], d["Rauch"] = ch.ratio, ch.rauch.astype(float)
    d["theta (Caliendo-Parro)"], d["theta (firm-based)"] = ch.theta_cp, ch.theta_firm
    d = d.sort_values("Mean", ascending=False)
    top, bottom = d.head(20), d.tail(20)
    mom = pd.DataFrame({"Mean across industries": st.chars[["ratio", "rauch", "theta_cp", "theta_firm"]].mean(),
                        "Median across industries": st.chars[["ratio", "rauch", "theta_cp", "theta_firm"]].median(),
                        "SD across industries": st.chars[["ratio", "rauch", "theta_cp", "theta_firm"]].std()}).T
    mom.columns = ["rho/(rho-1)", "Rauch", "theta (Caliendo-Parro)", "theta (firm-based)"]
    df = pd.concat([top.assign(group="Top 20"), bottom.assign(group="Bottom 20"), mom.assign(group="Moments")])
    df.index = [str(i) for i in df.index]
    df.index.name = "seller industry"
    return Exhibit("table_A9", "Input industries by buyer-seller distance and characteristics", frame=df,
                   notes="Distances in km; manufacturing buyers; parent-child links removed.")


def all_descriptives() -> list:
    return [table_1, table_2, table_a1, table_a2, table_a3, table_a9]


def ccdf_frame(st: Study) -> dict[str, pd.DataFrame]:
    """Sellers-per-buyer CCDFs (Figure A1): TSR sample and regression sample, base vintage."""
    from analytics.network import ccdf

    l = st.links[st.y0]
    sample, both = st.code_mask(st.sample_buyers()), st.both_mask
    reg = l.b.to_numpy()[sample[l.b.to_numpy()] & both[l.s.to_numpy()]]
    return {"TSR sample": ccdf(_k(l.b.to_numpy())), "Regression sample": ccdf(_k(reg))}

