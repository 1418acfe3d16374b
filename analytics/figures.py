"""Figures 1–5, A1, A3, A4 (matplotlib, PNG). Maps use the real prefecture polygons (japanmap, shapely)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analytics import network as nw  # noqa: E402
from analytics import power_law as pl  # noqa: E402
from analytics.descriptives import ccdf_frame  # noqa: E402
from analytics.exhibits import Exhibit  # noqa: E402
from analytics.study import Study  # noqa: E402
from etl.geo import prefecture_polygons, prefectures  # noqa: E402

DPI = 110


def _save(fig, out: Path, name: str) -> Path:
    p = out / f"{name}.png"
    fig.savefig(p, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return p


def figure_1(st: Study, out: Path) -> Exhibit:
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for y in (st.y0, st.y1):
        c = nw.distance_link_curve(st.links[y])
        ax.plot(np.arange(len(c)), c.links, marker="o", label=str(y))
    ax.set_xticks(np.arange(len(c)), [f"{int(a)}–{int(b)}" for a, b in zip(c.lo_km, c.hi_km, strict=True)], rotation=45)
    ax.set_yscale("log")
    ax.set_xlabel("distance between buyer and seller (km)")
    ax.set_ylabel("number of links")
    ax.legend()
    share = (st.links[st.y0].dist_km < 25).mean()
    return Exhibit("figure_1", "Distance and number of links", figure=_save(fig, out, "figure_1"),
                   notes=f"{share:.0%} of {st.y0} links are within 25 km of the buyer.")


def _binned(x: np.ndarray, y: np.ndarray, bins: int = 20) -> tuple[np.ndarray, np.ndarray]:
    q = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)))
    idx = np.clip(np.searchsorted(q, x, side="right") - 1, 0, len(q) - 2)
    g = pd.DataFrame({"i": idx, "x": x, "y": y}).groupby("i").mean()
    return g.x.to_numpy(), g.y.to_numpy()


def _sales_scatter(st: Study, out: Path, what: str, num: str) -> Exhibit:
    l = st.links[st.y0]
    l = l[st.mfg_mask()[l.b.to_numpy()]]
    f = st.firms[st.y0]
    if what == "sellers":
        k = l.groupby("buyer_id").size()
    else:
        k = pd.Series(f.pref.reindex(l.seller_id).to_numpy(), index=l.buyer_id.to_numpy()).groupby(level=0).nunique()
    sales = f.sales.reindex(k.index).to_numpy(float)
    ok = sales > 0
    x, y = np.log(sales[ok]), np.log(k.to_numpy()[ok])
    bx, by = _binned(x, y)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.scatter(x, y, s=2, alpha=0.15, color="grey")
    ax.plot(bx, by, "o-", color="C3", label="binned means")
    slope = np.polyfit(x, y, 1)[0]
    ax.set_xlabel("log buyer sales")
    ax.set_ylabel(f"log number of {'sellers' if what == 'sellers' else 'source prefectures'}")
    ax.legend(title=f"slope {slope:.3f}")
    title = "Number of sellers and buyers' sales" if what == "sellers" else "Number of prefectures sourced and buyer sales"
    return Exhibit(f"figure_{num}", title, figure=_save(fig, out, f"figure_{num}"),
                   notes=f"Manufacturing buyers, {st.y0}; OLS slope {slope:.3f}.")


def figure_2(st: Study, out: Path) -> Exhibit:
    return _sales_scatter(st, out, "sellers", "2")


def figure_3(st: Study, out: Path) -> Exhibit:
    return _sales_scatter(st, out, "prefectures", "3")


def _japan(ax, values: pd.Series | None = None, cmap: str = "Blues"):
    polys = prefecture_polygons()
    vmax = float(values.max()) if values is not None and len(values) else 1.0
    cm = plt.get_cmap(cmap)
    for code, poly in polys.items():
        if poly is None:
            continue
        geoms = getattr(poly, "geoms", [poly])
        v = None if values is None else values.get(code)
        color = "#f2f2f2" if v is None or not np.isfinite(v) else cm(0.15 + 0.85 * v / vmax)
        for g in geoms:
            xs, ys = g.exterior.xy
            ax.fill(xs, ys, facecolor=color, edgecolor="#777", linewidth=0.3)
    ax.set_aspect(1.2)
    ax.axis("off")


def _electronics_map(st: Study, out: Path, status: str, num: str) -> Exhibit:
    """Sellers added or dropped by newly offshoring electronics buyers (BSJBSA sector 10)."""
    sec = st.jsic.set_index("jsic4").sector12
    starters = st.buyers.index[(st.buyers.status == "starter")]
    f0, f1 = st.firms[st.y0], st.firms[st.y1]
    sec_of = pd.to_numeric(sec.reindex(f0.jsic4.reindex(starters)), errors="coerce").to_numpy()
    elec = list(starters[sec_of == 10])
    pairs = nw.add_drop_pairs(st.links_of(st.y0, pd.Index(elec), False), st.links_of(st.y1, pd.Index(elec), False))
    p = pairs[pairs.status == status]
    fig, ax = plt.subplots(figsize=(6, 6))
    _japan(ax)
    sel = pd.concat([f0, f1[~st.in_vintage(st.y0, f1.index)]])[["lat", "lon"]]  # base-vintage place first
    s = sel.reindex(p.seller_id)
    b = sel.reindex(elec)
    ax.scatter(s.lon, s.lat, s=6, color="C0", alpha=0.6, label=f"{status} sellers ({len(p)})")
    ax.scatter(b.lon, b.lat, s=14, color="C3", label=f"newly offshoring electronics buyers ({len(elec)})")
    ax.legend(loc="lower right", fontsize=8)
    title = f"Sellers that were {status} by newly offshoring electronics producers ({st.y0}-{st.y1})"
    return Exhibit(f"figure_{num}", title, figure=_save(fig, out, f"figure_{num}"))


def figure_4(st: Study, out: Path) -> Exhibit:
    return _electronics_map(st, out, "added", "4")


def figure_5(st: Study, out: Path) -> Exhibit:
    return _electronics_map(st, out, "dropped", "5")


def figure_a1(st: Study, out: Path) -> Exhibit:
    fig, ax = plt.subplots(figsize=(5.5, 4))
    truth = []
    k = st.links[st.y0].groupby("buyer_id").size().to_numpy()
    fit = pl.compare(k, pl.fit(k))
    for name, c in ccdf_frame(st).items():
        ax.loglog(c.k, c.share_ge, ".", ms=4, label=name)
    xs = np.logspace(np.log10(fit.xmin), np.log10(k.max()), 50)
    tail = fit.n_tail / fit.n
    ax.loglog(xs, tail * (xs / fit.xmin) ** (1 - fit.alpha), "k--", label=f"power law α={fit.alpha:.2f}, x_min={fit.xmin}")
    ax.set_xlabel("number of sellers per buyer (k)")
    ax.set_ylabel("share of buyers with at least k sellers")
    ax.legend(fontsize=8)
    planted = st.notes.get("planted", {}).get("indegree_alpha")
    if planted is not None:
        oracle = st.notes.get("oracle_indegree_tail", {}).get("alpha")
        ref = 1 + planted if oracle is None else oracle
        truth.append({"parameter": "sellers-per-buyer exponent (pdf, 1 + CCDF slope; oracle: the CSN fit of the "
                                   "generated reported degrees, bent by top-24 reporting and saturation)",
                      "planted": 1 + planted, "oracle": oracle, "estimate": fit.alpha, "std_error": fit.alpha_se,
                      "z": (fit.alpha - ref) / fit.alpha_se})
    return Exhibit("figure_A1", "Distribution of buyers with different number of suppliers",
                   figure=_save(fig, out, "figure_A1"), truth=truth,
                   notes=f"CSN fit on the TSR sample: α={fit.alpha:.3f} (s.e. {fit.alpha_se:.3f}), x_min={fit.xmin}, "
                         f"KS={fit.ks:.4f}; LR vs lognormal {fit.lr_lognormal[0]:.2f} (p={fit.lr_lognormal[1]:.3f}), "
                         f"vs exponential {fit.lr_exponential[0]:.2f} (p={fit.lr_exponential[1]:.3g}).")


def _density_map(st: Study, out: Path, side: str, num: str) -> Exhibit:
    l = st.links[st.y0]
    ids = l.buyer_id.unique() if side == "buyers" else l.seller_id.unique()
    pref = st.firms[st.y0].pref.reindex(ids).dropna().astype(int)
    area = prefectures().set_index("pref_code").area_km2
    dens = pref.value_counts().reindex(area.index).fillna(0) / area
    fig, ax = plt.subplots(figsize=(6, 6))
    _japan(ax, dens, "Reds" if side == "buyers" else "Blues")
    top = dens.sort_values(ascending=False).head(3)
    names = prefectures().set_index("pref_code").name_en
    ax.set_title(f"{side} per km² ({st.y0}); highest: " + ", ".join(f"{names[c]} {v:.2f}" for c, v in top.items()),
                 fontsize=8)
    return Exhibit(f"figure_{num}", f"Number of {side} per sq km by prefecture", figure=_save(fig, out, f"figure_{num}"))


def figure_a3(st: Study, out: Path) -> Exhibit:
    return _density_map(st, out, "buyers", "A3")


def figure_a4(st: Study, out: Path) -> Exhibit:
    return _density_map(st, out, "sellers", "A4")


def all_figures() -> list:
    return [figure_1, figure_2, figure_3, figure_4, figure_5, figure_a1, figure_a3, figure_a4]
