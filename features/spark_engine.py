"""Binding to Spark: the `Engine` protocol of features/engine.py on a SparkSession.

Builders and validation are the same Ibis expressions on either engine; what differs is
how files are read (with the file and line each row came from), how text becomes a
timestamp, and how Parquet is written. That is all here, so nothing else imports pyspark.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import shutil
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

import ibis
import ibis.expr.datatypes as idt
import ibis.expr.types as ir
from ibis.backends.pyspark import Backend as PySparkBackend
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from core.config import ConfigError
from features.config import FileSource, SparkConfig
from features.engine import (
    OFFSET_SUFFIX,
    SOURCE_FILE,
    SOURCE_ROW,
    check_not_empty,
    expand_paths,
    first_line,
)

MASTER_ENV = "WINBACK_SPARK_MASTER"
PYTHON_ENV = "PYSPARK_PYTHON"
PYTHON_CONF = "spark.pyspark.python"
# Spark's cast also reads '2024', '2024-05' and '12:00' (as today); DuckDB, like a person,
# wants a whole date first.
_ISO_DATE = r"^\d{4}-\d{1,2}-\d{1,2}([T ]|$)"
_PATTERNS = {
    "Y": "yyyy",
    "y": "yy",
    "m": "MM",
    "d": "dd",
    "H": "HH",
    "M": "mm",
    "S": "ss",
    "f": "SSSSSS",
    "b": "MMM",
}
_NUMERIC = frozenset("YymdHMSf")
_RESERVED = frozenset("'[]#{}")  # literal text Spark patterns need quoted, besides letters
_PIVOT_YEAR = 2069  # strptime and DuckDB read %y 69..99 as 1969..1999, Spark as 2069..2099


@ibis.udf.scalar.builtin(name="try_to_timestamp")
def _try_to_timestamp(text: str, pattern: str) -> dt.datetime:  # type: ignore[empty-body]
    """Spark's to_timestamp that yields NULL instead of failing (ANSI mode) on a bad value."""


@ibis.udf.scalar.builtin(name="to_utc_timestamp")
def _to_utc_timestamp(ts: dt.datetime, zone: str) -> dt.datetime:  # type: ignore[empty-body]
    """Spark's to_utc_timestamp(ts, zone): wall-clock time in zone to UTC."""


def session_conf(settings: SparkConfig, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Settings for the session: the config's, WINBACK_SPARK_MASTER over its master, and a UTC
    session zone on any cluster, since naive timestamps mean UTC everywhere in Winback."""
    conf = dict(settings.conf)
    master = environ.get(MASTER_ENV) or settings.master
    if master:
        conf["spark.master"] = master
    conf["spark.sql.session.timeZone"] = "UTC"
    return conf


def worker_python(conf: Mapping[str, str], environ: Mapping[str, str] = os.environ) -> str:
    """The Python that runs Winback's code on executors (batch scoring needs lightgbm there).

    PYSPARK_PYTHON if set (spark-submit sets it from --conf spark.pyspark.python), else the
    config's spark.pyspark.python, else this interpreter: PySpark's own default is whatever
    `python3` is first on the PATH, which may well lack lightgbm.
    """
    return environ.get(PYTHON_ENV) or conf.get(PYTHON_CONF) or sys.executable


def spark_session(settings: SparkConfig, environ: Mapping[str, str] = os.environ) -> SparkSession:
    """The running session (spark-submit, a notebook) or a new one, set up for Winback.

    A new SparkContext takes its workers' Python from PYSPARK_PYTHON alone, whatever the
    conf says, so the chosen one is exported before the session is created.
    """
    conf = session_conf(settings, environ)
    conf[PYTHON_CONF] = os.environ[PYTHON_ENV] = worker_python(conf, environ)
    builder = SparkSession.builder.appName("winback")
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def spark_pattern(fmt: str) -> tuple[str, bool]:
    """A strftime `ts_format` as a Spark datetime pattern, and whether it has a 2-digit year.

    A field between separators takes one letter, so '5' parses as strptime's %d does;
    packed fields (%Y%m%d) keep fixed widths, which is how both engines read them.
    """
    tokens: list[tuple[bool, str]] = []  # (is a directive, its letter or one literal character)
    chars = iter(fmt)
    for char in chars:
        if char != "%":
            tokens.append((False, char))
            continue
        letter = next(chars, "")
        if letter == "%":
            tokens.append((False, "%"))
        elif letter in _PATTERNS:
            tokens.append((True, letter))
        else:
            supported = " ".join(f"%{name}" for name in _PATTERNS)
            problem = f"%{letter} is not supported" if letter else "a lone % ends it"
            raise ConfigError(
                f"ts_format {fmt!r}: {problem} on the Spark engine (supported: {supported} %%)"
            )
    numeric = [directive and text in _NUMERIC for directive, text in tokens]
    pattern = []
    for index, (directive, text) in enumerate(tokens):
        if not directive:
            quoted = "''" if text == "'" else f"'{text}'"
            pattern.append(quoted if text.isalpha() or text in _RESERVED else text)
            continue
        packed = any(numeric[index + step] for step in (-1, 1) if 0 <= index + step < len(tokens))
        single = text in "mdHMS" and not packed
        pattern.append(_PATTERNS[text][0] if single else _PATTERNS[text])
    return "".join(pattern), (True, "y") in tokens


def _source_names(frame: DataFrame, files: list[str]) -> Column:
    """Spark names files by URI (file:/data/a%20b.csv); show them as config and DuckDB do."""
    by_path = {os.path.abspath(name): name for name in files}
    pairs: list[Column] = []
    for uri in frame.inputFiles():
        parts = urlparse(uri)
        name = by_path.get(unquote(parts.path), uri)
        forms = {uri}
        if not parts.netloc:  # rows carry the short form (file:/a) of a listed file:///a
            forms.add(f"{parts.scheme}:{parts.path}")
        for form in forms:
            pairs += [F.lit(form), F.lit(name)]
    uri_column = F.col("_metadata.file_path")
    return F.coalesce(F.try_element_at(F.create_map(*pairs), uri_column), uri_column)


def _csv_names(files: list[str], source: FileSource) -> list[str]:
    fields = next(csv.reader([first_line(files[0])], delimiter=source.delimiter))
    return fields if source.header else [f"column{i}" for i in range(len(fields))]


def _csv_columns(lines: DataFrame, names: list[str], source: FileSource) -> DataFrame:
    """Each line parsed as one CSV record; blank lines are skipped, as DuckDB does."""
    schema = ", ".join("`" + name.replace("`", "``") + "` STRING" for name in names)
    record = F.from_csv(F.col("value"), schema, {"sep": source.delimiter})
    rows = lines.filter(F.col("value") != "")
    if source.header:
        rows = rows.filter(F.col(SOURCE_ROW) > 1)
    return rows.select(
        *(record.getField(name).alias(name) for name in names), SOURCE_FILE, SOURCE_ROW
    )


def _whitespace_columns(lines: DataFrame, names: list[str], header: bool) -> DataFrame:
    """Columns separated by runs of blanks (fixed-width dumps such as CDNOW's)."""
    parts = F.split(F.regexp_replace(F.col("value"), r"^\s+|\s+$", ""), r"\s+")
    rows = lines.filter(F.col(SOURCE_ROW) > 1) if header else lines
    return rows.select(
        *(
            F.nullif(F.try_element_at(parts, F.lit(i + 1)), F.lit("")).alias(name)
            for i, name in enumerate(names)
        ),
        SOURCE_FILE,
        SOURCE_ROW,
    )


def _pivot_century(ts: ir.TimestampValue) -> ir.TimestampValue:
    return ibis.ifelse(ts.year() >= _PIVOT_YEAR, ts - ibis.interval(years=100), ts)


class SparkEngine:
    """The same tables as DuckDBEngine, computed by Spark: for logs larger than one machine."""

    name = "spark"
    increments = False  # every validation reads every file (see `loading`)

    def __init__(self, session: SparkSession) -> None:
        self.session = session
        self.con: PySparkBackend = ibis.pyspark.connect(session)

    @classmethod
    def from_config(cls, settings: SparkConfig) -> SparkEngine:
        return cls(spark_session(settings))

    def read(self, source: FileSource, files: Sequence[str] | None = None) -> ir.Table:
        files = list(files) if files is not None else expand_paths(source.path)
        check_not_empty(files)
        if source.format == "parquet":
            frame = self.session.read.parquet(*files)
            frame = frame.select(
                "*",
                _source_names(frame, files).alias(SOURCE_FILE),
                (F.col("_metadata.row_index") + 1).alias(SOURCE_ROW),
            )
        elif source.format == "csv":
            frame = _csv_columns(self._lines(files), _csv_names(files, source), source)
        else:
            names = first_line(files[0]).split()
            if not source.header:
                names = [f"column{i}" for i in range(len(names))]
            frame = _whitespace_columns(self._lines(files), names, source.header)
        return self._view(frame, "source")

    def _lines(self, files: list[str]) -> DataFrame:
        """Text lines with their file and line number as an editor shows them.

        Spark keeps no line numbers; a file's blocks in order, and lines in read order within
        a block, give them. The window holds one file per task: split a huge text log into
        several files (or convert it to Parquet, read in parallel) to spread the work.
        """
        text = self.session.read.text(files)
        lines = text.select(
            "value",
            _source_names(text, files).alias(SOURCE_FILE),
            F.col("_metadata.file_block_start").alias("_block"),
            F.monotonically_increasing_id().alias("_read"),
        )
        in_file = Window.partitionBy(SOURCE_FILE).orderBy("_block", "_read")
        return lines.select(
            "value", SOURCE_FILE, F.row_number().over(in_file).cast("long").alias(SOURCE_ROW)
        )

    def _view(self, frame: DataFrame, prefix: str) -> ir.Table:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        frame.createOrReplaceTempView(name)
        return self.con.table(name)

    def parse_timestamp(self, raw: ir.StringValue, fmt: str | None, zone: str) -> ir.TimestampValue:
        if fmt is not None:
            pattern, two_digit_year = spark_pattern(fmt)
            parsed = _try_to_timestamp(raw, pattern)
            return self.to_utc(_pivot_century(parsed) if two_digit_year else parsed, zone)
        iso = ibis.ifelse(raw.re_search(_ISO_DATE), raw, ibis.null("string"))
        with_offset = iso.try_cast(idt.Timestamp(timezone="UTC")).cast(idt.Timestamp())
        if zone == "UTC":
            return with_offset
        wall_clock = self.to_utc(iso.try_cast(idt.Timestamp()), zone)
        return ibis.ifelse(raw.strip().re_search(OFFSET_SUFFIX), with_offset, wall_clock)

    def to_utc(self, ts: ir.TimestampValue, zone: str) -> ir.TimestampValue:
        if ts.type().timezone is not None:
            # Spark keeps instants and shows them in the session zone, which is UTC.
            return ts.cast(idt.Timestamp())
        if zone == "UTC":
            return ts
        return _to_utc_timestamp(ts, zone)

    def write_parquet(self, expr: ir.Table, path: Path) -> None:
        """One Parquet file at `path`, as DuckDB writes: same columns, types and row order.

        Spark writes a folder of part files; one task writes the single part (after the
        parallel work), which is then moved into place. `path` must be on storage that the
        driver and the executors see at the same path.
        """
        naive = [
            name
            for name, kind in expr.schema().items()
            if kind.is_timestamp() and kind.timezone is None
        ]
        frame = self._frame(expr).withColumns(
            {name: F.col(name).cast(T.TimestampNTZType()) for name in naive}
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}"
        frame.coalesce(1).write.parquet(str(staging))
        (part,) = staging.glob("part-*.parquet")
        os.replace(part, path)
        shutil.rmtree(staging)

    def _frame(self, expr: ir.Table) -> DataFrame:
        name = f"expr_{uuid.uuid4().hex[:8]}"
        self.con.create_view(name, expr)
        return self.session.table(name)

    def materialize(self, expr: ir.Table, name: str) -> ir.Table:
        view = f"{name}_{uuid.uuid4().hex[:8]}"
        table = self.con.create_view(view, expr)
        self.session.catalog.cacheTable(view)
        return table
