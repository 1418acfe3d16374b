"""The ETL on a data root written by hand (tests/fixture_root.py), not by the generator: every count is
recomputed here from the raw bytes with pandas, and every bad input is a test of exit code, message and
row accounting through the command line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from etl.pipeline import Cache, EtlError, run_etl
from prodnet.cli import app
from tests.fixture_root import build_fixture_root, firm_id, survey_id, write_csv

RUNNER = CliRunner(env={"COLUMNS": "250"})
RELATIONS = {"supplier", "customer", "shareholder"}


def etl_cli(root: Path, *args: str):
    return RUNNER.invoke(app, ["etl", str(root), *args])


def read_raw(path: Path) -> pd.DataFrame:
    """Independent raw reader: the bytes' own encoding (BOM, else UTF-8, else CP932), everything text."""
    if path.suffix == ".parquet":
        return pd.read_parquet(path).astype(str)
    data = path.read_bytes()
    enc = "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        data.decode(enc)
    except UnicodeDecodeError:
        enc = "cp932"
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=enc)


def expected_firms(path: Path) -> pd.DataFrame:
    c = read_raw(path)
    ok = (c.tsr_id.str.fullmatch(r"[0-9]+") & (c.name.str.strip() != "") & (c.address.str.strip() != "")
          & c.jsic_main.str.fullmatch(r"[0-9]{4}"))
    return c[ok].drop_duplicates("tsr_id")


def pairs(df: pd.DataFrame, a: str = "seller_id", b: str = "buyer_id") -> set[tuple[str, str]]:
    return set(df[[a, b]].itertuples(index=False, name=None))


def expected_links(path: Path, ids: set[str]) -> tuple[pd.DataFrame, dict[str, set]]:
    """Usable reports and the two-way matched link sets, by hand: a link seller → buyer exists when the
    buyer names the seller as supplier OR the seller names the buyer as customer."""
    r = read_raw(path)
    rank = pd.to_numeric(r["rank"], errors="coerce")
    ok = (r.tsr_id.str.fullmatch(r"[0-9]+") & r.partner_id.str.fullmatch(r"[0-9]+") & r.relation.isin(RELATIONS)
          & rank.between(1, 24) & (rank % 1 == 0) & ~((r.relation == "shareholder") & (rank > 3)))
    r = r[ok].drop_duplicates(["tsr_id", "partner_id", "relation"])
    r = r[(r.tsr_id != r.partner_id) & r.tsr_id.isin(ids) & r.partner_id.isin(ids)]
    by_buyer = pairs(r[r.relation == "supplier"], "partner_id", "tsr_id")
    by_seller = pairs(r[r.relation == "customer"], "tsr_id", "partner_id")
    owners = {frozenset(x) for x in pairs(r[r.relation == "shareholder"], "tsr_id", "partner_id")}
    links = by_buyer | by_seller
    return r, {"all": links, "both": by_buyer & by_seller, "buyer": by_buyer - by_seller,
               "seller": by_seller - by_buyer, "parent_child": {lk for lk in links if frozenset(lk) in owners}}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """The fixture root after `prodnet etl` (exit code, output, cache, load report)."""
    root = build_fixture_root(tmp_path_factory.mktemp("fixture") / "root")
    res = etl_cli(root)
    cache = Cache(root / ".prodnet")
    return root, res, cache, json.loads((cache.dir / "load_report.json").read_text())


def quarantine(cache: Cache) -> pd.DataFrame:
    return pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False)
                      for p in sorted((cache.dir / "quarantine").glob("*.csv"))], ignore_index=True)


@pytest.mark.parametrize("year, linkage", [(2005, "linkage.csv"), (2010, "linkage.parquet")])
def test_fixture_links_equal_hand_count(loaded, year, linkage):
    root, res, cache, _ = loaded
    assert res.exit_code == 0, res.output
    firms = cache.read(f"firms_{year}")
    exp_firms = expected_firms(root / f"tsr/{year}/company.csv")
    assert set(firms.tsr_id) == set(exp_firms.tsr_id) and len(firms) == len(exp_firms) == 44
    assert firms.tsr_id.str.len().eq(9).all() and firms.tsr_id.str.startswith("000").all()  # zeros kept
    reports, exp = expected_links(root / f"tsr/{year}/{linkage}", set(exp_firms.tsr_id))
    links = cache.read(f"links_{year}")
    assert pairs(links) == exp["all"] and len(links) == len(exp["all"])
    for side in ("both", "buyer", "seller"):
        assert pairs(links[links.reported_by == side]) == exp[side]
    assert pairs(links[links.parent_child]) == exp["parent_child"]
    assert len(exp["parent_child"]) == 2 and len(exp["both"]) > 0 and len(exp["buyer"]) > 0


@pytest.mark.parametrize("year, linkage", [(2005, "linkage.csv"), (2010, "linkage.parquet")])
def test_fixture_rows_accounted(loaded, year, linkage):
    root, _, cache, report = loaded
    r = report[f"tsr/{year}"]
    exp_firms = expected_firms(root / f"tsr/{year}/company.csv")
    reports, _ = expected_links(root / f"tsr/{year}/{linkage}", set(exp_firms.tsr_id))
    for part, name, loaded_rows in (("company", "company.csv", len(exp_firms)), ("linkage", linkage, len(reports))):
        f = r[part]
        assert f["rows_read"] == len(read_raw(root / f"tsr/{year}/{name}"))
        assert f["rows_loaded"] == loaded_rows
        assert f["rows_read"] == f["rows_loaded"] + f["rows_rejected"] == f["rows_loaded"] + sum(f["rejected"].values())
    # the BOM-marked files lose no row to a misread header
    assert r["linkage"]["rejected"].get("reporting firm not in company file", 0) == (1 if year == 2005 else 0)
    q = quarantine(cache)
    q = q[q.file.str.contains(f"tsr/{year}/")]
    assert (q.action == "rejected").sum() == r["company"]["rows_rejected"] + r["linkage"]["rows_rejected"]
    assert {r["company"]["encoding"], r["linkage"]["encoding"]} == ({"cp932", "utf-8"} if year == 2005
                                                                     else {"utf-8", "parquet"})


def test_blanked_optional_values_are_recorded_with_line_and_value(loaded):
    root, res, cache, report = loaded
    raw = read_raw(root / "tsr/2005/company.csv")
    num = {c: pd.to_numeric(raw[c].where(raw[c] != ""), errors="coerce") for c in ("employees", "lat", "pref_code")}
    bad = {  # recomputed from the raw rows: line = position + 2 (header is line 1)
        "employees": (raw.employees != "") & (num["employees"].isna() | (num["employees"] < 0)),
        "lat": (raw.lat != "") & (num["lat"].isna() | ~num["lat"].between(20, 46.5)),
        "pref_code": (raw.pref_code != "") & (num["pref_code"].isna() | ~num["pref_code"].between(1, 47)),
        "postal_code": (raw.postal_code != "") & ~raw.postal_code.str.fullmatch(r"[0-9]{3}-?[0-9]{4}"),
    }
    exp = {(col, int(i) + 2, raw.loc[i, col]) for col, m in bad.items() for i in raw.index[m]}
    q = quarantine(cache)
    q = q[q.file.str.endswith("tsr/2005/company.csv") & (q.action == "blanked")]
    assert set(q.assign(line=q.line.astype(int))[["column", "line", "value"]].itertuples(index=False, name=None)) == exp
    assert len(exp) == 4
    assert (q.reason != "").all()
    assert sum(report["tsr/2005"]["company"]["values_blanked"].values()) == 4
    assert "blanked employees: not a number: 1" in res.output and "blanked lat: above 46.5: 1" in res.output
    firms = cache.read("firms_2005").set_index("tsr_id")
    assert pd.isna(firms.loc[firm_id(12), "employees"]) and firms.loc[firm_id(13), "geo_precision"] != "provider"


def test_survey_ids_with_letters_load_and_match(loaded):
    root, _, cache, report = loaded
    survey = cache.read("bsjbsa")
    for f in report["bsjbsa"]["files"]:
        raw = read_raw(Path(f["file"]))
        ok = (raw.survey_id.str.strip() != "") & raw.jsic3.str.fullmatch(r"[0-9]{3}")
        assert f["rows_loaded"] == ok[ok].index.size - raw[ok].survey_id.duplicated().sum()
        assert f["rows_read"] == len(raw) == f["rows_loaded"] + f["rows_rejected"]
    assert {"AB-6", "S0000005"} <= set(survey.survey_id)
    assert set(survey.year) == {2004, 2005, 2010, 2011}
    m = cache.read("bsjbsa_match").set_index("survey_id")
    matched = m[m.status == "matched"]
    assert len(matched) == 24
    assert all(m.tsr_id[survey_id(i)] == firm_id(i) for i in (5, 6, 9))
    assert set(m[m.status == "unmatched"].index) == {survey_id(i) for i in (100, 101, 102)}


def test_rejection_share_warning_is_printed_and_configurable(loaded, tmp_path):
    root, res, cache, report = loaded
    assert "warning: " in res.output and "tsr/2005/linkage.csv: 9 of 175 rows rejected (5.1%" in res.output
    assert any("linkage.csv: 9 of 175" in w for w in report["warnings"])
    quiet = etl_cli(root, "--warn-rejected", "0.5")
    assert quiet.exit_code == 0 and "warning:" not in quiet.output


def test_run_all_prints_and_reports_the_etl_warnings(loaded, tmp_path):
    """The ETL's warnings on the inputs reach the user of run-all as they reach the user of etl: on stderr and,
    for the record, in the report above the exhibits."""
    root = loaded[0]
    out = tmp_path / "out"
    res = RUNNER.invoke(app, ["run-all", str(root), str(out), "--work", str(tmp_path / "work"), "--only", "table_1"])
    assert res.exit_code == 0, res.output
    assert "warning: " in res.output and "tsr/2005/linkage.csv: 9 of 175 rows rejected (5.1%" in res.output
    html = (out / "report.html").read_text()
    assert "Warnings on the input files" in html and "linkage.csv: 9 of 175 rows rejected" in html
    # the store's first build is a state, not an error with advice to run another command
    assert "no graph built yet" in html and "prodnet load" not in html


def _fresh(tmp_path) -> Path:
    return build_fixture_root(tmp_path / "root")


def _assert_error(res, *parts: str) -> str:
    assert res.exit_code == 2, res.output
    line = next(ln for ln in res.output.splitlines() if ln.startswith("error: "))
    for p in parts:
        assert p in line, line
    return line[len("error: "):]


def test_integer_id_column_in_parquet_is_refused(tmp_path):
    root = _fresh(tmp_path)
    p = root / "tsr/2010/linkage.parquet"
    df = pd.read_parquet(p)
    df.iloc[:-4].astype({"tsr_id": "int64"}).to_parquet(p, index=False)  # the noise row ids are digits too
    msg = _assert_error(etl_cli(root), "tsr/2010/linkage.parquet", "column tsr_id", "int64", "stored as text")
    assert "astype" in msg
    assert not Cache(root / ".prodnet").path("links_2010").exists()


@pytest.mark.parametrize("name", ["company.csv", "linkage.csv"])
def test_header_only_required_file_stops_etl_and_run_all(tmp_path, name):
    root = _fresh(tmp_path)
    p = root / "tsr/2005" / name
    header = read_raw(p).columns
    write_csv(p, pd.DataFrame(columns=header))
    msg = _assert_error(etl_cli(root), f"tsr/2005/{name}: no data rows")
    rep = json.loads((root / ".prodnet/cache/load_report.json").read_text())
    part = rep["tsr/2005"]["company" if name == "company.csv" else "linkage"]
    assert part["rows_read"] == part["rows_loaded"] == 0 and rep["errors"] == [msg]
    from analytics.run import run_all

    with pytest.raises(EtlError) as e:
        run_all(root, tmp_path / "out", quiet=True)
    assert str(e.value) == msg


def test_all_rows_rejected_in_company_file_names_the_reason(tmp_path):
    root = _fresh(tmp_path)
    p = root / "tsr/2010/company.csv"
    write_csv(p, read_raw(p).assign(jsic_main="A1"), bom=True)
    _assert_error(etl_cli(root), "tsr/2010/company.csv: all 46 rows rejected",
                  "most often 'jsic_main: not a 4-digit code' (45)", "quarantine/tsr_2010.csv")  # 1: bad tsr_id
    q = pd.read_csv(root / ".prodnet/cache/quarantine/tsr_2010.csv", dtype=str)
    assert (q.action == "rejected").sum() == 46


def test_survey_file_entirely_rejected_stops_etl(tmp_path):
    root = _fresh(tmp_path)
    p = root / "bsjbsa/2004.csv"
    n = len(read_raw(p))
    write_csv(p, read_raw(p).assign(jsic3="9x"))
    _assert_error(etl_cli(root), f"bsjbsa/2004.csv: all {n} rows rejected", "jsic3: not a 3-digit code")
    rep = json.loads((root / ".prodnet/cache/load_report.json").read_text())
    f = next(f for f in rep["bsjbsa"]["files"] if f["file"].endswith("2004.csv"))
    assert f["rows_read"] == n == f["rows_rejected"] and f["rows_loaded"] == 0
    assert not Cache(root / ".prodnet").path("bsjbsa").exists()


def test_run_all_stops_the_store_load_when_the_survey_fails(tmp_path, monkeypatch):
    """run-all starts loading the graph store once the vintages are clean; when the survey's ETL then
    fails, the loading process is stopped and its half-built store removed, and the error is the survey's."""
    import psutil

    import analytics.run as run_mod
    from analytics import run_all

    root = _fresh(tmp_path)
    p = root / "bsjbsa/2004.csv"
    write_csv(p, read_raw(p).assign(jsic3="9x"))
    pids, real = [], run_mod.StoreLoad.cancel

    def cancel(self):
        pids.append(self._proc.pid if self._proc else None)
        real(self)

    monkeypatch.setattr(run_mod.StoreLoad, "cancel", cancel)
    with pytest.raises(EtlError, match="bsjbsa/2004.csv: all .* rows rejected"):
        run_all(root, tmp_path / "out", quiet=True)
    assert len(pids) == 1 and pids[0] is not None
    assert not psutil.pid_exists(pids[0]) or psutil.Process(pids[0]).status() == psutil.STATUS_ZOMBIE
    assert not list((root / ".prodnet").glob(".graph.lbdb.building-*"))


def test_missing_vintage_folder(tmp_path):
    root = _fresh(tmp_path)
    shutil.rmtree(root / "tsr/2005")
    _assert_error(etl_cli(root, "--vintage", "2005"), "tsr/2005: vintage folder not found (present: 2010")
    assert etl_cli(root).exit_code == 0  # nothing asked for 2005
    from analytics.run import run_all

    with pytest.raises(EtlError, match=r"tsr/2005: vintage folder not found \(present: 2010; needed: 2005, 2010\)"):
        run_all(root, tmp_path / "out", quiet=True)


def test_vintage_without_linkage_file(tmp_path):
    root = _fresh(tmp_path)
    (root / "tsr/2010/linkage.parquet").unlink()
    _assert_error(etl_cli(root), "tsr/2010/linkage.csv (or .parquet): file not found")


def test_missing_survey_year_is_named_by_run_all(tmp_path):
    root = _fresh(tmp_path)
    (root / "bsjbsa/2010.parquet").unlink()
    assert etl_cli(root).exit_code == 0
    from analytics.run import run_all

    with pytest.raises(EtlError, match=r"bsjbsa/2010\.csv \(or \.parquet\): survey file not found"):
        run_all(root, tmp_path / "out", quiet=True)


def test_truncated_last_line_is_quarantined_with_its_line(tmp_path):
    root = _fresh(tmp_path)
    p = root / "tsr/2005/linkage.csv"
    data = p.read_bytes().rstrip(b"\n")
    cut = data[: data.rfind(b",", 0, data.rfind(b","))]  # drop the last two fields, no final newline
    p.write_bytes(cut)
    n_lines = cut.count(b"\n") + 1
    res = etl_cli(root)
    assert res.exit_code == 0, res.output
    rep = json.loads((root / ".prodnet/cache/load_report.json").read_text())["tsr/2005"]["linkage"]
    assert rep["rows_read"] == n_lines - 1 == rep["rows_loaded"] + rep["rows_rejected"]
    assert rep["rejected"]["line: expected 4 fields, got 2"] == 1
    q = pd.read_csv(root / ".prodnet/cache/quarantine/tsr_2005.csv", dtype=str, keep_default_na=False)
    row = q[q.reason == "expected 4 fields, got 2"].iloc[0]
    assert int(row.line) == n_lines and row.file.endswith("linkage.csv") and row.value.count(",") == 1


def test_cp932_file_read_as_utf8_names_file_and_line(tmp_path):
    root = _fresh(tmp_path)
    msg = _assert_error(etl_cli(root, "--encoding", "utf-8"), "tsr/2005/company.csv: line 2 is not valid utf-8",
                        "--encoding cp932")
    assert "bsjbsa/2011.csv: line 2" in etl_cli(root, "--encoding", "utf-8").output and msg


def test_failed_part_does_not_leave_stale_tables_and_recovers(tmp_path):
    root = _fresh(tmp_path)
    assert etl_cli(root).exit_code == 0
    cache_dir = root / ".prodnet/cache"
    good = pd.read_parquet(cache_dir / "links_2005.parquet")
    p = root / "tsr/2005/company.csv"
    original = p.read_bytes()
    p.write_bytes(original.split(b"\r\n")[0] + b"\r\n")
    assert etl_cli(root).exit_code == 2
    assert not (cache_dir / "links_2005.parquet").exists() and not (cache_dir / "firms_2005.parquet").exists()
    p.write_bytes(original)
    assert etl_cli(root).exit_code == 0
    pd.testing.assert_frame_equal(pd.read_parquet(cache_dir / "links_2005.parquet"), good)


def test_run_all_command_prints_the_etl_message(tmp_path):
    root = _fresh(tmp_path)
    (root / "tsr/2010/company.csv").unlink()
    env = os.environ | {"COLUMNS": "300", "PYTHONPATH": str(Path(__file__).parents[1])}
    res = subprocess.run([sys.executable, "-m", "prodnet.cli", "run-all", str(root), str(tmp_path / "out")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode not in (0, 134), res.stderr  # a clear refusal, not a success nor a native abort
    assert "tsr/2010/company.csv (or .parquet): file not found" in res.stderr and "Traceback" not in res.stderr
    assert "not in the cache" not in res.stderr + res.stdout


def test_run_etl_on_fixture_is_idempotent(loaded):
    root, _, cache, _ = loaded
    before = cache.read("links_2010")
    again = run_etl(root)
    assert all(again[k].get("reused") for k in ("industry", "tsr/2005", "tsr/2010", "bsjbsa"))
    pd.testing.assert_frame_equal(Cache(root / ".prodnet").read("links_2010"), before)


def test_link_rows_point_at_their_firms_and_give_the_distances(loaded):
    """The clean links carry the rows of their seller and buyer in the vintage's clean company table; the
    distances computed through those rows equal a haversine by id (pandas merge, numpy formula)."""
    _, _, cache, _ = loaded
    for y in (2005, 2010):
        f, l = cache.read(f"firms_{y}"), cache.read(f"links_{y}")
        assert len(l) > 0
        assert (f.tsr_id.to_numpy()[l.seller_row] == l.seller_id.to_numpy()).all()
        assert (f.tsr_id.to_numpy()[l.buyer_row] == l.buyer_id.to_numpy()).all()
        pos = f[["tsr_id", "lat", "lon"]].astype({"tsr_id": str, "lat": float, "lon": float})
        m = (l.astype({"seller_id": str, "buyer_id": str})
             .merge(pos.rename(columns=lambda c: "s_" + c), left_on="seller_id", right_on="s_tsr_id")
             .merge(pos.rename(columns=lambda c: "b_" + c), left_on="buyer_id", right_on="b_tsr_id"))
        p1, p2 = np.radians(m.s_lat), np.radians(m.b_lat)
        h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(m.b_lon - m.s_lon) / 2) ** 2
        want = 2 * 6371.0088 * np.arcsin(np.sqrt(h))
        assert len(m) == len(l) and np.allclose(m.dist_km.astype(float), want, rtol=1e-9, equal_nan=True)


def test_graph_firm_rows_equal_pandas(loaded):
    """The Firm nodes a load writes (``firm_arrow``, and ``firm_table`` as pandas): one row per firm with the
    latest vintage's attributes and the vintages listing it, recomputed here with pandas on the hand root."""
    from graph.model import firm_arrow, firm_table

    _, _, cache, _ = loaded
    f05, f10 = (cache.read(f"firms_{y}").astype({"tsr_id": str}) for y in (2005, 2010))
    only05, only10 = set(f05.tsr_id) - set(f10.tsr_id), set(f10.tsr_id) - set(f05.tsr_id)
    assert only05 and only10 and set(f05.tsr_id) & set(f10.tsr_id)  # exits, entrants and stayers
    want = pd.concat([f05[f05.tsr_id.isin(only05)], f10]).set_index("tsr_id")
    got = firm_table(cache, [2005, 2010]).astype({"tsr_id": str}).set_index("tsr_id")
    assert firm_arrow(cache, [2005, 2010]).num_rows == len(got) == len(want) == got.index.nunique()
    got = got.loc[want.index]
    assert got.years.map(list).tolist() == [[2005] if i in only05 else [2010] if i in only10 else [2005, 2010]
                                            for i in want.index]
    for mine, theirs in (("name", "name"), ("address", "address"), ("muni", "municipality_code"), ("jsic4", "jsic4"),
                         ("geo_precision", "geo_precision"), ("pref", "pref_code"), ("employees", "employees"),
                         ("founded", "founded"), ("sales", "sales"), ("lat", "lat")):
        a, b = got[mine].astype(object), want[theirs].astype(object)
        assert [None if pd.isna(x) else x for x in a] == [None if pd.isna(x) else x for x in b], mine
    mfg = set(cache.read("industry_jsic").query("manufacturing == 1").jsic4)
    assert got.manufacturing.tolist() == [j in mfg for j in want.jsic4]


def test_utf8_file_read_as_cp932_is_refused_not_garbled(tmp_path):
    root = _fresh(tmp_path)
    res = etl_cli(root, "--encoding", "cp932")
    _assert_error(res, "the file is UTF-8 text")
    assert "error: " + str(root / "tsr/2010/company.csv") + ": the file is UTF-8 text" in res.output
    assert not (root / ".prodnet/cache/firms_2010.parquet").exists()


def test_blank_line_is_rejected_and_line_numbers_stay_physical(tmp_path):
    root = _fresh(tmp_path)
    p = root / "tsr/2010/company.csv"
    lines = p.read_bytes().split(b"\r\n")
    lines.insert(5, b"")  # an empty line 6
    p.write_bytes(b"\r\n".join(lines))
    assert etl_cli(root).exit_code == 0
    q = pd.read_csv(root / ".prodnet/cache/quarantine/tsr_2010.csv", dtype=str, keep_default_na=False)
    q = q[q.file.str.endswith("company.csv")]
    assert q.loc[q.reason.str.startswith("empty row"), "line"].tolist() == ["6"]
    exp = {(c, str(next(i for i, ln in enumerate(lines, 1) if v.encode() in ln.split(b",")))) for c, v in
           (("employees", "-3"), ("lon", "abc"))}
    assert set(q.loc[q.action == "blanked", ["column", "line"]].itertuples(index=False, name=None)) == exp
    rep = json.loads((root / ".prodnet/cache/load_report.json").read_text())["tsr/2010"]["company"]
    assert rep["rows_read"] == len(lines) - 2 == rep["rows_loaded"] + rep["rows_rejected"]  # header, final ""


@pytest.mark.parametrize("case, message", [
    ("no root", "data root not found"), ("no tsr", "tsr: folder not found"), ("bad encoding", "unknown encoding 'latin-9x'"),
])
def test_unusable_root_or_option_is_one_line_and_writes_nothing(tmp_path, case, message):
    root = tmp_path / "missing" if case == "no root" else _fresh(tmp_path)
    if case == "no tsr":
        shutil.rmtree(root / "tsr")
    res = etl_cli(root, *(["--encoding", "latin-9x"] if case == "bad encoding" else []))
    _assert_error(res, message)
    assert sum(ln.startswith("error: ") for ln in res.output.splitlines()) == 1
    assert not (root / ".prodnet").exists()


def test_typed_parquet_numbers_and_flags_read_as_their_text(tmp_path):
    root = _fresh(tmp_path)
    jsic = read_raw(root / "industry/jsic.csv")
    typed = jsic.assign(manufacturing=jsic.manufacturing == "1",
                        sector12=pd.to_numeric(jsic.sector12.replace("", None)).astype("Int64"))
    (root / "industry/jsic.csv").unlink()
    typed.to_parquet(root / "industry/jsic.parquet", index=False)
    assert etl_cli(root).exit_code == 0
    got = Cache(root / ".prodnet").read("industry_jsic")
    assert got.jsic4.tolist() == jsic.jsic4.tolist() and got.jsic4.str.startswith("0").any()
    assert got.manufacturing.tolist() == jsic.manufacturing.astype(int).tolist()
    assert [("" if pd.isna(v) else str(v)) for v in got.sector12] == jsic.sector12.tolist()  # 1..12 or empty


def test_survey_matching_nothing_is_a_warning(tmp_path):
    from tests.fixture_root import _survey

    root = _fresh(tmp_path)
    for f in (root / "bsjbsa").glob("*.*"):
        f.unlink()
    for y in (2005, 2010):  # per-year survey ids and names that match no TSR firm
        s = _survey(y).assign(survey_id=lambda d, y=y: d.survey_id + f"-{y}", name="該当なし工業", phone="",
                              address="北海道札幌市中央区北1条西2丁目")
        write_csv(root / f"bsjbsa/{y}.csv", s)
    report = run_etl(root, root / ".prodnet")
    assert report["bsjbsa"]["match"].get("matched", 0) == 0
    assert any("no survey firm matched a TSR firm" in w and "survey_id" in w for w in report["warnings"])


def test_another_encoding_reads_the_files_again(tmp_path):
    root = _fresh(tmp_path)
    assert etl_cli(root).exit_code == 0
    again = etl_cli(root)
    assert again.exit_code == 0
    wrong = etl_cli(root, "--encoding", "utf-8")  # the fixture has CP932 files: not reused, refused
    _assert_error(wrong, "cp932")


def test_full_width_numbers_are_read_like_ascii():
    import numpy as np

    from etl.validate import _to_float

    got = _to_float(pd.Series(["１９８０", "12", "", "many", "－３", "１，０００", "1,000"]))
    np.testing.assert_array_equal(got, [1980, 12, np.nan, np.nan, -3, np.nan, np.nan])


def _cache_state(root: Path) -> tuple[dict, dict, str]:
    """Tables, quarantine files and manifest reports of a root's cache (the root's path replaced)."""
    c = Cache(root / ".prodnet")
    tables = {p.stem: pd.read_parquet(p) for p in sorted(c.dir.glob("*.parquet"))}
    q = {p.name: p.read_text().replace(str(root), "ROOT") for p in sorted((c.dir / "quarantine").glob("*.csv"))}
    manifest = json.dumps({k: v["report"] for k, v in c.manifest.items()}, sort_keys=True)
    return tables, q, manifest.replace(str(root), "ROOT")


@pytest.mark.parametrize("break_2010", [False, True])
def test_vintages_in_worker_processes_equal_one_after_the_other(tmp_path, monkeypatch, break_2010):
    """Cleaning the two vintages in forked workers writes the same tables, quarantine and manifest as
    cleaning them in turn, also when one vintage fails (its tables and manifest entry are removed)."""
    import etl.pipeline as pl

    states = []
    for processes in (2, 1):
        root = build_fixture_root(tmp_path / f"root{processes}")
        if break_2010:
            p = root / "tsr/2010/linkage.parquet"
            pd.read_parquet(p).iloc[:0].to_parquet(p, index=False)
        monkeypatch.setattr(pl, "MAX_VINTAGE_PROCESSES", processes)
        monkeypatch.setattr(pl.os, "cpu_count", lambda: 2)
        if break_2010:
            with pytest.raises(EtlError, match="tsr/2010/linkage.parquet: no data rows"):
                run_etl(root)
        else:
            run_etl(root)
        states.append(_cache_state(root))
    (t2, q2, m2), (t1, q1, m1) = states
    assert list(t2) == list(t1) and q2 == q1 and m2 == m1
    assert ("links_2010" in t2) is not break_2010 and "links_2005" in t2
    assert ('"tsr/2010"' in m2) is not break_2010
    for name in t1:
        pd.testing.assert_frame_equal(t2[name], t1[name])


@pytest.mark.parametrize("count_empty", [True, False])
def test_rejections_in_turn_equal_one_after_the_other(count_empty):
    """``Checked.reject_in_turn`` (one filtering) gives the rows, counts and quarantine of one ``reject``
    after the other: overlapping rules, a rule left with nothing, a Series mask and an array mask."""
    from etl.contract import RawTable
    from etl.validate import Checked

    frame = pd.DataFrame({"a": list("pqrstuvwxy"), "b": [str(i) for i in range(10)]})
    raw = RawTable(Path("hand.csv"), "utf-8", frame, np.arange(2, 12),
                   pd.DataFrame({"line": [], "value": [], "reason": []}))
    rules = [(pd.Series([True, True] + [False] * 8, index=frame.index), "a", "first", None),
             (np.array([False, True, True] + [False] * 7), "b", "second", "key two"),
             (pd.Series([True] * 3 + [False] * 7, index=frame.index), "a", "nothing left", None),
             (pd.Series([False] * 9 + [True], index=frame.index), "b", "last", None)]
    one, turn = Checked(raw), Checked(raw)
    for mask, col, reason, key in rules:  # an array mask is over the rows read: take the rows still there
        m = mask.reindex(one.rows.index).to_numpy() if isinstance(mask, pd.Series) else mask[one.rows.index]
        if count_empty or m.any():
            one.reject(m, col, reason, key)
    turn.reject_in_turn(rules, count_empty=count_empty)
    pd.testing.assert_frame_equal(turn.rows, one.rows)
    assert turn.rows.a.tolist() == list("stuvwx")
    assert turn.rejected == one.rejected == ({"a: first": 2, "key two": 1, "a: nothing left": 0, "b: last": 1}
                                             if count_empty else {"a: first": 2, "key two": 1, "b: last": 1})
    pd.testing.assert_frame_equal(turn.quarantine(), one.quarantine())
    assert turn.quarantine().line.tolist() == [2, 3, 4, 11]
