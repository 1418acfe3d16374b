"""neo4j-admin import files: headers follow the graph model, rows match the ETL cache read independently."""

from __future__ import annotations

import csv
import json

import pandas as pd
import pytest

from graph.export import export_neo4j_admin

YEARS = [2005, 2010]


@pytest.fixture(scope="module")
def exported(cache, tmp_path_factory):
    d = tmp_path_factory.mktemp("neo4j_admin")
    return export_neo4j_admin(cache, YEARS, d)


def _read(ex, stem: str) -> tuple[list[str], pd.DataFrame]:
    header = next(csv.reader(open(ex.directory / f"{stem}_header.csv", encoding="utf-8")))
    df = pd.read_csv(ex.directory / f"{stem}.csv", header=None, names=header, dtype=str, keep_default_na=False)
    return header, df


def test_firm_nodes_match_company_files(exported, cache):
    header, firms = _read(exported, "firms")
    assert header[0] == "tsr_id:ID(Firm)" and "years:int[]" in header and "manufacturing:boolean" in header
    ids = pd.concat([cache.read(f"firms_{y}").tsr_id for y in YEARS]).unique()
    assert len(firms) == len(ids) == exported.nodes["firms"]
    assert firms["tsr_id:ID(Firm)"].is_unique and set(firms["tsr_id:ID(Firm)"]) == set(ids)
    assert firms["tsr_id:ID(Firm)"].str.startswith("0").any(), "leading zeros kept"
    in_both = set(cache.read("firms_2005").tsr_id) & set(cache.read("firms_2010").tsr_id)
    assert (firms["years:int[]"] == "2005;2010").sum() == len(in_both)
    assert set(firms["manufacturing:boolean"]) <= {"true", "false"}


def test_supplies_per_vintage_match_links(exported, cache):
    _, firms = _read(exported, "firms")
    ids = set(firms["tsr_id:ID(Firm)"])
    for y in YEARS:
        header, rel = _read(exported, f"supplies_{y}")
        assert header[:2] == [":START_ID(Firm)", ":END_ID(Firm)"] and "year:int" in header
        links = cache.read(f"links_{y}")
        assert len(rel) == len(links) == exported.relationships[f"supplies_{y}"]
        assert set(rel[":START_ID(Firm)"]) | set(rel[":END_ID(Firm)"]) <= ids
        assert (rel["year:int"] == str(y)).all()
        assert (rel["parent_child:boolean"] == "true").sum() == int(links.parent_child.sum())
        got = pd.to_numeric(rel["dist_km:double"]).sort_values().to_numpy()
        assert got == pytest.approx(links.dist_km.astype(float).sort_values().to_numpy(), rel=1e-12)


def test_other_nodes_and_relationships(exported, cache):
    _, prefs = _read(exported, "prefectures")
    assert len(prefs) == 47 and prefs[":ID(Prefecture)"].is_unique
    _, ind = _read(exported, "industries")
    assert len(ind) == len(cache.read("industry_jsic")) and ind["jsic4:ID(Industry)"].is_unique
    _, loc = _read(exported, "located_in")
    assert set(loc[":END_ID(Prefecture)"]) <= set(prefs[":ID(Prefecture)"])
    _, inds = _read(exported, "in_industry")
    assert set(inds[":END_ID(Industry)"]) <= set(ind["jsic4:ID(Industry)"])


def test_vintage_records(exported, cache):
    header, v = _read(exported, "vintages")
    assert header[1:] == ["year:int", "status", "links:long"]
    assert v["year:int"].tolist() == [str(y) for y in YEARS] and (v.status == "complete").all()
    assert v["links:long"].astype(int).tolist() == [len(cache.read(f"links_{y}")) for y in YEARS]


def test_build_stamp_is_exported(exported, cache):
    from graph.store import cache_stamp

    header, m = _read(exported, "storemeta")
    assert header == [":ID(StoreMeta)", "key", "status", "vintages", "industry", "modified:boolean", "note"]
    assert len(m) == 1 and m.key[0] == "store" and m.status[0] == "complete" and m["modified:boolean"][0] == "false"
    fresh = cache_stamp(cache, YEARS)
    assert json.loads(m.vintages[0]) == fresh["vintages"] and sorted(fresh["vintages"]) == ["2005", "2010"]
    assert m.industry[0] == fresh["industry"]


def test_import_command_names_every_file(exported):
    cmd = exported.command()
    assert cmd.startswith("neo4j-admin database import full neo4j")
    for stem in list(exported.nodes) + list(exported.relationships):
        assert f"{stem}_header.csv," in cmd and f"{stem}.csv" in cmd
