"""Loads are idempotent and atomic per vintage on both backends; stores built by another engine
version are refused with a clear message."""

from __future__ import annotations

import json

import pytest

import graph.embedded as emb
import graph.neo4j_store as n4
from graph import StoreError, open_store


def _counts(store):
    df = store.run("MATCH ()-[r:SUPPLIES]->() RETURN r.year AS year, count(*) AS n ORDER BY year")
    return dict(zip(df.year.astype(int), df.n.astype(int), strict=True))


def test_embedded_failed_load_keeps_last_good_state(cache, tmp_path, monkeypatch):
    s = open_store("embedded", path=tmp_path / "g.lbdb")
    s.load(cache, [2005])
    before = _counts(s)
    real = emb._copy

    def boom(conn, table, rows):
        if table == "SUPPLIES" and "links_2010" in str(rows):
            raise OSError("disk full (injected)")
        return real(conn, table, rows)

    monkeypatch.setattr(emb, "_copy", boom)
    with pytest.raises(OSError, match="injected"):
        s.load(cache, [2010])
    assert _counts(s) == before and s.vintages() == [2005]
    monkeypatch.setattr(emb, "_copy", real)
    s.load(cache, [2010])
    again = _counts(s)
    s.load(cache, [2010])
    assert _counts(s) == again == {2005: len(cache.read("links_2005")), 2010: len(cache.read("links_2010"))}
    assert not list(tmp_path.glob(".g.lbdb.building-*"))
    s.close()


def test_embedded_refuses_other_engine_version(cache, tmp_path):
    s = open_store("embedded", path=tmp_path / "g.lbdb")
    s.load(cache, [2005])
    s.close()
    meta = json.loads((tmp_path / "g.lbdb.json").read_text())
    meta["engine_version"] = "0.21.0"
    (tmp_path / "g.lbdb.json").write_text(json.dumps(meta))
    s = open_store("embedded", path=tmp_path / "g.lbdb")
    with pytest.raises(StoreError, match="0.21.0.*Rebuild"):
        s.run("MATCH (f:Firm) RETURN count(f)")
    fresh = s.is_current(cache, [2005])
    assert not fresh and "0.21.0" in fresh.reason
    s.load(cache, [2005])  # what run-all and `prodnet load` then do
    assert _counts(s) == {2005: len(cache.read("links_2005"))} and s.is_current(cache, [2005])
    s.close()


def test_embedded_missing_store_is_a_clear_error(tmp_path):
    s = open_store("embedded", path=tmp_path / "none.lbdb")
    with pytest.raises(StoreError, match="prodnet load"):
        s.run("MATCH (f:Firm) RETURN count(f)")


@pytest.mark.bolt
def test_neo4j_failed_load_keeps_last_good_state(cache, bolt_uri, monkeypatch):
    uri, user, password = bolt_uri
    s = n4.Neo4jStore(uri, user, password, batch=4000)
    s.run("MATCH (n) DETACH DELETE n", write=True)
    s.load(cache, [2005, 2010])
    before = _counts(s)
    real = s._write_batch
    calls = {"n": 0}

    def flaky(cypher, chunk, params):
        if cypher is n4.CREATE_LINKS:
            calls["n"] += 1
            if calls["n"] == 3:
                raise ConnectionError("connection lost (injected)")
        return real(cypher, chunk, params)

    monkeypatch.setattr(s, "_write_batch", flaky)
    with pytest.raises(ConnectionError, match="injected"):
        s.load(cache, [2010])
    assert _counts(s)[2010] == before[2010] and s.vintages() == [2005, 2010]
    assert s.run("MATCH ()-[r:SUPPLIES]->() WHERE r.year < 0 RETURN count(*) AS n").n[0] > 0  # staged, invisible
    monkeypatch.setattr(s, "_write_batch", real)
    s.load(cache, [2010])  # re-run: leftovers removed, vintage swapped
    assert _counts(s) == before
    assert s.vintage_status() == {2005: "complete", 2010: "complete"}
    s.close()
