"""`features list` and `features build`: the catalog, and point-in-time snapshots on disk."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from features.config import CutoffRange, EngineConfig, EngineKind, SparkConfig, load_config
from features.engine import DuckDBEngine, Engine
from features.errors import ConfigError
from features.pipeline import snapshots
from features.snapshots import catalog
from features.spec import feature_set
from winback.commands.common import ConfigOption, parse_date, user_errors
from winback.console import console, print_catalog, print_snapshot_summary

if TYPE_CHECKING:
    from features.spark_engine import SparkEngine

app = typer.Typer(help="Point-in-time features and churn labels.", no_args_is_help=True)


def parse_cutoffs(cutoff: list[str] | None, cutoffs: str | None) -> list[dt.date] | None:
    """`--cutoff D` (repeatable) or `--cutoffs START:END:STEP`; neither means the config's."""
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
    if end < start:
        raise typer.BadParameter(f"end {end} is before start {start}", param_hint="--cutoffs")
    return CutoffRange(start=start, end=end, step_days=int(parts[2])).dates()


EngineOption = Annotated[
    EngineKind | None,
    typer.Option(help="Where to compute: duckdb (embedded) or spark (default: engine.kind)"),
]


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
        return DuckDBEngine()
    return open_spark(config.spark)


@app.command("list")
def list_features(config: ConfigOption) -> None:
    """Every feature this config produces: name, unit and what it means."""
    with user_errors():
        print_catalog(catalog(feature_set(load_config(config))))


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
        cfg = load_config(config)
        dates = parse_cutoffs(cutoff, cutoffs) or cfg.cutoffs.dates()
        chosen = open_engine(cfg.engine, engine)
        with console.status("building snapshots") as status:
            table, _ = snapshots(
                cfg,
                chosen,
                dates,
                until=parse_date(until, "--until") if until else None,
                progress=status.update,
            )
            status.update(f"writing {out}")
            chosen.write_parquet(table, out)
        print_snapshot_summary(chosen.con.read_parquet(str(out)), out)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="features")
