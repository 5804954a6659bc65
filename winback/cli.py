"""`winback`: thin commands that load config, call a library function and print a summary."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from features.config import DatasetConfig, load_config
from features.engine import DuckDBEngine
from features.errors import WinbackError
from features.loading import prepare
from winback.console import console, errors, print_prepared

app = typer.Typer(
    help="Winback: churn prediction and win-back.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="Dataset config (YAML)", show_default=False)
]


@app.callback()
def _root() -> None:
    """Churn prediction and win-back: features, training, scoring, recall."""


@contextmanager
def user_errors() -> Iterator[None]:
    """Problems the user can fix become one line on stderr and exit code 2, not a traceback."""
    try:
        yield
    except WinbackError as error:
        errors.print(f"[bold red]error:[/bold red] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None


def _config(path: Path) -> DatasetConfig:
    return load_config(path)


@app.command()
def validate(
    config: ConfigOption,
    as_of: Annotated[
        dt.datetime | None,
        typer.Option(help="Run time for the future-timestamp check (default: now, UTC)"),
    ] = None,
) -> None:
    """Check the sources, quarantine unusable rows and write the canonical tables."""
    with user_errors():
        cfg = _config(config)
        with console.status("validating") as status:
            prepared = prepare(
                cfg, DuckDBEngine(), run_time=as_of, force=True, progress=status.update
            )
        print_prepared(prepared)


def main() -> None:
    app()
