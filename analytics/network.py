"""Network features of the buyer–seller graph (paper sections 3 and 5).

Inputs are link tables (seller_id, buyer_id, dist_km[, parent_child]) of one vintage, as returned by
``GraphStore.edges(year)``, and a firm table indexed by tsr_id. Whole-graph routines use igraph."""

from __future__ import annotations

import igraph as ig
import numpy as np
import pandas as pd

NEAR_KM = 25.0


def degrees(links: pd.DataFrame, side: str = "buyer") -> pd.Series:
    """Sellers per buyer (side='buyer') or buyers per seller (side='seller') (Table 1)."""
    return links.groupby(f"{side}_id").size().rename("k")


def ccdf(k: pd.Series | np.ndarray) -> pd.DataFrame:
    """Share of firms with at least k partners, for each observed k (Figure A1)."""
    k = np.sort(np.asarray(k))
    vals, first = np.unique(k, return_index=True)
    return pd.DataFrame({"k": vals, "share_ge": (len(k) - first) / len(k)})


def add_drop_pairs(l_from: pd.DataFrame, l_to: pd.DataFrame) -> pd.DataFrame:
    """Every buyer–seller pair of either vintage with status continuing / dropped / added and the distance
    (eq. 16 samples), ordered by (seller_id, buyer_id). Links that carry integer firm codes ``s`` and ``b``
    (a study's links; codes in the order of the ids) are matched on them, and the codes are kept."""
    if all(c in l for l in (l_from, l_to) for c in ("s", "b")):
        return _add_drop_pairs_coded(l_from, l_to)
    a = l_from[["seller_id", "buyer_id", "dist_km"]].assign(_f=True)
    b = l_to[["seller_id", "buyer_id", "dist_km"]].assign(_t=True)
    m = a.merge(b, on=["seller_id", "buyer_id"], how="outer", suffixes=("_from", "_to"))
    f, t = m._f.notna().to_numpy(), m._t.notna().to_numpy()
    m["status"] = np.select([f & t, f], ["continuing", "dropped"], "added")
    m["dist_km"] = m.dist_km_from.fillna(m.dist_km_to)
    return m[["seller_id", "buyer_id", "status", "dist_km"]]


def _add_drop_pairs_coded(l_from: pd.DataFrame, l_to: pd.DataFrame) -> pd.DataFrame:
    """``add_drop_pairs`` on integer pair keys (a string merge of millions of ids is the slow part)."""
    n = int(max([l.s.max() for l in (l_from, l_to) if len(l)] + [l.b.max() for l in (l_from, l_to) if len(l)]
                + [-1])) + 1
    kf = l_from.s.to_numpy(np.int64) * n + l_from.b.to_numpy()
    kt = l_to.s.to_numpy(np.int64) * n + l_to.b.to_numpy()
    cols = ["seller_id", "buyer_id", "dist_km", "s", "b"]
    new = ~np.isin(kt, kf)
    f = l_from[cols].assign(status=np.where(np.isin(kf, kt), "continuing", "dropped"))
    m = pd.concat([f, l_to.loc[new, cols].assign(status="added")], ignore_index=True)
    m = m.iloc[np.argsort(np.concatenate([kf, kt[new]]), kind="stable")].reset_index(drop=True)
    return m[["seller_id", "buyer_id", "status", "dist_km", "s", "b"]]


def add_drop_by_buyer(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per buyer: sellers in each vintage, added, dropped, continuing, and shares of the first vintage."""
    c = pairs.pivot_table(index="buyer_id", columns="status", values="seller_id", aggfunc="size", fill_value=0)
    c = c.reindex(columns=["added", "dropped", "continuing"], fill_value=0)
    c["sellers_from"] = c.dropped + c.continuing
    c["sellers_to"] = c.added + c.continuing
    base = c.sellers_from.replace(0, np.nan)
    c["share_dropped"], c["share_added"] = c.dropped / base, c.added / base
    return c


def add_drop_by_industry(pairs: pd.DataFrame, firms: pd.DataFrame, level: str = "jsic3",
                         ind: np.ndarray | None = None) -> pd.DataFrame:
    """Per buyer × input industry: sourced in each vintage, industry added / dropped (eq. 19). ``ind``: the
    sellers' industries by row of ``pairs`` when already at hand (else looked up in ``firms[level]``)."""
    p = pairs.assign(ind=firms[level].reindex(pairs.seller_id).to_numpy() if ind is None else ind)
    p["in_from"] = p.status.isin(["continuing", "dropped"])
    p["in_to"] = p.status.isin(["continuing", "added"])
    g = p.groupby(["buyer_id", "ind"])[["in_from", "in_to"]].any()
    g["added"] = ~g.in_from & g.in_to
    g["dropped"] = g.in_from & ~g.in_to
    return g.reset_index()


def dhs(a, b):
    """Davis–Haltiwanger–Schuh growth (b − a)/((a + b)/2), bounded in [−2, 2] (section 3.2)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return (b - a) / (0.5 * (a + b))


def distance_by_buyer(l_from: pd.DataFrame, l_to: pd.DataFrame) -> pd.DataFrame:
    """Per buyer: mean and median supplier distance per vintage, log difference and DHS growth of the
    mean, share of sellers within 25 km (Table 3 columns 5–6)."""
    out = {}
    for tag, l in (("from", l_from), ("to", l_to)):
        g = l.groupby("buyer_id").dist_km
        out[f"mean_km_{tag}"] = g.mean()
        out[f"median_km_{tag}"] = g.median()
        out[f"share_near_{tag}"] = (l.dist_km < NEAR_KM).groupby(l.buyer_id).mean()
    d = pd.DataFrame(out)
    d["dlog_mean_km"] = np.log(d.mean_km_to) - np.log(d.mean_km_from)
    d["dhs_mean_km"] = dhs(d.mean_km_from, d.mean_km_to)
    return d


def add_vs_drop_distance(pairs: pd.DataFrame) -> pd.Series:
    """Per buyer that both added and dropped sellers: (dist_add − dist_drop)/((dist_add + dist_drop)/2)
    with mean distances of added and of dropped sellers (Table 3 column 7)."""
    m = pairs[pairs.status.isin(["added", "dropped"])].pivot_table(index="buyer_id", columns="status",
                                                                    values="dist_km", aggfunc="mean")
    m = m.dropna()
    return pd.Series(dhs(m.dropped, m.added), index=m.index, name="add_vs_drop_km")


def distance_link_curve(links: pd.DataFrame, edges_km=(0, 5, 10, 25, 50, 100, 200, 400, 800, 1600, 3000)) -> pd.DataFrame:
    """Number and share of links by buyer–seller distance band (Figure 1)."""
    cut = pd.cut(links.dist_km, bins=list(edges_km), right=False, include_lowest=True)
    n = links.groupby(cut, observed=False).size()
    return pd.DataFrame({"band": [str(i) for i in n.index], "lo_km": list(edges_km[:-1]), "hi_km": list(edges_km[1:]),
                         "links": n.to_numpy(), "share": n.to_numpy() / len(links)})


def sourcing_scope(links: pd.DataFrame, firms: pd.DataFrame) -> pd.DataFrame:
    """Per buyer: sellers, input industries (3- and 4-digit) and source prefectures (Tables 2–3, A4)."""
    s = firms[["jsic3", "jsic4", "pref"]].reindex(links.seller_id)
    s.index = links.buyer_id.to_numpy()
    g = s.groupby(level=0)
    return pd.DataFrame({"sellers": g.size(), "input_industries_3": g.jsic3.nunique(),
                         "input_industries_4": g.jsic4.nunique(), "source_prefectures": g.pref.nunique()})


def graph(links: pd.DataFrame) -> ig.Graph:
    """Directed igraph (seller → buyer), vertices named by tsr_id."""
    return ig.Graph.DataFrame(links[["seller_id", "buyer_id"]], directed=True, use_vids=False)


def assortativity(links: pd.DataFrame) -> dict:
    """Degree assortativity both ways: Newman's r (igraph; out-degree of the seller vs in-degree of the
    buyer) and the slope of log mean partner degree on log degree, for buyers (mean buyers-per-seller of
    their sellers) and for sellers (mean sellers-per-buyer of their buyers), as in BMS."""
    g = graph(links)
    r = g.assortativity_degree(directed=True)
    kin, kout = degrees(links, "buyer"), degrees(links, "seller")
    mb = pd.Series(kout.reindex(links.seller_id).to_numpy(), index=links.buyer_id).groupby(level=0).mean()
    ms = pd.Series(kin.reindex(links.buyer_id).to_numpy(), index=links.seller_id).groupby(level=0).mean()
    slope_b = np.polyfit(np.log(kin.reindex(mb.index)), np.log(mb), 1)[0]
    slope_s = np.polyfit(np.log(kout.reindex(ms.index)), np.log(ms), 1)[0]
    return {"newman_r": float(r), "slope_buyers": float(slope_b), "slope_sellers": float(slope_s)}


def reach(g: ig.Graph, firm_id: str, k: int, mode: str = "upstream") -> set[str]:
    """Firms within k hops upstream (suppliers, their suppliers, …) or downstream of a firm."""
    v = g.vs.find(name=firm_id).index
    hood = g.neighborhood(v, order=k, mode="in" if mode == "upstream" else "out")
    return {g.vs[i]["name"] for i in hood if i != v}


def components(links: pd.DataFrame) -> dict:
    """Sizes of the largest weakly and strongly connected components."""
    g = graph(links)
    w, s = g.connected_components(mode="weak"), g.connected_components(mode="strong")
    return {"vertices": g.vcount(), "edges": g.ecount(), "weak_components": len(w), "largest_weak": max(w.sizes()),
            "strong_components": len(s), "largest_strong": max(s.sizes())}
