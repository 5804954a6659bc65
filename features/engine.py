"""Binding to a backend: the only module that knows DuckDB. Feature logic takes tables from here.

The Spark engine implements the same `Engine` protocol, so builders and validation run on
either without change (as Feast hands a reader to its engine-independent Ibis code).
"""

from __future__ import annotations

import datetime as dt
import errno
import glob
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import duckdb
import ibis
import ibis.expr.datatypes as idt
import ibis.expr.types as ir
from ibis.backends.duckdb import Backend as DuckDBBackend

from core.config import InputError
from features.config import FileSource
from features.source_files import check_format, column_names

SOURCE_FILE = "source_file"
SOURCE_ROW = "source_row"
_INTEGER_TYPES = {1: "TINYINT", 2: "SMALLINT", 4: "INTEGER", 8: "BIGINT"}
OFFSET_SUFFIX = r"\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|z|[+-]\d{2}(:?\d{2})?)$"


class Engine(Protocol):
    """What feature and validation code needs from a backend."""

    name: str
    con: ibis.BaseBackend
    increments: bool  # validation may add new source files to earlier results (`loading`)

    def read(self, source: FileSource, files: Sequence[str] | None = None) -> ir.Table:
        """All source columns (strings for text files) plus `source_file` and `source_row`;
        of `files` (some of the source's) when given, else of every file the source names."""
        ...

    def parse_timestamp(self, raw: ir.StringValue, fmt: str | None, zone: str) -> ir.TimestampValue:
        """Text to naive UTC; text without an offset is wall-clock time in `zone`.

        Unparseable text becomes null, never an error, so validation can quarantine it.
        """
        ...

    def to_utc(self, ts: ir.TimestampValue, zone: str) -> ir.TimestampValue:
        """Naive wall-clock time in `zone` (or an aware timestamp) to naive UTC."""
        ...

    def write_parquet(self, expr: ir.Table, path: Path) -> None: ...

    def materialize(self, expr: ir.Table, name: str) -> ir.Table:
        """Compute once and keep, so several outputs can be written without recomputing."""
        ...


@ibis.udf.scalar.builtin(name="try_strptime")
def _try_strptime(text: str, fmt: str) -> dt.datetime:  # type: ignore[empty-body]
    """DuckDB's strptime that yields NULL instead of failing on a bad value."""


@ibis.udf.scalar.builtin(name="timezone")
def _timezone(zone: str, ts: dt.datetime) -> dt.datetime:  # type: ignore[empty-body]
    """DuckDB's timezone(zone, ts): naive->aware in zone, aware->naive in zone."""


def expand_paths(pattern: str) -> list[str]:
    """A file or a glob to a sorted list of files; nothing matching is a clear error. A file
    that exists is taken as named, even with glob characters (`[x]`) in its name."""
    if not os.path.isfile(pattern) and glob.has_magic(pattern):
        files = sorted(glob.glob(pattern, recursive=True))
        if not files:
            raise InputError(f"{pattern}: no file matches this pattern")
        return files
    if not os.path.isfile(pattern):
        raise InputError(f"{pattern}: file not found")
    return [pattern]


def first_line(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.readline().strip()


def check_not_empty(files: list[str]) -> None:
    empty = [name for name in files if os.path.getsize(name) == 0]
    if empty:
        raise InputError(f"{empty[0]}: file is empty")


class DuckDBEngine:
    """Embedded default: reads CSV/Parquet/text in place, out of core, on all cores."""

    name = "duckdb"
    increments = True

    def __init__(self, database: str = ":memory:", threads: int | None = None) -> None:
        self.con: DuckDBBackend = ibis.duckdb.connect(database)
        self.con.raw_sql("SET TimeZone = 'UTC'")
        if threads is not None:
            self.con.raw_sql(f"SET threads = {int(threads)}")

    def read(self, source: FileSource, files: Sequence[str] | None = None) -> ir.Table:
        files = list(files) if files is not None else expand_paths(source.path)
        check_not_empty(files)
        for name in files:
            check_format(name, source)
        with _parse_errors(files, source):
            if source.format == "parquet":
                table = self.con.read_parquet(files, filename=True, file_row_number=True)
                return (
                    table.rename({SOURCE_FILE: "filename"})
                    .mutate(**{SOURCE_ROW: table.file_row_number + 1})
                    .drop("file_row_number")
                )
            # Text is parsed here, whole, so a malformed line is reported as the source's
            # problem now, not from whichever later query happens to read it first.
            if source.format == "csv":
                table = self._read_csv(files, source)
            else:
                table = self._read_whitespace(files, source)
            return self.materialize(table, "source")

    def _read_csv(self, files: list[str], source: FileSource) -> ir.Table:
        """RFC 4180 as stated, not sniffed: the sniffer guesses from a sample and, given a row
        with one field too many, can settle on a dialect that reads no rows at all."""
        table = self.con.read_csv(
            files,
            auto_detect=False,
            columns={name: "VARCHAR" for name in column_names(files, source)},
            header=source.header,
            delim=source.delimiter,
            quote='"',
            escape='"',
            filename=True,
        )
        return _number_lines(table.rename({SOURCE_FILE: "filename"}), source.header)

    def _read_whitespace(self, files: list[str], source: FileSource) -> ir.Table:
        """Columns separated by runs of blanks (fixed-width dumps such as CDNOW's)."""
        names = column_names(files, source)
        lines = self.con.read_csv(
            files,
            columns={"line": "VARCHAR"},
            header=False,
            delim="\x1f",
            quote="",
            escape="",
            skip=1 if source.header else 0,
            filename=True,
        )
        lines = _number_lines(lines.rename({SOURCE_FILE: "filename"}), source.header)
        parts = lines.line.strip().re_split(r"\s+")
        return lines.select(
            **{name: parts[i] for i, name in enumerate(names)},
            **{SOURCE_FILE: lines[SOURCE_FILE], SOURCE_ROW: lines[SOURCE_ROW]},
        )

    def parse_timestamp(self, raw: ir.StringValue, fmt: str | None, zone: str) -> ir.TimestampValue:
        if fmt is not None:
            return self.to_utc(_try_strptime(raw, fmt), zone)
        with_offset = _timezone("UTC", raw.try_cast(idt.Timestamp(timezone="UTC")))
        if zone == "UTC":
            return with_offset
        wall_clock = self.to_utc(raw.try_cast(idt.Timestamp()), zone)
        return ibis.ifelse(raw.strip().re_search(OFFSET_SUFFIX), with_offset, wall_clock)

    def to_utc(self, ts: ir.TimestampValue, zone: str) -> ir.TimestampValue:
        if ts.type().timezone is not None:
            return _timezone("UTC", ts)
        if zone == "UTC":
            return ts
        return _timezone("UTC", _timezone(zone, ts))

    def write_parquet(self, expr: ir.Table, path: Path) -> None:
        """Written by DuckDB (streaming, out of core) in the expression's declared types.

        DuckDB sums integers into HUGEINT and its writer stores those as DOUBLE, so integer
        columns are cast back to their declared width first.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        relation = self.con._to_duckdb_relation(expr)
        columns = [
            f'CAST("{name}" AS {_INTEGER_TYPES[kind.nbytes]}) AS "{name}"'
            if kind.is_integer()
            else f'"{name}"'
            for name, kind in expr.schema().items()
        ]
        try:
            relation.project(", ".join(columns)).write_parquet(str(path))
        except duckdb.IOException as error:  # full disk, read-only folder: an OSError to the CLI
            reason = _first_line(error).rpartition(": ")[2] or "write failed"
            raise OSError(errno.EIO, reason, str(path)) from None

    def materialize(self, expr: ir.Table, name: str) -> ir.Table:
        # A fresh name each time: Ibis 12's overwrite=True emits SQL that DuckDB 2.0 rejects.
        return self.con.create_table(f"{name}_{uuid.uuid4().hex[:8]}", expr, temp=True)


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0].removeprefix("Invalid Input Error: ")


_PROBLEMS = [  # what DuckDB says (pattern) -> what the user reads, first match wins
    (r"Expected Number of Columns: (\d+) Found: (\d+)", "expected {0} fields, found {1}"),
    (r"Maximum line size of (\d+) bytes exceeded", "line longer than the limit of {0} bytes"),
    (r"Invalid unicode", "not UTF-8 text"),
    (r"unterminated quote", "a quoted field is never closed"),
    (r"state machine reached an invalid state", "cannot be parsed (a stray quote?)"),
]


def _describe(error: duckdb.Error, files: list[str], source: FileSource) -> str:
    """DuckDB's many-line parse error as one line: file, line and the problem."""
    text = str(error)
    named = re.search(r"^\s*file = (.+)$", text, re.MULTILINE)
    path = named.group(1) if named else ", ".join(files)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    if line is None and "invalid state" in text and named:
        mixed = mixed_line_ending(path)
        if mixed is not None:
            return f"{path}: {mixed}"
    where = f"{path}: line {line.group(1)}" if line else path
    if source.format == "whitespace" and "Expected Number of Columns: 1 " in text:
        return f"{where}: contains the control character 0x1F"  # the reader's field separator
    for pattern, message in _PROBLEMS:
        found = re.search(pattern, text)
        if found:
            return f"{where}: {message.format(*found.groups())}"
    return f"{where}: cannot be read: {_first_line(error)}"


def mixed_line_ending(path: str) -> str | None:
    """The first line whose ending (CRLF or LF) differs from line 1's; DuckDB does not say."""
    with open(path, "rb") as handle:
        crlf = handle.readline().endswith(b"\r\n")
        for number, line in enumerate(handle, start=2):
            if line.endswith(b"\n") and line.endswith(b"\r\n") != crlf:
                ends, first = ("LF", "CRLF") if crlf else ("CRLF", "LF")
                return f"line {number} ends in {ends}, line 1 in {first} (use one line ending)"
    return None


@contextmanager
def _parse_errors(files: list[str], source: FileSource) -> Iterator[None]:
    try:
        yield
    except duckdb.Error as error:
        raise InputError(_describe(error, files, source)) from None


def _number_lines(table: ir.Table, header: bool) -> ir.Table:
    """Line numbers as a person sees them in an editor (header is line 1)."""
    scan_order = ibis.row_number()
    numbered = table.mutate(_n=scan_order)
    first = numbered._n.min().over(group_by=numbered[SOURCE_FILE])
    offset = 2 if header else 1
    return numbered.mutate(**{SOURCE_ROW: numbered._n - first + offset}).drop("_n")
