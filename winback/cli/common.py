"""Pieces every command shares: the config and engine options, and user errors as one line.

Only light imports here: every command module imports this one, and `winback --help` imports
every command module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from core.config import ConfigError, WinbackError
from features.config import EngineConfig, EngineKind, SparkConfig
from winback.cli.console import errors

if TYPE_CHECKING:
    from features.engine import Engine
    from features.spark_engine import SparkEngine

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="Dataset config (YAML)", show_default=False)
]
EngineOption = Annotated[
    EngineKind | None,
    typer.Option(help="Where to compute: duckdb (embedded) or spark (default: engine.kind)"),
]


@contextmanager
def user_errors() -> Iterator[None]:
    """Problems the user can fix become one line on stderr and exit code 2, not a traceback."""
    try:
        yield
    except WinbackError as error:
        errors.print(f"[bold red]error:[/bold red] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None


def parse_date(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date (YYYY-MM-DD)", param_hint=option
        ) from None


def open_spark(settings: SparkConfig) -> SparkEngine:
    """The Spark engine and its session; a missing pyspark is a one-line error."""
    try:  # pyspark is an optional extra, and slow to import: only when asked for
        from features.spark_engine import SparkEngine
    except ImportError as error:
        raise ConfigError(
            f"the spark engine needs pyspark ({error}): pip install 'winback[spark]'"
        ) from None
    return SparkEngine.from_config(settings)


def open_engine(config: EngineConfig, kind: EngineKind | None) -> Engine:
    """`--engine` if given, else the config's `engine.kind`."""
    if (kind or config.kind) == "duckdb":
        from features.engine import DuckDBEngine

        return DuckDBEngine()
    return open_spark(config.spark)
