"""`validate` and `generate`: getting trustworthy events into the workdir."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from features import synthetic
from features.config import load_config
from features.engine import DuckDBEngine
from features.loading import prepare
from features.synthetic import SyntheticSpec
from winback.commands.common import ConfigOption, parse_date, user_errors
from winback.console import console, print_generated, print_prepared


def validate(
    config: ConfigOption,
    as_of: Annotated[
        dt.datetime | None,
        typer.Option(help="Run time for the future-timestamp check (default: now, UTC)"),
    ] = None,
) -> None:
    """Check the sources, quarantine unusable rows and write the canonical tables."""
    with user_errors():
        cfg = load_config(config)
        with console.status("validating") as status:
            prepared = prepare(
                cfg, DuckDBEngine(), run_time=as_of, force=True, progress=status.update
            )
        print_prepared(prepared)


def generate(
    out: Annotated[Path, typer.Option(help="Folder for events/users/truth.parquet")],
    users: Annotated[int, typer.Option(min=1, help="Number of users")] = 10_000,
    days: Annotated[int, typer.Option(min=1, help="Length of the log in days")] = 365,
    seed: Annotated[int, typer.Option(help="Same seed, same files")] = 0,
    start: Annotated[str, typer.Option(help="First day of the log (YYYY-MM-DD)")] = "2025-01-01",
) -> None:
    """Write a synthetic event log with planted churn dynamics and its ground truth."""
    spec = SyntheticSpec(users=users, days=days, seed=seed, start=parse_date(start, "--start"))
    with console.status(f"generating {users:,} users x {days} days"):
        log = synthetic.generate(spec)
        paths = synthetic.write(log, out)
    print_generated(log, paths)


def register(app: typer.Typer) -> None:
    app.command()(validate)
    app.command()(generate)
