"""The command line speaks in one line: every usage error, bad parameter, bad Cypher and missing path
gives one clear line on stderr and a non-zero exit, never a traceback (unless --debug). Parameter values
keep their text (leading zeros), explicit types work, --csv never overwrites silently."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from handroot import FIRMS, cli, make_root

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def root(tmp_path_factory, small_root) -> Path:
    """A loaded hand-written root (path with an apostrophe and a double quote)."""
    from handroot import shared_geocoder

    import etl.pipeline
    from prodnet.cli import main

    mp = pytest.MonkeyPatch()
    mp.setattr(etl.pipeline, "Geocoder", shared_geocoder, raising=False)
    r = make_root(tmp_path_factory.mktemp("cli"), small_root)
    with pytest.raises(SystemExit) as e:
        main(["load", str(r)])
    mp.undo()
    assert e.value.code == 0
    return r


def one_line_error(code: int, out: str, err: str, expected_code: int, *fragments: str) -> None:
    assert code == expected_code, (code, out, err)
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for f in fragments:
        assert f in lines[0], (f, lines[0])


@pytest.mark.parametrize("args, fragments", [
    (["run-all"], ["Missing argument", "prodnet run-all --help"]),
    (["--bogus"], ["No such option: --bogus"]),
    (["frobnicate"], ["No such command"]),
    (["synth", "x", "--seed", "abc"], ["--seed", "integer"]),
    (["cypher", "RETURN 1", "--store", "bogus"], ["--store must be embedded or neo4j"]),
])
def test_usage_errors(capsys, args, fragments):
    one_line_error(*cli(capsys, *args), 2, *fragments)


def test_bad_parameters(capsys, root):
    r = ["--root", root]
    one_line_error(*cli(capsys, "cypher", "RETURN $n AS n", "-p", "bad", *r), 2, "NAME=VALUE", "'bad'")
    one_line_error(*cli(capsys, "cypher", "RETURN $n AS n", "-p", "n:int=x", *r), 2, "-p n", "'x'", "int")
    one_line_error(*cli(capsys, "cypher", "RETURN $n AS n", "-p", "n:complex=1", *r), 2, "unknown type 'complex'")
    one_line_error(*cli(capsys, "cypher", "RETURN $n AS n", "-p", "n:bool=maybe", *r), 2, "'maybe'", "bool")
    one_line_error(*cli(capsys, "cypher", "RETURN $n AS n", *r), 2, "needs parameter(s) n")
    one_line_error(*cli(capsys, "query", "firm", *r), 2, "missing parameter(s) firm_id")
    one_line_error(*cli(capsys, "query", "top_buyers", "-p", "year=abc", "-p", "limit=3", *r), 2,
                   "parameter year must be int", "'abc'")
    one_line_error(*cli(capsys, "query", "firm", "-p", "firm_id=1", "-p", "x=2", *r), 2, "unknown parameter(s) x")
    one_line_error(*cli(capsys, "query", "nosuch", *r), 2, "no query named 'nosuch'")
    one_line_error(*cli(capsys, "run-all", root, root / "out", "--only", "table_77"), 2,
                   "unknown exhibit(s) table_77; available: table_1, table_2")
    one_line_error(*cli(capsys, "query", "upstream_reach", "-p", "firm_id=0001", "-p", "year=2010", "-p", "k=7", *r),
                   2, "parameter k must be between 1 and 3, got 7")
    one_line_error(*cli(capsys, "query", "top_buyers", "-p", "year=1999", "-p", "limit=3", *r), 2,
                   "vintage 1999 is not loaded in this store (loaded: 2005, 2010)")


def test_bad_cypher_and_missing_paths(capsys, root, tmp_path):
    one_line_error(*cli(capsys, "cypher", "MATCH (f:Firm RETURN f", "--root", root), 2, "Cypher error", "Parser")
    one_line_error(*cli(capsys, "cypher", "MATCH (f:Nope) RETURN f", "--root", root), 2, "Cypher error", "Nope")
    one_line_error(*cli(capsys, "load", tmp_path / "nowhere"), 2, "nowhere", "not found")
    one_line_error(*cli(capsys, "cypher", "RETURN 1", "--db", tmp_path / "none.lbdb"), 2, "no graph at",
                   "prodnet load")
    one_line_error(*cli(capsys, "cypher", "RETURN 1"), 2, "--root DATA_ROOT", "--db PATH")
    one_line_error(*cli(capsys, "cypher", "RETURN 1 AS n", "--root", root, "--csv", tmp_path / "no" / "x.csv"), 2,
                   "folder", "does not exist")


def test_neo4j_without_settings(capsys, monkeypatch):
    monkeypatch.delenv("NEO4J_URI", raising=False)
    one_line_error(*cli(capsys, "cypher", "RETURN 1", "--store", "neo4j"), 2, "set NEO4J_URI")


def test_unexpected_errors_are_one_line_and_debug_shows_the_traceback(capsys, monkeypatch):
    import queries

    def boom():
        raise ZeroDivisionError("injected")

    monkeypatch.setattr(queries, "names", boom)
    one_line_error(*cli(capsys, "queries"), 1, "unexpected ZeroDivisionError: injected", "--debug")
    code, out, err = cli(capsys, "queries", "--debug")
    assert code == 1 and "Traceback" in err and "ZeroDivisionError" in err


def test_csv_refuses_to_overwrite_without_force(capsys, root, tmp_path):
    f = tmp_path / "n.csv"
    q = ["cypher", "MATCH (f:Firm) RETURN count(f) AS n", "--root", root, "--csv", f]
    assert cli(capsys, *q)[0] == 0 and pd.read_csv(f).n.tolist() == [len(FIRMS)]
    f.write_text("keep me")
    one_line_error(*cli(capsys, *q), 2, "exists", "--force")
    assert f.read_text() == "keep me"
    assert cli(capsys, *q, "--force")[0] == 0 and pd.read_csv(f).n.tolist() == [len(FIRMS)]


def test_parameter_values_keep_their_text_and_explicit_types(capsys, root, tmp_path):
    f = tmp_path / "p.csv"
    code, out, err = cli(capsys, "cypher", "MATCH (f:Firm) WHERE f.tsr_id = $id RETURN f.tsr_id AS id, f.name AS name",
                         "-p", "id=075988591", "--root", root, "--csv", f)
    assert code == 0, err
    got = pd.read_csv(f, dtype=str)
    assert got.id.tolist() == ["075988591"] and got.name.tolist() == ["(株)ゼロ始まり工業"]
    code, out, err = cli(capsys, "query", "firm", "-p", "firm_id:str=000123", "--root", root, "--csv", f, "--force")
    assert code == 0 and pd.read_csv(f, dtype=str).tsr_id.tolist() == ["000123"]
    code, out, err = cli(capsys, "cypher", "RETURN $a AS a, $b AS b, $c AS c, $d AS d, $e AS e, $g AS g, $h AS h",
                         "-p", "a=075", "-p", "b:int=075", "-p", "c:float=2.5", "-p", "d:bool=yes", "-p", "e=12",
                         "-p", "g=1.5", "-p", "h:str=12", "--root", root, "--csv", f, "--force")
    assert code == 0, err
    row = pd.read_csv(f, dtype=str).iloc[0].to_dict()
    assert row == {"a": "075", "b": "75", "c": "2.5", "d": "True", "e": "12", "g": "1.5", "h": "12"}
    code, out, err = cli(capsys, "cypher", "MATCH (f:Firm) RETURN f.tsr_id AS id ORDER BY id LIMIT $n",
                         "-p", "n:int=2", "--root", root, "--csv", f, "--force")
    assert code == 0 and pd.read_csv(f, dtype=str).id.tolist() == sorted(x[0] for x in FIRMS)[:2]


def test_a_query_without_rows_says_so(capsys, root):
    code, out, err = cli(capsys, "query", "firm", "-p", "firm_id=no-such-firm", "--root", root)
    assert code == 0 and "no rows" in out
    code, out, err = cli(capsys, "query", "firm", "-p", f"firm_id={FIRMS[0][0]}", "--root", root)
    assert code == 0 and "no rows" not in out and FIRMS[0][0] in out


def test_console_script_prints_no_traceback(root):
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    p = subprocess.run([sys.executable, "-c", "from prodnet.cli import main; main()", "cypher", "MATCH (", "--root",
                        str(root)], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    assert p.returncode == 2 and "Traceback" not in p.stderr and p.stderr.startswith("error: Cypher error")
    assert len(p.stderr.strip().splitlines()) == 1
