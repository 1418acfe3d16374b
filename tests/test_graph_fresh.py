"""One truth about freshness, on both backends: a store built from other clean tables, or changed by a
write, is rebuilt by run-all and `prodnet load`; writes need --write; a killed rebuild leaves the last
good store; readers never block each other, nor a query during run-all.

The data root is written by hand (firm ids with leading zeros, an apostrophe and a double quote in its
path); expected link counts are computed here with pandas, from the raw files and from the cache."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from handroot import FIRMS, cache_links, cli, counts, drop_reports, make_root, raw_links, shared_geocoder

from analytics.run import _store as run_all_store
from etl.pipeline import Cache, run_etl
from graph import StoreError, open_store
from graph.store import write_clauses

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def root(tmp_path, small_root) -> Path:
    return make_root(tmp_path, small_root)


@pytest.fixture(autouse=True)
def _one_geocoder(monkeypatch):
    import etl.pipeline

    monkeypatch.setattr(etl.pipeline, "Geocoder", shared_geocoder, raising=False)


def test_write_clauses_are_found_outside_strings_and_comments():
    assert write_clauses("MATCH ()-[r]->() DELETE r") == ["DELETE"]
    assert write_clauses("match (n) detach delete n") == ["DELETE", "DETACH"]
    assert write_clauses("MATCH (n)\nWITH n\nSET n.x = 1") == ["SET"]
    assert write_clauses("MERGE (a:X {id: 1}) ON CREATE SET a.y = 2") == ["CREATE", "MERGE", "SET"]
    assert write_clauses("UNWIND [1] AS x CREATE (:A {v: x})") == ["CREATE"]
    assert write_clauses("MATCH (n) REMOVE n.x") == ["REMOVE"]
    assert write_clauses("COPY Firm FROM 'f.parquet'") == ["COPY"]
    for read in ('MATCH (n) WHERE n.name = "CREATE" RETURN n.set', "MATCH (n {set: 1}) RETURN n // DELETE it",
                 "MATCH (n:Set) RETURN $delete /* merge */", "MATCH (n) RETURN n.`create`, 'it''s SET'",
                 "MATCH (n) RETURN n.created_at AS deleted"):
        assert write_clauses(read) == [], read


def test_embedded_rebuilds_after_inputs_change(root, capsys):
    code, out, _ = cli(capsys, "load", root)
    assert code == 0, out
    work = root / ".prodnet"
    expected = {y: raw_links(root, y) for y in (2005, 2010)}
    assert cache_links(root) == expected == {2005: 5, 2010: 9}
    with open_store("embedded", path=work / "graph.lbdb") as s:
        assert counts(s) == expected and s.vintages() == [2005, 2010]
        assert s.is_current(Cache(work), [2005, 2010])
        name = s.run("MATCH (f:Firm) WHERE f.tsr_id = $id RETURN f.name AS name", {"id": "075988591"}).name
        assert name.tolist() == ["(株)ゼロ始まり工業"]
    assert "current" in cli(capsys, "load", root)[1]  # nothing changed: kept as it is

    drop_reports(root, 2010, 3)
    run_etl(root)
    cache = Cache(work)
    with open_store("embedded", path=work / "graph.lbdb") as s:
        fresh = s.is_current(cache, [2005, 2010])
        assert not fresh and "2010 changed" in fresh.reason
    s, reused = run_all_store("embedded", work, cache, [2005, 2010], lambda m: None)
    assert not reused and counts(s) == cache_links(root) == {2005: 5, 2010: raw_links(root, 2010)}
    assert raw_links(root, 2010) < 9
    s.close()

    drop_reports(root, 2005, 2)  # an unknown partner and a shareholder report: the clean tables are the same
    code, out, _ = cli(capsys, "load", root)
    assert code == 0 and "nothing to load" in out and cache_links(root)[2005] == 5
    drop_reports(root, 2005, 2)  # a link and a self-report: through the command line this time
    code, out, err = cli(capsys, "load", root)
    assert code == 0 and "clean tables of 2005 changed" in (out + err).replace("\n", " ")
    assert raw_links(root, 2005) == 4
    with open_store("embedded", path=work / "graph.lbdb") as s:
        assert counts(s) == cache_links(root) == {2005: raw_links(root, 2005), 2010: raw_links(root, 2010)}
    assert not list(work.glob(".graph.lbdb.building-*"))


def test_embedded_writes_need_write_and_mark_the_store(root, capsys):
    assert cli(capsys, "load", root)[0] == 0
    work = root / ".prodnet"
    code, out, err = cli(capsys, "cypher", "MATCH ()-[r]->() DELETE r", "--root", root)
    assert code == 2 and "read-only" in err and "--write" in err and "Traceback" not in out + err
    code, _, err = cli(capsys, "cypher", "MATCH (n) DETACH DELETE n", "--root", root)
    assert code == 2 and "DETACH" in err
    with open_store("embedded", path=work / "graph.lbdb") as s:
        assert counts(s) == cache_links(root) and s.is_current(Cache(work), [2005, 2010])
        with pytest.raises(StoreError, match="read-only"):
            s.run("MATCH (f:Firm) SET f.name = $n", {"n": "x"})

    code, _, err = cli(capsys, "cypher", "MATCH ()-[r:SUPPLIES]->() WHERE r.year = $y DELETE r", "-p", "y=2010",
                       "--root", root, "--write")
    assert code == 0 and "modified" in err
    with open_store("embedded", path=work / "graph.lbdb") as s:
        assert counts(s) == {2005: cache_links(root)[2005]}
        fresh = s.is_current(Cache(work), [2005, 2010])
        assert not fresh and "write" in fresh.reason
    code, out, err = cli(capsys, "cypher", "MATCH (f:Firm) RETURN count(f) AS n", "--root", root)
    assert code == 0 and "not current" in err and "changed by a write" in err

    s, reused = run_all_store("embedded", work, Cache(work), [2005, 2010], lambda m: None)
    assert not reused and counts(s) == cache_links(root) == {y: raw_links(root, y) for y in (2005, 2010)}
    assert s.is_current(Cache(work), [2005, 2010])
    s.close()


@pytest.mark.bolt
def test_neo4j_rebuilds_after_inputs_change_and_writes(root, bolt_uri, monkeypatch, capsys):
    uri, user, password = bolt_uri
    monkeypatch.setenv("NEO4J_URI", uri)
    monkeypatch.setenv("NEO4J_USER", user)
    monkeypatch.setenv("NEO4J_PASSWORD", password)
    work = root / ".prodnet"
    code, out, _ = cli(capsys, "load", root, "--store", "neo4j", "--rebuild")
    assert code == 0, out
    with open_store("neo4j") as s:
        assert counts(s) == cache_links(root) == {2005: 5, 2010: 9}
        assert s.is_current(Cache(work), [2005, 2010])
        assert s.run("MATCH (m:StoreMeta) RETURN m.status AS st").st.tolist() == ["complete"]  # in the database
    assert "nothing to load" in cli(capsys, "load", root, "--store", "neo4j")[1]

    drop_reports(root, 2010, 3)
    run_etl(root)
    s, reused = run_all_store("neo4j", work, Cache(work), [2005, 2010], lambda m: None)
    assert not reused and counts(s) == cache_links(root) == {2005: 5, 2010: raw_links(root, 2010)}
    assert s.run("MATCH (f:Firm) RETURN count(f) AS n").n[0] == len(FIRMS)
    s.close()

    code, _, err = cli(capsys, "cypher", "MATCH ()-[r]->() DELETE r", "--store", "neo4j")
    assert code == 2 and "read-only" in err
    code, _, err = cli(capsys, "cypher", "MATCH ()-[r:SUPPLIES]->() WHERE r.year = $y DELETE r", "-p", "y:int=2005",
                       "--store", "neo4j", "--write")
    assert code == 0 and "modified" in err
    s, reused = run_all_store("neo4j", work, Cache(work), [2005, 2010], lambda m: None)
    assert not reused and counts(s) == cache_links(root)
    assert s.vintage_status() == {2005: "complete", 2010: "complete"}
    s.close()

    monkeypatch.setenv("NEO4J_USER", "neo4j")  # the driver's default user; the test server's is root
    code, out, err = cli(capsys, "cypher", "RETURN 1 AS x", "--store", "neo4j")
    assert code == 2 and "authentication failed for user 'neo4j'" in err and "root" in err
    assert "Traceback" not in out + err and len(err.strip().splitlines()) == 1


KILLABLE_LOAD = """
import pathlib, sys, time
import graph.embedded as emb
real = emb._copy
def slow(conn, table, rows):
    real(conn, table, rows)
    if table == "SUPPLIES":  # the new database is being written
        pathlib.Path(sys.argv[1]).write_text("writing")
        time.sleep(600)
emb._copy = slow
from prodnet.cli import main
main(sys.argv[2:])
"""


def _python(code: str, *args, **kw) -> subprocess.Popen:
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"process ended early: {proc.stderr.read()}")
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def test_kill_during_rebuild_keeps_last_good_store(root, tmp_path, capsys):
    assert cli(capsys, "load", root)[0] == 0
    work = root / ".prodnet"
    good = cache_links(root)
    marker = tmp_path / "writing"
    proc = _python(KILLABLE_LOAD, marker, "load", root, "--rebuild")
    try:
        _wait_for(marker, proc)
        builds = list(work.glob(".graph.lbdb.building-*"))
        assert len(builds) == 1 and (builds[0] / "graph").exists()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert list(work.glob(".graph.lbdb.building-*"))  # left behind by the killed load
    code, out, _ = cli(capsys, "cypher", "MATCH ()-[r:SUPPLIES]->() RETURN r.year AS year, count(*) AS n",
                       "--root", root, "--csv", tmp_path / "n.csv")
    assert code == 0
    got = pd.read_csv(tmp_path / "n.csv")
    assert dict(zip(got.year, got.n, strict=True)) == good
    with open_store("embedded", path=work / "graph.lbdb") as s:
        assert s.is_current(Cache(work), [2005, 2010])

    assert cli(capsys, "load", root, "--rebuild")[0] == 0
    assert not list(work.glob(".graph.lbdb.building-*"))
    with open_store("embedded", path=work / "graph.lbdb") as s:
        assert counts(s) == good


HOLD = """
import pathlib, sys, time
from graph import open_store
s = open_store("embedded", path=sys.argv[1])
write = sys.argv[2] == "write"
cy = "MATCH (m:StoreMeta) SET m.note = 'held' RETURN count(*) AS n" if write else \\
     "MATCH ()-[r:SUPPLIES]->() RETURN count(*) AS n"
n = s.run(cy, write=write).n[0]
pathlib.Path(sys.argv[3]).write_text(str(n))
while not pathlib.Path(sys.argv[4]).exists():
    time.sleep(0.05)
"""

RUN_ALL_HELD = """
import pathlib, sys, time
import analytics.study as study
from graph import open_store
def hold(cache, store, y0, y1):  # run-all is computing while its store load runs beside it
    db = pathlib.Path(sys.argv[3]) / ".prodnet" / "graph.lbdb"
    while True:  # the store becomes readable, and current, while run-all is still in its analytics
        try:
            s = open_store("embedded", path=db)
            ok = bool(s.is_current(cache, [y0, y1])) and s.run("MATCH (f:Firm) RETURN count(f) AS n").n[0] > 0
            s.close()
            if ok:
                break
        except Exception:
            pass
        time.sleep(0.1)
    pathlib.Path(sys.argv[1]).write_text("holding")
    while not pathlib.Path(sys.argv[2]).exists():
        time.sleep(0.05)
    raise SystemExit(0)
study.build = hold
from analytics import run_all
run_all(sys.argv[3], sys.argv[4], quiet=True)
"""


def test_readers_do_not_block_each_other_nor_run_all(root, tmp_path, capsys):
    release = tmp_path / "release"
    held = tmp_path / "run_all_holds"
    run_all = _python(RUN_ALL_HELD, held, release, root, tmp_path / "out")  # loads the store itself
    readers = []
    try:
        _wait_for(held, run_all)
        db = root / ".prodnet" / "graph.lbdb"
        total = sum(cache_links(root).values())
        readers = [_python(HOLD, db, "read", tmp_path / f"r{i}", release) for i in range(2)]
        for i, r in enumerate(readers):
            _wait_for(tmp_path / f"r{i}", r)
            assert int((tmp_path / f"r{i}").read_text()) == total
        code, out, err = cli(capsys, "query", "top_buyers", "-p", "year=2010", "-p", "limit=3", "--root", root)
        assert code == 0 and "error" not in err
    finally:
        release.write_text("go")
        for p in [run_all, *readers]:
            p.wait(timeout=120)
    assert run_all.returncode == 0 and all(r.returncode == 0 for r in readers)


def test_a_writer_is_named_and_readers_still_answer(root, tmp_path, capsys):
    assert cli(capsys, "load", root)[0] == 0
    db = root / ".prodnet" / "graph.lbdb"
    release = tmp_path / "release"
    writer = _python(HOLD, db, "write", tmp_path / "w", release)
    try:
        _wait_for(tmp_path / "w", writer)
        code, out, err = cli(capsys, "cypher", "MATCH ()-[r:SUPPLIES]->() RETURN count(*) AS n", "--db", db)
        assert code == 0 and str(sum(cache_links(root).values())) in out
        code, out, err = cli(capsys, "cypher", "MATCH (f:Firm) SET f.name = 'x'", "--db", db, "--write")
        assert code == 2 and f"process {writer.pid}" in err and "wait" in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
    finally:
        release.write_text("go")
        writer.wait(timeout=60)
    assert writer.returncode == 0


def test_load_removes_build_folders_of_dead_loads_only(root, capsys):
    work = root / ".prodnet"
    work.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (work / f".graph.lbdb.building-{dead.pid}-abc").mkdir()
    (work / ".graph.lbdb.building-old").mkdir()  # a folder without a process id
    alive = work / f".graph.lbdb.building-{os.getppid()}-xyz"  # a process that runs (a load in progress)
    alive.mkdir()
    assert cli(capsys, "load", root)[0] == 0
    assert list(work.glob(".graph.lbdb.building-*")) == [alive]
