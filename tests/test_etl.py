"""ETL against the generator's truth (computed independently of the ETL) and against bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.contract import COMPANY, ContractError, read_table
from etl.pipeline import Cache, run_etl
from etl.tsr import build_links, clean_company


@pytest.mark.parametrize("year", [2005, 2010])
def test_links_equal_truth(cache, small_root, truth, year):
    links = cache.read(f"links_{year}")
    t = pd.read_parquet(small_root / "truth/links.parquet")
    t = t[t.year == year]
    got = links.set_index(["seller_id", "buyer_id"]).parent_child.sort_index()
    exp = t.set_index(["seller_id", "buyer_id"]).parent_child.sort_index()
    assert got.index.equals(exp.index)
    assert (got.to_numpy() == exp.to_numpy()).all()
    rc = truth["counts"][f"reports_{year}"]
    rb = links.reported_by.value_counts()
    assert (rb["buyer"], rb["seller"], rb["both"]) == (
        rc["reported_by_buyer_only"], rc["reported_by_seller_only"], rc["reported_by_both"])


@pytest.mark.parametrize("year", [2005, 2010])
def test_load_report_accounts_for_every_row(etl_report, truth, year):
    r = etl_report[f"tsr/{year}"]
    for part in ("company", "linkage"):
        assert r[part]["rows_read"] == r[part]["rows_loaded"] + r[part]["rows_rejected"]
    rc = truth["counts"][f"reports_{year}"]
    rej = r["linkage"]["rejected"]
    assert rej["duplicate report"] == rc["duplicate_rows"]
    assert rej["self-link"] == rc["self_rows"]
    assert rej["partner not in company file"] == rc["dangling_rows"]
    assert r["company"]["rows_loaded"] == truth["counts"][f"company_{year}"]["company_rows"]


@pytest.mark.parametrize("year", [2005, 2010])
def test_geocoding_levels_and_accuracy(cache, small_root, truth, year):
    firms = cache.read(f"firms_{year}")
    exp = truth["counts"][f"company_{year}"]["expected_geocode_levels"]
    assert firms.geo_precision.value_counts().to_dict() == exp
    t = pd.read_parquet(small_root / "truth/firms.parquet").set_index("tsr_id")
    f = firms[firms.tsr_id.isin(t.index)]
    tt = t.reindex(f.tsr_id)
    # independent distance: spherical law of cosines
    la1, lo1, la2, lo2 = map(np.radians, (f.lat.to_numpy(), f.lon.to_numpy(), tt.lat.to_numpy(), tt.lon.to_numpy()))
    err = 6371.0 * np.arccos(np.clip(np.sin(la1) * np.sin(la2) + np.cos(la1) * np.cos(la2) * np.cos(lo1 - lo2), -1, 1))
    lvl = f.geo_precision.to_numpy()
    assert np.nanmax(err[lvl == "provider"]) < 0.01
    assert np.nanmax(err[lvl == "district"]) < 1.5
    assert np.nanmedian(err[lvl == "municipality"]) < 15
    assert (f.pref_code.to_numpy() == tt.pref_code.to_numpy()).all()


def test_link_distances_independent(cache):
    links = cache.read("links_2010")
    firms = cache.read("firms_2010").set_index("tsr_id")
    s, b = firms.reindex(links.seller_id), firms.reindex(links.buyer_id)
    la1, lo1, la2, lo2 = map(np.radians, (s.lat.to_numpy(), s.lon.to_numpy(), b.lat.to_numpy(), b.lon.to_numpy()))
    d = 6371.0088 * np.arccos(np.clip(np.sin(la1) * np.sin(la2) + np.cos(la1) * np.cos(la2) * np.cos(lo1 - lo2), -1, 1))
    far = d > 1  # law of cosines is ill-conditioned for tiny distances
    assert np.allclose(links.dist_km.to_numpy()[far], d[far], rtol=1e-6)


def test_bsjbsa_match(cache, small_root, truth):
    m = cache.read("bsjbsa_match")
    key = pd.read_parquet(small_root / "truth/bsjbsa_key.parquet").set_index("survey_id").tsr_id
    twins = set(pd.read_parquet(small_root / "truth/ambiguous_twins.parquet").tsr_id)
    ok = m[m.status == "matched"]
    assert (ok.tsr_id.to_numpy() == key.reindex(ok.survey_id).to_numpy()).all()  # no false match
    assert not ok.tsr_id.duplicated().any()
    amb = m[m.status == "ambiguous"]
    assert set(key.reindex(amb.survey_id)) == twins  # the planted twins and nothing else
    b = truth["counts"]["bsjbsa"]
    assert len(ok) == b["bsjbsa_in_tsr"] - b["ambiguous_twins"]
    assert (m.status == "unmatched").sum() == b["bsjbsa_not_in_tsr"]


def test_reload_is_idempotent(small_root, cache, etl_report):
    before = {y: cache.read(f"links_{y}") for y in (2005, 2010)}
    again = run_etl(small_root)
    assert again["tsr/2005"].get("reused") and again["bsjbsa"].get("reused")
    forced = run_etl(small_root, force=True)
    assert not forced["tsr/2005"].get("reused")
    for y in (2005, 2010):
        pd.testing.assert_frame_equal(before[y], Cache(small_root / ".prodnet").read(f"links_{y}"))


def _write(path, df, encoding="utf-8"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(df.to_csv(index=False).encode(encoding))


GOOD = {"tsr_id": "000123", "name": "株式会社テスト", "address": "東京都千代田区千代田1-1", "jsic_main": "0911",
        "pref_code": "13", "lat": "35.68", "lon": "139.75", "employees": "10", "sales": "1000"}


def test_missing_required_column_names_file_and_column(tmp_path):
    df = pd.DataFrame([GOOD]).drop(columns="jsic_main")
    _write(tmp_path / "tsr/2005/company.csv", df)
    with pytest.raises(ContractError, match=r"company\.csv.*jsic_main"):
        clean_company(tmp_path, 2005)


def test_undecodable_file_is_a_clear_error(tmp_path):
    p = tmp_path / "tsr/2005/company.csv"
    p.parent.mkdir(parents=True)
    p.write_bytes(b"tsr_id,name,address,jsic_main\n1,\x81\x20,a,0911\n")
    with pytest.raises(ContractError, match="neither UTF-8"):
        read_table(p, COMPANY.schema)


def test_cp932_and_parquet_read_the_same(tmp_path):
    df = pd.DataFrame([GOOD, GOOD | {"tsr_id": "000124", "name": "㈱サンプル"}])
    _write(tmp_path / "a.csv", df, "cp932")
    df.to_parquet(tmp_path / "b.parquet", index=False)
    ra, rb = read_table(tmp_path / "a.csv", COMPANY.schema), read_table(tmp_path / "b.parquet", COMPANY.schema)
    a, b = ra.frame, rb.frame
    assert ra.encoding == "cp932"
    pd.testing.assert_frame_equal(a, b)
    assert a.tsr_id.tolist() == ["000123", "000124"]  # leading zeros kept


BAD_VALUES = {
    "tsr_id": ["", "12a", "-5"], "jsic_main": ["", "91", "09111", "abcd"], "name": [""], "address": [""],
    "lat": ["95", "x"], "pref_code": ["0", "48", "1.5"], "employees": ["-1", "ten"], "sales": ["-3"],
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(sorted(BAD_VALUES)), st.integers(0, 2)), min_size=1, max_size=12),
       st.integers(5, 25))
def test_fuzzed_company_rows_are_quarantined_or_blanked(tmp_path_factory, bad, n):
    root = tmp_path_factory.mktemp("fuzz")
    rows = [GOOD | {"tsr_id": f"{i:06d}"} for i in range(n)]
    for col, k in bad:
        i = (k * 7 + len(col)) % n
        rows[i][col] = BAD_VALUES[col][k % len(BAD_VALUES[col])]
    _write(root / "tsr/2005/company.csv", pd.DataFrame(rows))
    firms, rep, q = clean_company(root, 2005)
    assert rep.rows_read == n == rep.rows_loaded + rep.rows_rejected
    assert (q.action == "rejected").sum() == rep.rows_rejected
    assert (q.action == "blanked").sum() == sum(rep.values_blanked.values())
    assert q.file.str.endswith("company.csv").all() and q.line.between(2, n + 1).all()
    assert (q.reason != "").all() and (q.column != "").all()
    required_bad = {i for i, r in enumerate(rows) if r["tsr_id"] in BAD_VALUES["tsr_id"] or r["jsic_main"]
                    in BAD_VALUES["jsic_main"] or r["name"] == "" or r["address"] == ""}
    dup_ids = pd.Series([r["tsr_id"] for r in rows])
    assert set(q.line[q.action == "rejected"] - 2) >= required_bad
    assert set(firms.tsr_id).isdisjoint({rows[i]["tsr_id"] for i in required_bad} - set(dup_ids[dup_ids.duplicated()]))
    assert firms.lat.isna().sum() + firms.lat.between(20, 46.5).sum() == len(firms)


def test_linkage_rejections_each_have_a_reason(tmp_path):
    _write(tmp_path / "tsr/2005/company.csv", pd.DataFrame([GOOD | {"tsr_id": "1"}, GOOD | {"tsr_id": "2"}]))
    rep = pd.DataFrame({
        "tsr_id": ["1", "1", "1", "2", "1", "9", "1", "2", "1"],
        "partner_id": ["2", "2", "1", "1", "3", "1", "2", "1", "x"],
        "relation": ["supplier", "supplier", "supplier", "customer", "customer", "supplier", "buyer", "shareholder",
                     "supplier"],
        "rank": ["1", "1", "2", "1", "2", "1", "1", "5", "1"]})
    _write(tmp_path / "tsr/2005/linkage.csv", rep)
    links, r, q = build_links(tmp_path, 2005, pd.Series(["1", "2"]))
    assert r.rows_read == 9 == r.rows_loaded + r.rows_rejected
    assert r.rejected["duplicate report"] == 1 and r.rejected["self-link"] == 1
    assert r.rejected["partner not in company file"] == 1 and r.rejected["reporting firm not in company file"] == 1
    assert r.rejected["shareholder rank above 3"] == 1
    assert sum(v for k, v in r.rejected.items() if k.startswith("relation")) == 1
    assert sum(v for k, v in r.rejected.items() if k.startswith("partner_id: malformed")) == 1
    # 2 sells to 1, reported by both sides: one link
    assert links[["seller_id", "buyer_id", "reported_by"]].values.tolist() == [["2", "1", "both"]]
    assert sorted(q.reason[q.action == "rejected"].unique()) == sorted(
        {"duplicate report", "self-link", "partner not in company file", "reporting firm not in company file",
         "shareholder rank above 3", "not one of supplier/customer/shareholder", "malformed id"})
