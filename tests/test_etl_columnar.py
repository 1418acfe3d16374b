"""The column-at-a-time ETL paths give exactly what the value-at-a-time definitions give: text normalised
over a whole joined column, firm-id checks in Arrow, two-way matching on integer codes."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from etl import geo
from etl.bsjbsa import _keys, normalize_address, normalize_name, normalize_phone
from etl.geo import _strip_oaza, address_key, map_text
from etl.geo import normalize_address as town_name
from etl.tsr import two_way_match
from etl.validate import is_in

# characters every normaliser treats specially: digits of both widths, 番地/号/丁目, 大字/字, legal forms,
# spaces of both widths, hyphens, line breaks, a combining mark, kanji numerals, NUL
ALPHABET = list("0123456789０１２３４５６７８９番地号丁目大字字株式会社有限(株)（有）㈱ヶケがの之ノ -－ー‐−\u3000\n\r\t\x00"
                "\u3099\u309aか一二三十東京都港区条線")
texts = st.lists(st.text(alphabet=ALPHABET, max_size=14), max_size=30)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_joined_column_normalisation_equals_value_by_value(values):
    for fn in (address_key, town_name, _strip_oaza, normalize_name):
        assert map_text(values, fn) == [fn(v) for v in values], fn.__name__
    df = pd.DataFrame({"name": values, "phone": values, "address": values})
    k = _keys(df)
    assert k.n.tolist() == [normalize_name(v) for v in values]
    assert k.p.tolist() == [normalize_phone(v) for v in values]
    assert k.a.tolist() == [normalize_address(v) for v in values]


def test_normalisers_on_known_notations():
    df = pd.DataFrame({"name": ["㈱山田 製作所", "山田製作所株式会社"], "phone": ["(03)1234-５６７８", "03-1234-5678"],
                       "address": ["東京都港区芝1番地2号", "東京都港区芝１－２"]})
    k = _keys(df)
    assert k.n.tolist() == ["山田製作所", "山田製作所"]
    assert k.p.tolist() == ["0312345678", "0312345678"]
    assert k.a.tolist() == ["東京都港区芝1-2", "東京都港区芝1-2"]
    assert map_text(["大字上野1", "字下"], _strip_oaza) == ["上野1", "下"]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["001", "01", "1", "10", "0010", "", "2"]), max_size=40),
       st.lists(st.sampled_from(["001", "1", "10", "7"]), max_size=5))
def test_is_in_equals_set_membership(values, known):
    got = is_in(pd.Series(values, dtype=str), known)
    assert got.tolist() == [v in set(known) for v in values]


def _two_way_reference(r: pd.DataFrame, year: int) -> pd.DataFrame:
    """The matching written on string keys with pandas merges (paper section 2)."""
    sup, cus, sh = (r[r.relation == k] for k in ("supplier", "customer", "shareholder"))
    a = pd.DataFrame({"seller_id": sup.partner_id, "buyer_id": sup.tsr_id, "rank_by_buyer": sup["rank"]})
    b = pd.DataFrame({"seller_id": cus.tsr_id, "buyer_id": cus.partner_id, "rank_by_seller": cus["rank"]})
    m = a.merge(b, on=["seller_id", "buyer_id"], how="outer")
    m["reported_by"] = np.where(m.rank_by_buyer.notna() & m.rank_by_seller.notna(), "both",
                                np.where(m.rank_by_buyer.notna(), "buyer", "seller"))
    pairs = set(zip(sh.tsr_id, sh.partner_id, strict=True)) | set(zip(sh.partner_id, sh.tsr_id, strict=True))
    m["parent_child"] = [(s, b) in pairs for s, b in zip(m.seller_id, m.buyer_id, strict=True)]
    return m.sort_values(["buyer_id", "seller_id"]).reset_index(drop=True)


def test_two_way_matching_on_codes_equals_string_merge():
    rng = np.random.default_rng(5)
    ids = ["0001", "001", "01", "1", "10", "0100", "2", "99", "0099", "5"]
    n = 400
    r = pd.DataFrame({"tsr_id": rng.choice(ids, n), "partner_id": rng.choice(ids, n),
                      "relation": rng.choice(["supplier", "customer", "shareholder"], n, p=[0.45, 0.45, 0.1]),
                      "rank": rng.integers(1, 25, n).astype(float)})
    r = r[r.tsr_id != r.partner_id].drop_duplicates(["tsr_id", "partner_id", "relation"])
    got = two_way_match(r, 2010)
    exp = _two_way_reference(r, 2010)
    assert got.seller_id.tolist() == exp.seller_id.tolist() and got.buyer_id.tolist() == exp.buyer_id.tolist()
    for c in ("rank_by_buyer", "rank_by_seller"):
        assert got[c].astype("Float64").fillna(-1).tolist() == exp[c].fillna(-1).tolist()
    assert got.reported_by.tolist() == exp.reported_by.tolist()
    assert got.parent_child.tolist() == exp.parent_child.tolist() and exp.parent_child.any()
    assert (got.year == 2010).all()


def test_reference_tables_kept_between_runs_equal_the_built_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("PRODNET_CACHE_DIR", str(tmp_path))
    built = geo._kept("towns", geo._build_town_tables)
    files = list(tmp_path.glob("towns-*.marshal"))
    assert len(files) == 1
    assert geo._kept("towns", lambda: None) == built  # read back, not rebuilt
    assert geo._kept("variants", geo._build_variants) == geo._build_variants()


def test_reference_cache_survives_a_bad_file_and_an_unwritable_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PRODNET_CACHE_DIR", str(tmp_path))
    geo._kept("probe", lambda: {"a": (1.0, 2.0, "x")})
    f = next(tmp_path.glob("probe-*.marshal"))
    f.write_bytes(b"\x00garbage")
    assert geo._kept("probe", lambda: {"b": 1}) == {"b": 1}  # rebuilt and rewritten
    assert geo._kept("probe", lambda: None) == {"b": 1}
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("PRODNET_CACHE_DIR", str(blocker))
    assert geo._kept("probe", lambda: [1, 2]) == [1, 2]
