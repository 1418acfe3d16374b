"""Instrument strength of a synthetic world as a function of ``start_pi_shock`` (the loading of import
starting on the standardised shock_i of eq. 18), without regenerating the world.

The generator records, per surveyed firm, the standardised shock and the part of the latent index that
does not move with π (truth/firms.parquet: ``start_s_std``, ``start_rest``, ``imp05``); import starters
are the top 7/81 of π · s_std + rest among the base-year non-importers of each manufacturing group. For
each π this script rebuilds Imp Starter exactly, puts it into the study of the written root and computes
the Kleibergen–Paap F of Table 7's 2SLS columns (5–8) under the paper's conventions (robust) and with
buyer clustering. The drop sample (2005 links) does not depend on π, so the F values are those the
world generated with that π yields (up to the parent–child flags of 2010 links).

    python -m benchmarks.calibrate_instrument ROOT --pi 0.01,0.02,0.03
"""

from __future__ import annotations

import argparse
import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

STARTER_SHARE = 7 / 81  # the generator's share of starters among base-year non-importers


def starters(truth_firms: pd.DataFrame, manufacturing: pd.Series, pi: float) -> pd.Series:
    """Imp Starter (0/1) by tsr_id for loading ``pi``, as the generator draws it."""
    b = truth_firms[truth_firms.start_rest.notna()].set_index("tsr_id")
    latent = pi * b.start_s_std + b.start_rest
    mfg = manufacturing.reindex(b.index).fillna(False).astype(bool)
    out = pd.Series(0.0, index=b.index)
    for m in (True, False):
        sel = (mfg == m) & (b.imp05 == 0)
        out[sel] = (latent[sel] > np.quantile(latent[sel], 1 - STARTER_SHARE)).astype(float)
    return out


def kp_f_by_pi(root: Path, pis: list[float]) -> pd.DataFrame:
    from analytics import study
    from analytics.econometrics.iv import feiv
    from analytics.regressions import FE16, pair_sample
    from etl.pipeline import Cache, default_work_dir, run_etl

    work = default_work_dir(root)
    run_etl(root, work, progress=None, need_vintages=[2005, 2010], need_surveys=[2005, 2010])
    cache = Cache(work)
    st = study.build(cache)  # the clean tables the store is loaded from: the same rows
    tf = pd.read_parquet(root / "truth" / "firms.parquet")
    jsic = pd.read_csv(root / "industry" / "jsic.csv", dtype=str)
    mfg4 = set(jsic.loc[jsic.manufacturing == "1", "jsic4"])
    manufacturing = tf.set_index("tsr_id").jsic4.isin(mfg4)
    rows = []
    for pi in pis:
        d = starters(tf, manufacturing, pi)
        v = dataclasses.replace(st, buyers=st.buyers.assign(imp_starter=d.reindex(st.buyers.index).to_numpy()))
        p = pair_sample(v, "drop")  # a variant of the study: its own samples
        row = {"start_pi_shock": pi, "pairs": len(p), "buyers": p.buyer_id.nunique(),
               "starters": int(p.loc[p.D == 1, "buyer_id"].nunique()),
               # Σ n_g² / Σ n_g: about the factor by which robust SEs overstate a buyer-level instrument's F
               "effective cluster size": float((p.buyer_id.value_counts() ** 2).sum() / len(p))}
        for vc, label in (("robust", "robust"), ({"cluster": "buyer_id"}, "cluster")):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                row[f"col5 {label}"] = feiv(f"y ~ log_sales | {FE16} | D ~ shock", p, vcov=vc).diagnostics["kp_f"]
                for x in ("dist", "sales", "emp"):
                    row[f"2SLS {x} {label}"] = feiv(f"y ~ rel_{x} + log_sales | {FE16} | D + D_{x} ~ shock + Z_{x}",
                                                    p, vcov=vc).diagnostics["kp_f"]
        rows.append(row)
        print(row, flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", type=Path)
    ap.add_argument("--pi", required=True, help="comma-separated values of start_pi_shock")
    a = ap.parse_args()
    print(kp_f_by_pi(a.root, [float(v) for v in a.pi.split(",")]).to_markdown(index=False))


if __name__ == "__main__":
    main()
