"""`materialize`: the online store the service and batch scoring read."""

from __future__ import annotations

from typing import Annotated

import typer

from features.config import load_config
from features.engine import DuckDBEngine
from serving.materialize import materialize, resolve_cutoff
from winback.commands.common import ConfigOption, parse_date, user_errors
from winback.console import console, print_store_version


def materialize_command(
    config: ConfigOption,
    cutoff: Annotated[
        str, typer.Option(help="latest (day after the last event) | now (today) | YYYY-MM-DD")
    ] = "latest",
) -> None:
    """Write every user's features as of the cutoff into a new online store version."""
    with user_errors():
        cfg = load_config(config)
        engine = DuckDBEngine()
        if cutoff not in ("latest", "now"):
            parse_date(cutoff, "--cutoff")
        with console.status("materializing") as status:
            version = materialize(
                cfg, engine, resolve_cutoff(cutoff, cfg, engine), progress=status.update
            )
        print_store_version(version)


def register(app: typer.Typer) -> None:
    app.command("materialize")(materialize_command)
