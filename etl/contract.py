"""The raw data contract (DATA_CONTRACT.md): file layout, column schemas, and a reader that finds the
file (CSV or Parquet), detects the encoding (UTF-8 or CP932) and checks required columns."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


class ContractError(ValueError):
    """A file that cannot be used at all: missing, unreadable, or missing a required column."""


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # id | text | int | float | code3 | code4 | pref | muni | year | enum | postal
    required: bool = False  # the column must exist AND every row must have a valid value
    lo: float | None = None
    hi: float | None = None
    values: tuple[str, ...] = ()


COMPANY = (
    Column("tsr_id", "id", True), Column("name", "text", True), Column("address", "text", True),
    Column("postal_code", "postal"), Column("pref_code", "int", lo=1, hi=47), Column("municipality_code", "muni"),
    Column("lat", "float", lo=20.0, hi=46.5), Column("lon", "float", lo=122.0, hi=154.5), Column("phone", "text"),
    Column("jsic_main", "code4", True), Column("jsic_sub1", "code4"), Column("jsic_sub2", "code4"),
    Column("employees", "int", lo=0), Column("sales", "float", lo=0), Column("founded", "int", lo=1600, hi=2100),
    Column("establishments", "int", lo=1),
)
LINKAGE = (
    Column("tsr_id", "id", True), Column("partner_id", "id", True),
    Column("relation", "enum", True, values=("supplier", "customer", "shareholder")),
    Column("rank", "int", True, lo=1, hi=24),
)
_MONEY = ("sales", "purchases", "value_added", "tangible_assets", "investment", "wages", "imports_total",
          "imports_asia", "imports_europe", "imports_north_america", "imports_other", "exports_total")
BSJBSA = (
    Column("survey_id", "id", True), Column("name", "text", True), Column("address", "text"),
    Column("phone", "text"), Column("jsic3", "code3", True), Column("employees", "int", lo=0),
    *(Column(m, "float", lo=0) for m in _MONEY),
)
JSIC = (Column("jsic4", "code4", True), Column("jsic3", "code3", True), Column("name", "text"),
        Column("manufacturing", "int", True, lo=0, hi=1), Column("sector12", "int", lo=1, hi=12))
CHARACTERISTICS = (Column("jsic3", "code3", True), Column("rho", "float", lo=1.0 + 1e-9),
                   Column("theta_cp", "float", lo=0), Column("air_share", "float", lo=0, hi=1),
                   Column("rauch", "int", lo=0, hi=1))
WORLD_EXPORTS = (Column("jsic4", "code4", True), Column("year", "int", True, lo=1900, hi=2100),
                 Column("exports_usd", "float", True, lo=0))
MUNICIPALITY_CHANGES = (Column("old_name", "text", True), Column("new_code", "muni", True),
                        Column("effective", "text", True), Column("old_code", "text"),
                        Column("old_pref_code", "int", lo=1, hi=47))
WAGES = (Column("jsic3", "code3", True), Column("year", "int", True, lo=1900, hi=2100),
         Column("wage_high", "float", True, lo=0), Column("wage_low", "float", True, lo=0),
         Column("emp_high", "float", lo=0), Column("emp_low", "float", lo=0))


def find_file(root: Path, stem: str) -> Path:
    """``root/stem.csv`` or ``root/stem.parquet``; ContractError naming both if neither exists."""
    for ext in (".csv", ".parquet"):
        p = Path(root) / f"{stem}{ext}"
        if p.exists():
            return p
    raise ContractError(f"{Path(root) / stem}.csv (or .parquet): file not found")


def detect_encoding(path: Path, encoding: str | None = None) -> str:
    """UTF-8 if the whole file decodes as UTF-8, else CP932; ContractError if neither decodes."""
    if encoding:
        return encoding
    data = path.read_bytes()
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as e_utf8:
        try:
            data.decode("cp932")
            return "cp932"
        except UnicodeDecodeError as e:
            raise ContractError(
                f"{path}: neither UTF-8 (byte {e_utf8.start}) nor CP932 (byte {e.start}); pass --encoding"
            ) from e


def _header(path: Path, encoding: str) -> list[str]:
    """Column names of a CSV file (every column is then read as text: codes keep leading zeros)."""
    with open(path, encoding=encoding, newline="") as fh:
        return next(csv.reader(fh), [])


def read_table(path: Path, schema: tuple[Column, ...], encoding: str | None = None) -> tuple[pd.DataFrame, str]:
    """Read a contract file with every column as text ('' = missing). Returns (frame, encoding).

    Extra columns are dropped; missing optional columns are added empty; a missing required column
    raises ContractError naming the file and the column."""
    path = Path(path)
    if not path.exists():
        raise ContractError(f"{path}: file not found")
    try:
        if path.suffix == ".parquet":
            table, enc = pq.read_table(path), "parquet"
        else:
            enc = detect_encoding(path, encoding)
            header = _header(path, enc)
            table = pacsv.read_csv(
                path, read_options=pacsv.ReadOptions(encoding=enc, block_size=1 << 24),
                convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in header},
                                                     strings_can_be_null=False, auto_dict_encode=False),
                parse_options=pacsv.ParseOptions(newlines_in_values=False),
            )
    except (pa.ArrowInvalid, OSError) as e:
        raise ContractError(f"{path}: unreadable: {e}") from e
    names = set(table.column_names)
    missing = [c.name for c in schema if c.required and c.name not in names]
    if missing:
        raise ContractError(f"{path}: missing required column(s) {', '.join(missing)} "
                            f"(found: {', '.join(table.column_names)})")
    cols = {}
    for c in schema:
        if c.name in names:
            col = table.column(c.name)
            cols[c.name] = col.cast(pa.string()).to_pandas().fillna("").astype(str)
        else:
            cols[c.name] = pd.Series([""] * table.num_rows, dtype=object)
    df = pd.DataFrame(cols)
    return df, enc
