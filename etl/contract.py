"""The raw data contract: file layout, column schemas, and a reader that finds the file (CSV or Parquet),
checks or detects the encoding (UTF-8 with or without byte-order mark, CP932), reads every column as text
and keeps the physical line of every row, so that any later problem can name file, line and column.

A new input file is one ``FileSpec`` (folder, stem, columns, key, required) read with
``etl.validate.read_checked``, which returns its valid rows, its report and its quarantine."""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


class ContractError(ValueError):
    """A file that cannot be used at all: missing, unreadable, or missing a required column."""


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # id | key | text | int | float | code3 | code4 | muni | postal | enum
    required: bool = False  # the column must exist AND every row must have a valid value
    lo: float | None = None
    hi: float | None = None
    values: tuple[str, ...] = ()

    @property
    def textual(self) -> bool:
        """Identifiers, codes and names: stored as text in every format (leading zeros are data)."""
        return self.kind not in ("int", "float")


@dataclass(frozen=True)
class FileSpec:
    """One file of the contract: where it lives, its columns, whether the run needs it and its unique key.

    ``folder`` may contain ``{year}``; ``stem`` is the file name without extension (``{year}`` allowed).
    An optional file (``required=False``) may be absent; when present it is checked like any other."""

    label: str
    folder: str
    stem: str
    schema: tuple[Column, ...]
    required: bool = True
    key: tuple[str, ...] = ()

    def path(self, root: Path, year: int | None = None) -> Path:
        """The CSV or Parquet file of this spec under ``root``; ContractError naming the file if absent."""
        return find_file(Path(root) / self.folder.format(year=year), self.stem.format(year=year))


COMPANY_COLUMNS = (
    Column("tsr_id", "id", True), Column("name", "text", True), Column("address", "text", True),
    Column("postal_code", "postal"), Column("pref_code", "int", lo=1, hi=47), Column("municipality_code", "muni"),
    Column("lat", "float", lo=20.0, hi=46.5), Column("lon", "float", lo=122.0, hi=154.5), Column("phone", "text"),
    Column("jsic_main", "code4", True), Column("jsic_sub1", "code4"), Column("jsic_sub2", "code4"),
    Column("employees", "int", lo=0), Column("sales", "float", lo=0), Column("founded", "int", lo=1600, hi=2100),
    Column("establishments", "int", lo=1),
)
LINKAGE_COLUMNS = (
    Column("tsr_id", "id", True), Column("partner_id", "id", True),
    Column("relation", "enum", True, values=("supplier", "customer", "shareholder")),
    Column("rank", "int", True, lo=1, hi=24),
)
_MONEY = ("sales", "purchases", "value_added", "tangible_assets", "investment", "wages", "imports_total",
          "imports_asia", "imports_europe", "imports_north_america", "imports_other", "exports_total")
BSJBSA_COLUMNS = (
    Column("survey_id", "key", True), Column("name", "text", True), Column("address", "text"),
    Column("phone", "text"), Column("jsic3", "code3", True), Column("employees", "int", lo=0),
    *(Column(m, "float", lo=0) for m in _MONEY), Column("outsourcing_abroad", "float", lo=0),
)
JSIC_COLUMNS = (Column("jsic4", "code4", True), Column("jsic3", "code3", True), Column("name", "text"),
                Column("manufacturing", "int", True, lo=0, hi=1), Column("sector12", "int", lo=1, hi=12))
CHARACTERISTICS_COLUMNS = (Column("jsic3", "code3", True), Column("rho", "float", lo=1.0 + 1e-9),
                           Column("theta_cp", "float", lo=0), Column("air_share", "float", lo=0, hi=1),
                           Column("rauch", "int", lo=0, hi=1))
WORLD_EXPORTS_COLUMNS = (Column("jsic4", "code4", True), Column("year", "int", True, lo=1900, hi=2100),
                         Column("exports_usd", "float", True, lo=0))
MUNICIPALITY_CHANGES_COLUMNS = (Column("old_name", "text", True), Column("new_code", "muni", True),
                                Column("effective", "text", True), Column("old_code", "text"),
                                Column("old_pref_code", "int", lo=1, hi=47))
WAGES_COLUMNS = (Column("jsic3", "code3", True), Column("year", "int", True, lo=1900, hi=2100),
                 Column("wage_high", "float", True, lo=0), Column("wage_low", "float", True, lo=0),
                 Column("emp_high", "float", lo=0), Column("emp_low", "float", lo=0))

COMPANY = FileSpec("company", "tsr/{year}", "company", COMPANY_COLUMNS, key=("tsr_id",))
LINKAGE = FileSpec("linkage", "tsr/{year}", "linkage", LINKAGE_COLUMNS)
BSJBSA = FileSpec("survey", "bsjbsa", "{year}", BSJBSA_COLUMNS, key=("survey_id",))
INDUSTRY = {
    "jsic": FileSpec("jsic", "industry", "jsic", JSIC_COLUMNS, key=("jsic4",)),
    "characteristics": FileSpec("characteristics", "industry", "characteristics", CHARACTERISTICS_COLUMNS,
                                key=("jsic3",)),
    "world_exports": FileSpec("world_exports", "industry", "world_exports", WORLD_EXPORTS_COLUMNS,
                              key=("jsic4", "year")),
    "wages": FileSpec("wages", "industry", "wages", WAGES_COLUMNS, key=("jsic3", "year")),
}
MUNICIPALITY_CHANGES = FileSpec("municipality_changes", "geo", "municipality_changes", MUNICIPALITY_CHANGES_COLUMNS,
                                required=False)


def find_file(root: Path, stem: str) -> Path:
    """``root/stem.csv`` or ``root/stem.parquet``; ContractError naming both if neither exists."""
    for ext in (".csv", ".parquet"):
        p = Path(root) / f"{stem}{ext}"
        if p.exists():
            return p
    raise ContractError(f"{Path(root) / stem}.csv (or .parquet): file not found")


@dataclass
class RawTable:
    """A file read as text: the schema's columns ('' = missing), the physical line of each row (CSV: header
    = line 1; Parquet: first row = 1) and the rows that could not be split into the header's fields."""

    path: Path
    encoding: str
    frame: pd.DataFrame
    lines: np.ndarray
    malformed: pd.DataFrame  # line, value (the raw text), reason

    @property
    def rows_read(self) -> int:
        return len(self.frame) + len(self.malformed)


_CHUNK = 1 << 24


def _first_bad_line(path: Path, encoding: str) -> tuple[int, bytes]:
    """(line number, offending bytes) of the first line that does not decode."""
    with open(path, "rb") as fh:
        for i, line in enumerate(fh, start=1):
            try:
                line.decode(encoding)
            except UnicodeDecodeError as e:
                return i, line[e.start:e.end + 3]
    return 0, b""


def _decodes(path: Path, encoding: str) -> bool:
    """True if the whole file decodes with ``encoding`` (streamed; never holds the file in memory)."""
    dec = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                dec.decode(chunk)
            dec.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(path: Path, encoding: str | None = None) -> str:
    """The given encoding if the file decodes with it, else UTF-8 or CP932, whichever decodes first.

    A file that does not decode raises ContractError naming the file, the first bad line and what to do."""
    path = Path(path)
    if encoding:
        try:
            name = codecs.lookup(encoding).name
        except LookupError:
            raise ContractError(f"unknown encoding {encoding!r} (use utf-8 or cp932)") from None
        name = "utf-8" if name in ("utf-8", "utf-8-sig") else name
        if name != "utf-8" and not _decodes(path, "ascii") and _decodes(path, "utf-8"):
            raise ContractError(f"{path}: the file is UTF-8 text; reading it as {encoding} would garble its "
                                "names and addresses: leave --encoding out (the encoding is detected per file)")
        if not _decodes(path, name):
            line, bad = _first_bad_line(path, name)
            other = next((e for e in ("utf-8", "cp932") if e != name and _decodes(path, e)), None)
            hint = f"the file decodes as {other}: pass --encoding {other} or leave --encoding out" if other else \
                "re-export the file as UTF-8"
            raise ContractError(f"{path}: line {line} is not valid {encoding} (bytes {bad!r}); {hint}")
        return name
    for name in ("utf-8", "cp932"):
        if _decodes(path, name):
            return name
    line, bad = _first_bad_line(path, "utf-8")
    line_sj, _ = _first_bad_line(path, "cp932")
    raise ContractError(f"{path}: neither UTF-8 (line {line}, bytes {bad!r}) nor CP932 (line {line_sj}); "
                        "re-export the file as UTF-8 or pass --encoding")


def _header(path: Path, encoding: str) -> list[str]:
    """Column names of a CSV file (a byte-order mark and surrounding spaces are not part of a name)."""
    with open(path, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="") as fh:
        names = [h.strip() for h in next(csv.reader(fh), [])]
    if not names or names == [""]:
        raise ContractError(f"{path}: empty file (no header line)")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ContractError(f"{path}: line 1: column(s) {', '.join(dup)} appear more than once")
    return names


def _read_csv(path: Path, encoding: str | None) -> tuple[pa.Table, str, np.ndarray, pd.DataFrame]:
    """Every column as text; rows with the wrong number of fields set aside with their line number.

    Without ``encoding``, a file that is not UTF-8 is read as CP932 straight away (the read itself checks
    every byte, so the file is decoded once); if that fails, ``detect_encoding`` names the first bad line."""
    if encoding:
        return _read_csv_as(path, detect_encoding(path, encoding))
    try:
        return _read_csv_as(path, "utf-8" if _decodes(path, "utf-8") else "cp932")
    except (ContractError, UnicodeDecodeError):
        detect_encoding(path)
        raise


def _read_csv_as(path: Path, enc: str) -> tuple[pa.Table, str, np.ndarray, pd.DataFrame]:
    header = _header(path, enc)
    bad: list[tuple[int, str, str]] = []

    def invalid(row) -> str:
        bad.append((row.number, row.text[:200], f"expected {row.expected_columns} fields, got {row.actual_columns}"))
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=enc, block_size=_CHUNK, column_names=header, skip_rows=1,
                                           use_threads=False),  # serial: every invalid row gets its line number
            convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in header},
                                                 strings_can_be_null=False, auto_dict_encode=False),
            parse_options=pacsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False,
                                             invalid_row_handler=invalid),
        )
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as e:
        raise ContractError(f"{path}: unreadable: {e}") from e
    malformed = pd.DataFrame(bad, columns=["line", "value", "reason"])
    lines = np.arange(2, 2 + table.num_rows + len(bad), dtype=np.int64)
    if bad:
        lines = lines[~np.isin(lines, malformed.line.to_numpy())]
    return table, enc, lines, malformed


def _refuse_non_text(path: Path, table: pa.Table, schema: tuple[Column, ...]) -> None:
    """Parquet: an identifier, code or name column must be text; a number there may already have lost its
    leading zeros, so it is refused, never converted."""
    for c in schema:
        if c.textual and c.name in table.column_names:
            t = table.schema.field(c.name).type
            if pa.types.is_dictionary(t):
                t = t.value_type
            if not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t)):
                raise ContractError(
                    f"{path}: column {c.name} is stored as {t}; identifiers and codes must be stored as text "
                    f"(string), or leading zeros are lost. Write it as text from the source, e.g. in pandas "
                    f"df[{c.name!r}] = df[{c.name!r}].astype('string') before to_parquet")


def read_table(path: Path, schema: tuple[Column, ...], encoding: str | None = None) -> RawTable:
    """Read a contract file with every column as text ('' = missing).

    Extra columns are dropped; missing optional columns are added empty; a missing required column raises
    ContractError naming the file and the column."""
    path = Path(path)
    if not path.exists():
        raise ContractError(f"{path}: file not found")
    if path.suffix == ".parquet":
        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError) as e:
            raise ContractError(f"{path}: unreadable Parquet file: {e}") from e
        _refuse_non_text(path, table, schema)
        enc, lines = "parquet", np.arange(1, table.num_rows + 1, dtype=np.int64)
        malformed = pd.DataFrame(columns=["line", "value", "reason"])
    else:
        table, enc, lines, malformed = _read_csv(path, encoding)
    names = set(table.column_names)
    missing = [c.name for c in schema if c.required and c.name not in names]
    if missing:
        raise ContractError(f"{path}: missing required column(s) {', '.join(missing)} "
                            f"(found: {', '.join(table.column_names)})")
    cols = {}
    for c in schema:
        if c.name in names:
            col = table.column(c.name)
            if pa.types.is_boolean(col.type):  # a Parquet flag (manufacturing, rauch) reads as 1 / 0
                col = col.cast(pa.int8())
            cols[c.name] = col.cast(pa.string()).to_pandas().fillna("").astype(str)
        else:
            cols[c.name] = pd.Series([""] * table.num_rows, dtype=str)
    return RawTable(path, enc, pd.DataFrame(cols), lines, malformed)
