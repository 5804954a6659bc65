"""Pieces every command shares: the config and engine options, and user errors as one line.

Only light imports here: every command module imports this one, and `winback --help` imports
every command module.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.text import Text

from core.config import ConfigError, DatasetConfig, WinbackError, load_config
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


def cannot_write(error: OSError) -> str:
    """A read-only, full or misplaced workdir as one line naming the path."""
    where = f" {error.filename}" if error.filename else ""
    return f"cannot write{where}: {error.strerror or error}"


@contextmanager
def user_errors() -> Iterator[None]:
    """Problems the user can fix become one line on stderr and exit code 2, not a traceback.

    OSError lands here too: by the time a command runs, its inputs have been checked and
    opened, so what is left is writing (the workdir, `--out`), and the fix is the user's.
    """
    try:
        yield
    except WinbackError as error:
        _fail(str(error))
    except OSError as error:
        _fail(cannot_write(error))


def _fail(message: str) -> NoReturn:
    errors.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)
    raise typer.Exit(code=2) from None


def check_writable(folder: Path) -> None:
    """Creates the folder and a file in it, so a read-only or misplaced workdir is named before
    any work (MLflow's SQLite and DuckDB would fail later, deep inside, with a traceback)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(folder)) from None


def open_config(path: Path) -> DatasetConfig:
    """The dataset config, with its workdir (where every command writes) known to be writable."""
    config = load_config(path)
    check_writable(config.workdir_path)
    return config


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
