"""Checks of source files before an engine parses them: the declared format, and a header
that names each column once and the same in every file.

Plain file reads, shared by both engines: a Parquet file named `.csv` (or text named
`.parquet`) is told apart by its first bytes, which is cheaper and clearer than whatever
error a parser gives halfway through.
"""

from __future__ import annotations

import csv

from core.config import InputError
from features.config import FileSource

PARQUET_MAGIC = b"PAR1"


def check_format(path: str, source: FileSource) -> None:
    with open(path, "rb") as handle:
        head = handle.read(4096)
    is_parquet = head.startswith(PARQUET_MAGIC)
    if source.format == "parquet" and not is_parquet:
        raise InputError(
            f"{path}: not a Parquet file (it does not start with PAR1), but format is parquet"
        )
    if source.format != "parquet" and is_parquet:
        raise InputError(f"{path}: this is a Parquet file, but format is {source.format}")
    if source.format != "parquet" and b"\0" in head:
        raise InputError(f"{path}: binary data (NUL bytes), not {source.format} text")


def first_fields(path: str, source: FileSource) -> list[str]:
    """The first line's fields: CSV-quoted for csv, runs of blanks for whitespace."""
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        line = handle.readline().rstrip("\r\n")
    if source.format == "whitespace":
        return line.split()
    return next(csv.reader([line], delimiter=source.delimiter), [])


def column_names(files: list[str], source: FileSource) -> list[str]:
    """The header's names (or column0, column1, ... without one), checked in every file:
    a reader given the first file's names would silently mislabel a file whose header differs."""
    fields = first_fields(files[0], source)
    if not any(fields):
        raise InputError(f"{files[0]}: line 1 is empty, expected {_expected(source)}")
    if not source.header:
        return [f"column{i}" for i in range(len(fields))]
    names = [name or f"column{i}" for i, name in enumerate(fields)]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputError(f"{files[0]}: line 1: column {repeated[0]!r} appears more than once")
    for other in files[1:]:
        if first_fields(other, source) != fields:
            raise InputError(f"{other}: line 1: the header differs from the one in {files[0]}")
    return names


def _expected(source: FileSource) -> str:
    return "the header" if source.header else "the first row"
