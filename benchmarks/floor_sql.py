"""The columnar floor of the ETL: the same checks, rejections (with line and reason), two-way matching,
parent–child flags, distances and survey match as ``etl.pipeline.run_etl``, written in DuckDB SQL over the
raw files (decoded by pyarrow, CP932 included). No geocoding: firms without provider coordinates keep
none. Used by ``benchmarks.bench_floor`` to measure how far the ETL is from what a columnar engine needs.

    floor_etl(root, out_dir, threads=2) -> {step: seconds, ...counts}"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from etl.contract import detect_encoding

_NUM = "TRY_CAST(NULLIF({c}, '') AS DOUBLE)"


def read_text(path: Path) -> pa.Table:
    """Every column as text ('' = missing), decoded by pyarrow in the detected encoding."""
    enc = detect_encoding(path)
    with open(path, encoding="utf-8-sig" if enc == "utf-8" else enc, newline="") as fh:
        header = [h.strip() for h in next(csv.reader(fh))]
    return pacsv.read_csv(path, read_options=pacsv.ReadOptions(encoding=enc, block_size=1 << 24, column_names=header,
                                                                skip_rows=1),
                          convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in header},
                                                               strings_can_be_null=False, auto_dict_encode=False),
                          parse_options=pacsv.ParseOptions(invalid_row_handler=lambda r: "skip"))


def _int_ok(c: str, lo: float | None = None, hi: float | None = None) -> str:
    v = _NUM.format(c=c)
    cond = f"{v} IS NOT NULL AND isfinite({v}) AND {v} = floor({v})"
    cond += f" AND {v} >= {lo}" if lo is not None else ""
    cond += f" AND {v} <= {hi}" if hi is not None else ""
    return cond


def _opt_num(c: str, lo: float | None = None, hi: float | None = None, integer: bool = False) -> str:
    """An optional number: the value when valid, else NULL (blanked)."""
    v = _NUM.format(c=c)
    cond = f"isfinite({v})" + (f" AND {v} = floor({v})" if integer else "")
    cond += f" AND {v} >= {lo}" if lo is not None else ""
    cond += f" AND {v} <= {hi}" if hi is not None else ""
    return f"CASE WHEN {cond} THEN {v} END AS {c}"


def _opt_code(c: str, pattern: str) -> str:
    return f"CASE WHEN regexp_full_match({c}, '{pattern}') THEN {c} ELSE '' END AS {c}"


def _run(con, sql: str) -> None:
    """Execute each ``;``-terminated statement of ``sql`` to completion."""
    for stmt in (x.strip() for x in sql.split(";\n")):
        if stmt:
            con.execute(stmt).fetchall()


def _trimmed(con, name: str, table: pa.Table, columns: list[str]) -> None:
    """Register ``table`` as ``name`` with a line number and the contract columns trimmed."""
    con.register(f"{name}_raw", table)
    have = set(table.column_names)
    cols = ", ".join(f"trim({c}) AS {c}" if c in have else f"'' AS {c}" for c in columns)
    _run(con, f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT row_number() OVER () + 1 AS line, {cols} "
                f"FROM {name}_raw")
    con.unregister(f"{name}_raw")


COMPANY = ["tsr_id", "name", "address", "postal_code", "pref_code", "municipality_code", "lat", "lon", "phone",
           "jsic_main", "jsic_sub1", "jsic_sub2", "employees", "sales", "founded", "establishments"]
MONEY = ["sales", "purchases", "value_added", "tangible_assets", "investment", "wages", "imports_total",
         "imports_asia", "imports_europe", "imports_north_america", "imports_other", "exports_total"]
SURVEY = ["survey_id", "name", "address", "phone", "jsic3", "employees", *MONEY]


def company(con, root: Path, year: int, out: Path) -> dict:
    _trimmed(con, "c", read_text(root / f"tsr/{year}/company.csv"), COMPANY)
    _run(con, f"""
    CREATE OR REPLACE TEMP TABLE c_checked AS
    SELECT *, CASE
        WHEN tsr_id = '' THEN 'tsr_id: required value missing'
        WHEN NOT regexp_full_match(tsr_id, '[0-9]+') THEN 'tsr_id: malformed id'
        WHEN name = '' THEN 'name: required value missing'
        WHEN address = '' THEN 'address: required value missing'
        WHEN jsic_main = '' THEN 'jsic_main: required value missing'
        WHEN NOT regexp_full_match(jsic_main, '[0-9]{{4}}') THEN 'jsic_main: not a 4-digit code'
      END AS reason
    FROM c;
    CREATE OR REPLACE TEMP TABLE c_keyed AS
    SELECT *, CASE WHEN reason IS NULL AND row_number() OVER (PARTITION BY tsr_id, reason IS NULL ORDER BY line) > 1
                   THEN 'duplicate tsr_id (first kept)' ELSE reason END AS why
    FROM c_checked;
    CREATE OR REPLACE TEMP TABLE firms_{year} AS
    SELECT tsr_id, name, address, {_opt_code('postal_code', '[0-9]{3}-?[0-9]{4}')},
           {_opt_num('pref_code', 1, 47, True)}, {_opt_code('municipality_code', '[0-9]{5}')},
           {_opt_num('lat', 20, 46.5)}, {_opt_num('lon', 122, 154.5)}, phone,
           jsic_main AS jsic4, left(jsic_main, 3) AS jsic3,
           {_opt_code('jsic_sub1', '[0-9]{4}')}, {_opt_code('jsic_sub2', '[0-9]{4}')},
           {_opt_num('employees', 0, None, True)}, {_opt_num('sales', 0)}, {_opt_num('founded', 1600, 2100, True)},
           {_opt_num('establishments', 1, None, True)}
    FROM c_keyed WHERE why IS NULL ORDER BY line;
    COPY firms_{year} TO '{out}/firms_{year}.parquet' (FORMAT parquet);
    COPY (SELECT line, why AS reason FROM c_keyed WHERE why IS NOT NULL) TO '{out}/quarantine_company_{year}.csv';
    """)
    return {"firms": con.execute(f"SELECT count(*) FROM firms_{year}").fetchall()[0][0]}


def linkage(con, root: Path, year: int, out: Path) -> dict:
    _trimmed(con, "l", read_text(root / f"tsr/{year}/linkage.csv"), ["tsr_id", "partner_id", "relation", "rank"])
    rank = _NUM.format(c="rank")
    _run(con, f"""
    CREATE OR REPLACE TEMP TABLE l_checked AS
    SELECT line, tsr_id, partner_id, relation, {rank} AS rank, CASE
        WHEN tsr_id = '' THEN 'tsr_id: required value missing'
        WHEN NOT regexp_full_match(tsr_id, '[0-9]+') THEN 'tsr_id: malformed id'
        WHEN partner_id = '' THEN 'partner_id: required value missing'
        WHEN NOT regexp_full_match(partner_id, '[0-9]+') THEN 'partner_id: malformed id'
        WHEN relation NOT IN ('supplier', 'customer', 'shareholder') THEN 'relation: not one of the three'
        WHEN NOT ({_int_ok('rank', 1, 24)}) THEN 'rank: not an integer 1-24'
        WHEN relation = 'shareholder' AND {rank} > 3 THEN 'shareholder rank above 3'
      END AS reason
    FROM l;
    CREATE OR REPLACE TEMP TABLE l_dedup AS
    SELECT *, CASE WHEN reason IS NULL AND row_number() OVER (PARTITION BY tsr_id, partner_id, relation,
                   reason IS NULL ORDER BY line) > 1 THEN 'duplicate report' ELSE reason END AS r2
    FROM l_checked;
    CREATE OR REPLACE TEMP TABLE l_ruled AS
    SELECT l.*, CASE WHEN r2 IS NOT NULL THEN r2
                     WHEN l.tsr_id = l.partner_id THEN 'self-link'
                     WHEN f1.tsr_id IS NULL THEN 'reporting firm not in company file'
                     WHEN f2.tsr_id IS NULL THEN 'partner not in company file' END AS why
    FROM l_dedup l LEFT JOIN (SELECT tsr_id FROM firms_{year}) f1 ON f1.tsr_id = l.tsr_id
                   LEFT JOIN (SELECT tsr_id FROM firms_{year}) f2 ON f2.tsr_id = l.partner_id;
    CREATE OR REPLACE TEMP TABLE ok AS SELECT tsr_id, partner_id, relation, rank FROM l_ruled WHERE why IS NULL;
    CREATE OR REPLACE TEMP TABLE links_{year} AS
    WITH sup AS (SELECT partner_id AS seller_id, tsr_id AS buyer_id, CAST(rank AS BIGINT) AS rank_by_buyer
                 FROM ok WHERE relation = 'supplier'),
         cus AS (SELECT tsr_id AS seller_id, partner_id AS buyer_id, CAST(rank AS BIGINT) AS rank_by_seller
                 FROM ok WHERE relation = 'customer'),
         sh AS (SELECT tsr_id AS x, partner_id AS y FROM ok WHERE relation = 'shareholder'
                UNION SELECT partner_id, tsr_id FROM ok WHERE relation = 'shareholder'),
         lk AS (SELECT coalesce(s.seller_id, c.seller_id) AS seller_id, coalesce(s.buyer_id, c.buyer_id) AS buyer_id,
                       rank_by_buyer, rank_by_seller
                FROM sup s FULL OUTER JOIN cus c ON s.seller_id = c.seller_id AND s.buyer_id = c.buyer_id),
         xy AS (SELECT tsr_id, radians(lat) AS la, radians(lon) AS lo FROM firms_{year})
    SELECT lk.seller_id, lk.buyer_id, rank_by_buyer, rank_by_seller,
           CASE WHEN rank_by_buyer IS NOT NULL AND rank_by_seller IS NOT NULL THEN 'both'
                WHEN rank_by_buyer IS NOT NULL THEN 'buyer' ELSE 'seller' END AS reported_by,
           sh.x IS NOT NULL AS parent_child, {year} AS year,
           2 * 6371.0088 * asin(sqrt(least(1.0, pow(sin((b.la - s.la) / 2), 2)
               + cos(s.la) * cos(b.la) * pow(sin((b.lo - s.lo) / 2), 2)))) AS dist_km
    FROM lk LEFT JOIN sh ON sh.x = lk.seller_id AND sh.y = lk.buyer_id
            LEFT JOIN xy s ON s.tsr_id = lk.seller_id LEFT JOIN xy b ON b.tsr_id = lk.buyer_id
    ORDER BY lk.buyer_id, lk.seller_id;
    COPY links_{year} TO '{out}/links_{year}.parquet' (FORMAT parquet);
    COPY (SELECT line, why AS reason FROM l_ruled WHERE why IS NOT NULL) TO '{out}/quarantine_linkage_{year}.csv';
    """)
    got = con.execute(f"SELECT count(*), sum(CAST(parent_child AS INT)), count(*) FILTER (reported_by = 'both') "
                      f"FROM links_{year}").fetchall()[0]
    return {"links": got[0], "parent_child": int(got[1]), "reported_by_both": got[2]}


def _nfkc(t: pa.Table, cols: list[str]) -> pa.Table:
    for c in cols:
        t = t.set_column(t.column_names.index(c), c, pc.utf8_normalize(t.column(c), "NFKC"))
    return t


_NAME = ("replace(regexp_replace(name, '\\((株|有|同|資|名)\\)|株式会社|有限会社|合同会社|合資会社|合名会社', '', 'g'), "
         "' ', '')")
_PHONE = "regexp_replace(phone, '[^0-9]', '', 'g')"
_ADDR = ("regexp_replace(regexp_replace(regexp_replace(regexp_replace(replace(replace(address, ' ', ''), 'ヶ', 'ケ'), "
         "'[‐‑‒–—―−ｰー－]', '-', 'g'), '([0-9]+)番地?([0-9]+)号?', '\\1-\\2', 'g'), '([0-9]+)番地?$', '\\1'), "
         "'([0-9]+)号$', '\\1')")


def survey(con, root: Path, years: list[int], out: Path) -> dict:
    frames = []
    for p in sorted((root / "bsjbsa").glob("*.csv")):
        _trimmed(con, "s", read_text(p), SURVEY)
        money = ", ".join(_opt_num(m, 0) for m in MONEY)
        _run(con, f"""
        CREATE OR REPLACE TEMP TABLE s_{p.stem} AS
        WITH chk AS (SELECT *, CASE WHEN survey_id = '' THEN 'survey_id: required value missing'
                                    WHEN name = '' THEN 'name: required value missing'
                                    WHEN NOT regexp_full_match(jsic3, '[0-9]{{3}}') THEN 'jsic3: not a 3-digit code'
                               END AS reason FROM s),
             k AS (SELECT *, CASE WHEN reason IS NULL AND row_number() OVER (PARTITION BY survey_id, reason IS NULL
                   ORDER BY line) > 1 THEN 'duplicate survey_id (first kept)' ELSE reason END AS why FROM chk)
        SELECT survey_id, name, address, phone, jsic3, {_opt_num('employees', 0, None, True)}, {money},
               {p.stem} AS year FROM k WHERE why IS NULL""")
        frames.append(f"s_{p.stem}")
    _run(con, f"CREATE OR REPLACE TEMP TABLE bsjbsa AS {' UNION ALL '.join(f'SELECT * FROM {f}' for f in frames)}")
    ident = con.sql("SELECT survey_id, name, address, phone FROM bsjbsa QUALIFY row_number() OVER "
                        "(PARTITION BY survey_id ORDER BY abs(year - 2005), year) = 1").to_arrow_table()
    tsr = con.sql(" UNION ALL ".join(f"SELECT tsr_id, name, address, phone, {y} AS y FROM firms_{y}"
                                         for y in years)).to_arrow_table()
    con.register("ident_n", _nfkc(ident, ["name", "address", "phone"]))
    con.register("tsr_n", _nfkc(tsr, ["name", "address", "phone"]))
    _run(con, f"""
    CREATE OR REPLACE TEMP TABLE sk AS SELECT survey_id, {_NAME} AS n, {_PHONE} AS p, {_ADDR} AS a FROM ident_n;
    CREATE OR REPLACE TEMP TABLE tk AS
    SELECT tsr_id, {_NAME} AS n, {_PHONE} AS p, {_ADDR} AS a FROM tsr_n
    QUALIFY row_number() OVER (PARTITION BY tsr_id ORDER BY y DESC) = 1;
    CREATE OR REPLACE TEMP TABLE cand AS
    SELECT survey_id, tsr_id, string_agg(m, '+' ORDER BY m) AS method FROM (
        SELECT DISTINCT survey_id, tsr_id, 'phone' AS m FROM sk JOIN tk USING (n, p) WHERE p <> ''
        UNION ALL SELECT DISTINCT survey_id, tsr_id, 'address' FROM sk JOIN tk USING (n, a) WHERE a <> '')
    GROUP BY survey_id, tsr_id;
    CREATE OR REPLACE TEMP TABLE bsjbsa_match AS
    WITH c AS (SELECT *, count(*) OVER (PARTITION BY survey_id) AS nt, count(*) OVER (PARTITION BY tsr_id) AS ns
               FROM cand)
    SELECT sk.survey_id,
           coalesce(max(CASE WHEN nt = 1 AND ns = 1 THEN c.tsr_id END), '') AS tsr_id,
           coalesce(max(CASE WHEN nt = 1 AND ns = 1 THEN c.method END), '') AS method,
           coalesce(string_agg(CASE WHEN NOT (nt = 1 AND ns = 1) THEN c.tsr_id END, ';' ORDER BY c.tsr_id), '')
               AS candidates
    FROM sk LEFT JOIN c USING (survey_id) GROUP BY sk.survey_id;
    COPY bsjbsa_match TO '{out}/bsjbsa_match.parquet' (FORMAT parquet);
    COPY (SELECT b.*, m.tsr_id FROM bsjbsa b LEFT JOIN bsjbsa_match m USING (survey_id))
        TO '{out}/bsjbsa.parquet' (FORMAT parquet);
    """)
    return {"matched": con.execute("SELECT count(*) FROM bsjbsa_match WHERE tsr_id <> ''").fetchall()[0][0]}


def floor_etl(root: Path, out: Path, years: list[int], threads: int = 2) -> dict:
    """Run every floor step on ``root``, writing Parquet to ``out``; seconds per step and the counts."""
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    res: dict = {}
    t0 = time.perf_counter()
    for y in years:
        t = time.perf_counter()
        res[f"firms {y}"] = company(con, root, y, out)
        res[f"seconds company {y}"] = time.perf_counter() - t
        t = time.perf_counter()
        res[f"links {y}"] = linkage(con, root, y, out)
        res[f"seconds linkage {y}"] = time.perf_counter() - t
    t = time.perf_counter()
    res["survey"] = survey(con, root, years, out)
    res["seconds survey and match"] = time.perf_counter() - t
    res["seconds total"] = time.perf_counter() - t0
    con.close()
    return res
