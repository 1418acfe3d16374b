"""The annual survey panel: Olley–Pakes recovers planted production functions (on a panel simulated here
and on the generated world), the documented fallback without consecutive years, JSIC concordance mapping
and quarantine, imports by sector read and checked."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from analytics import tfp
from etl.jsic_codes import read_concordance
from etl.survey_sectors import read_sector_imports


def simulated_panel(n: int = 1500, years=range(2001, 2009), bl: float = 0.5, bk: float = 0.4, seed: int = 3):
    """An Olley–Pakes world written here: AR(1) productivity, investment increasing in it, capital accumulation."""
    rng = np.random.default_rng(seed)
    a = rng.normal(0, 0.3, n)
    k = rng.normal(4, 1, n)
    l0 = rng.normal(3, 0.8, n)
    rows = []
    for t, y in enumerate(years):
        a = 0.8 * a + rng.normal(0, 0.18, n)
        inv = np.exp(k - 2 + 1.2 * a)
        l = l0 + 0.3 * a + rng.normal(0, 0.1, n)
        va = 0.03 * t + bl * l + bk * k + a + rng.normal(0, 0.05, n)
        rows.append(pd.DataFrame({"survey_id": [f"F{i}" for i in range(n)], "year": y, "value_added": np.exp(va),
                                  "employees": np.exp(l), "tangible_assets": np.exp(k), "investment": inv,
                                  "jsic3": "091"}))
        k = np.log(0.85 * np.exp(k) + inv)
    return pd.concat(rows, ignore_index=True)


def test_olley_pakes_recovers_simulated_coefficients():
    op, t = tfp.olley_pakes(simulated_panel())
    assert op.beta_l == pytest.approx(0.5, abs=0.02)
    assert op.beta_k == pytest.approx(0.4, abs=0.03)
    assert not op.at_bound
    assert op.nobs_stage2 == 1500 * 7


def test_olley_pakes_recovers_planted_on_generated_panel(cache, truth):
    """Pooled and per-group estimates on the synthetic survey (entry and exit included)."""
    p = tfp.estimate(cache.read("bsjbsa"), cache.read("industry_jsic"))
    pl = truth["planted"]
    assert p.method == "olley_pakes"
    assert p.pooled.beta_l == pytest.approx(pl["prod_beta_l"], abs=0.02)
    assert p.pooled.beta_k == pytest.approx(pl["prod_beta_k"], abs=0.04)
    for g, op in p.groups.items():
        assert op.beta_l == pytest.approx(pl["prod_beta_l"], abs=0.05), g
    # log TFP tracks the planted productivity: survey years vary by firm (entry, exit)
    s = cache.read("bsjbsa")
    assert s.groupby("survey_id").year.nunique().lt(9).any()


def test_two_survey_years_fall_back_with_a_note():
    panel = simulated_panel()
    p = tfp.estimate(panel[panel.year.isin([2003, 2008])], pd.DataFrame(
        {"jsic4": ["0911"], "jsic3": ["091"], "manufacturing": [1], "sector12": [1]}))
    assert p.method == "va_per_worker" and p.pooled is None
    assert "2003, 2008" in p.note and "consecutive" in p.note
    with pytest.raises(ValueError, match="previous year"):
        tfp.olley_pakes(panel[panel.year.isin([2003, 2008])])


def test_tables_3_and_a4_fallback_on_a_root_with_2005_and_2010_only(small_root, tmp_path):
    """A root whose survey has only 2005 and 2010: Tables 3 and A4 use VA per worker and say so."""
    from analytics import run_all

    root = tmp_path / "root"
    shutil.copytree(small_root, root, ignore=shutil.ignore_patterns(".prodnet", "truth*"))
    for d in (root / "bsjbsa", root / "bsjbsa" / "imports_by_sector"):
        for p in d.glob("*.csv"):
            if p.stem not in ("2005", "2010"):
                p.unlink()
    out = tmp_path / "out"
    s = run_all(root, out, quiet=True, only=["table_3", "table_A4"])
    assert s["errors"] == [] and s["productivity"]["method"] == "va_per_worker"
    for t in ("3", "A4"):
        md = (out / "tables" / f"table_{t}.md").read_text()
        assert "not Olley-Pakes TFP" in md and "2005, 2010" in md
    # the productivity regressor is log VA per worker of 2005: recompute column 2 of Table 3's regressor
    t3 = pd.read_csv(out / "tables" / "table_3.csv")
    assert t3.term.eq("log_tfp").any()
    # Table A4 shows each scope measure once against VA per worker, not a second, identical "TFP" column
    a4 = pd.read_csv(out / "tables" / "table_A4.csv")
    prod = a4[a4.term == "productivity"]
    assert len(prod) == 3 and prod.column.str.endswith(", VA/Emp").all()
    assert not a4.column.str.contains("fallback").any()


def write_root(tmp_path, concordance: str) -> None:
    (tmp_path / "industry").mkdir(parents=True)
    (tmp_path / "industry/jsic.csv").write_text(
        "jsic4,jsic3,name,manufacturing,sector12\n0911,091,a,1,1\n0912,091,b,1,1\n2511,251,c,1,8\n4911,491,d,0,\n")
    (tmp_path / "industry/jsic_concordance.csv").write_text(concordance)


def test_concordance_mapping_weights_and_quarantine(tmp_path):
    """Written by hand: a split code goes to its largest share, a bad target and a bad code are quarantined,
    an unmapped code is flagged, a code of jsic.csv stays."""
    write_root(tmp_path, "year,code,jsic4,weight\n2005,9001,0911,0.3\n2005,9001,2511,0.7\n2005,901,0912,\n"
                         "2005,9002,7777,1\n2005,12,0911,1\n2010,9001,0912,1\n")
    codes, rep, q = read_concordance(tmp_path)
    assert rep["rows_read"] == 6 and rep["rows_loaded"] == 4 and rep["rows_rejected"] == 2
    assert set(q.reason) == {"target code not in industry/jsic.csv", "not a 3- or 4-digit code"}
    assert q.line.tolist() == [5, 6]
    mapped, bad = codes.map(pd.Series(["9001", "0911", "8888", ""]), 2005, 4)
    assert mapped.tolist() == ["2511", "0911", "", ""] and bad.tolist() == [False, False, True, False]
    assert codes.map(pd.Series(["9001"]), 2010, 4)[0].tolist() == ["0912"]
    assert codes.map(pd.Series(["901", "251", "999"]), 2005, 3)[0].tolist() == ["091", "251", ""]


def test_company_rows_with_unmapped_codes_quarantined(tmp_path):
    from etl.tsr import clean_company

    write_root(tmp_path, "year,code,jsic4,weight\n2005,9001,2511,1\n")
    d = tmp_path / "tsr/2005"
    d.mkdir(parents=True)
    (d / "company.csv").write_text("tsr_id,name,address,jsic_main,jsic_sub1,pref_code\n"
                                   "1,株式会社A,東京都千代田区,9001,0911,13\n2,株式会社B,東京都千代田区,8888,,13\n"
                                   "3,株式会社C,東京都千代田区,0912,7777,13\n")
    firms, rep, q = clean_company(tmp_path, 2005)
    assert firms.jsic4.tolist() == ["2511", "0912"] and firms.jsic3.tolist() == ["251", "091"]
    assert firms.jsic_sub1.tolist() == ["0911", ""]
    assert rep.rows_read == 3 and rep.rows_loaded == 2 and rep.rows_rejected == 1
    rej = q[q.action == "rejected"]
    assert rej.line.tolist() == [3] and rej.value.tolist() == ["8888"] and "jsic_concordance" in rej.reason.iloc[0]
    blanked = q[q.action == "blanked"]
    assert blanked.line.tolist() == [4] and blanked.value.tolist() == ["7777"]
    assert sum(rep.values_blanked.values()) == 1


def test_sector_imports_checked_against_the_survey(tmp_path):
    d = tmp_path / "bsjbsa/imports_by_sector"
    d.mkdir(parents=True)
    (d / "2005.csv").write_text("survey_id,sector12,imports\nA1,3,10\nA1,3,5\nB2,13,1\nZZ,1,4\nB2,1,\nB2,12,0.5\n")
    survey = pd.DataFrame({"survey_id": ["A1", "B2"], "year": [2005, 2005]})
    out, reps, q = read_sector_imports(tmp_path, survey)
    assert reps[0]["rows_read"] == 6 and reps[0]["rows_loaded"] == 2 and reps[0]["rows_rejected"] == 4
    assert out[["survey_id", "sector12", "imports"]].values.tolist() == [["A1", 3, 10.0], ["B2", 12, 0.5]]
    assert sorted(q.line.tolist()) == [3, 4, 5, 6]


def test_renumbered_vintage_gives_the_same_table_3_industry_counts(small_root, cache, tmp_path):
    """The generated root codes TSR 2005 and survey years up to 2006 in an old revision. Rewriting those
    files in current codes (pandas, from the concordance's main targets) and dropping the concordance gives
    the same industries, hence the same Table 3 industry counts per buyer."""
    from analytics import network as nw
    from etl.pipeline import Cache, run_etl
    from tests.conftest import read_raw

    root = tmp_path / "plain"
    shutil.copytree(small_root, root, ignore=shutil.ignore_patterns(".prodnet", "truth*"))
    conc = read_raw(root / "industry/jsic_concordance.csv")
    (root / "industry/jsic_concordance.csv").unlink()
    conc["w"] = pd.to_numeric(conc.weight.replace("", "1"))
    conc = conc.sort_values("w", ascending=False).drop_duplicates(["year", "code"])
    to3 = read_raw(root / "industry/jsic.csv").set_index("jsic4").jsic3
    n_renumbered = 0
    for y in conc.year.unique():
        m = conc[conc.year == y]
        four = dict(zip(m.code[m.code.str.len() == 4], m.jsic4[m.code.str.len() == 4], strict=True))
        three = dict(zip(m.code[m.code.str.len() == 3], to3.reindex(m.jsic4[m.code.str.len() == 3]), strict=True))
        comp = root / f"tsr/{y}/company.csv"
        if comp.exists() and four:
            c = read_raw(comp)
            n_renumbered += int(c.jsic_main.isin(four.keys()).sum())
            c["jsic_main"], c["jsic_sub1"] = c.jsic_main.replace(four), c.jsic_sub1.replace(four)
            c.to_csv(comp, index=False)
        s = root / f"bsjbsa/{y}.csv"
        if s.exists() and three:
            b = read_raw(s)
            b["jsic3"] = b.jsic3.replace(three)
            b.to_csv(s, index=False)
    assert n_renumbered > 100
    run_etl(root)
    plain = Cache(root / ".prodnet")
    for name, col in (("firms_2005", "jsic4"), ("bsjbsa", "jsic3")):
        a, b = cache.read(name), plain.read(name)
        assert len(a) == len(b) and (a[col].to_numpy() == b[col].to_numpy()).all()
    counts = {}
    for c in (cache, plain):
        f = c.read("firms_2005").set_index("tsr_id")
        counts[id(c)] = nw.sourcing_scope(c.read("links_2005"), f.assign(pref=f.pref_code)).input_industries_3
    pd.testing.assert_series_equal(counts[id(cache)], counts[id(plain)])
