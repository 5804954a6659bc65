"""`features list` and `features build`: the catalog, and point-in-time snapshots on disk."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from features.config import CutoffRange
from winback.cli.common import (
    ConfigOption,
    EngineOption,
    open_config,
    open_engine,
    parse_date,
    user_errors,
)
from winback.cli.console import console, working

if TYPE_CHECKING:
    from features.spec import Feature

app = typer.Typer(help="Point-in-time features and churn labels.", no_args_is_help=True)


def parse_cutoffs(
    cutoff: list[str] | None, cutoffs: str | None, limit: int
) -> list[dt.date] | None:
    """`--cutoff D` (repeatable) or `--cutoffs START:END:STEP` (at most `limit` dates, the
    config's cutoffs.max_count); neither means the config's."""
    if cutoff and cutoffs:
        raise typer.BadParameter("give --cutoff or --cutoffs, not both", param_hint="--cutoffs")
    if cutoff:
        return [parse_date(text, "--cutoff") for text in cutoff]
    if cutoffs is None:
        return None
    parts = cutoffs.split(":")
    if len(parts) != 3 or not parts[2].isdigit() or int(parts[2]) < 1:
        raise typer.BadParameter(
            f"{cutoffs!r} is not START:END:STEP (e.g. 1997-07-01:1998-03-31:30)",
            param_hint="--cutoffs",
        )
    start, end = (parse_date(text, "--cutoffs") for text in parts[:2])
    try:
        dates = CutoffRange(start=start, end=end, step_days=int(parts[2]), max_count=limit)
    except ValidationError as error:
        message = error.errors()[0]["msg"].removeprefix("Value error, ")
        raise typer.BadParameter(message, param_hint="--cutoffs") from None
    return dates.dates()


@app.command("list")
def list_features(config: ConfigOption) -> None:
    """Every feature this config produces: name, unit and what it means."""
    from features.catalog import cached_catalog
    from features.spec import feature_set

    with user_errors():
        cfg = open_config(config)
        print_catalog(cached_catalog(feature_set(cfg), cfg.workdir_path / "cache"))


def print_catalog(features: list[Feature]) -> None:
    table = Table(title=f"{len(features)} features", title_justify="left")
    for column in ("name", "family", "unit", "description"):
        table.add_column(column)
    for feature in features:
        table.add_row(feature.name, feature.family, feature.unit, feature.description)
    console.print(table)


@app.command()
def build(
    config: ConfigOption,
    out: Annotated[Path, typer.Option(help="Parquet file to write")],
    cutoff: Annotated[
        list[str] | None, typer.Option(help="A cutoff date (YYYY-MM-DD); repeatable")
    ] = None,
    cutoffs: Annotated[
        str | None, typer.Option(help="Many cutoffs in one pass: START:END:STEP_DAYS")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="First day the log does not cover (default: day after last event)"),
    ] = None,
    engine: EngineOption = None,
) -> None:
    """Snapshots: one row per user and cutoff with status, label and features."""
    with user_errors():
        cfg = open_config(config)
        # Arguments first: a mistyped date is answered before Ibis and DuckDB are imported.
        dates = parse_cutoffs(cutoff, cutoffs, cfg.cutoffs.max_count) or cfg.cutoffs.dates()
        until_date = parse_date(until, "--until") if until else None

        from features.pipeline import snapshots
        from winback.cli.render import print_snapshot_summary

        chosen = open_engine(cfg.engine, engine)
        with working("building snapshots") as say:
            table, _ = snapshots(cfg, chosen, dates, until=until_date, progress=say)
            say(f"writing {out}")
            chosen.write_parquet(table, out)
        print_snapshot_summary(chosen.con.read_parquet(str(out)), out)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="features")
