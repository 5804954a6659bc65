"""Pieces every command shares: the config option and turning user errors into one line."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from features.errors import WinbackError
from winback.console import errors

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="Dataset config (YAML)", show_default=False)
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
