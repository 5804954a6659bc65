"""`cycle`: the day's win-back loop, one command for a scheduler (cron, systemd, Airflow).

Exit codes: 0 the day is done and everything delivered; 1 done, but some webhook deliveries
are pending (the next cycle, or running this one again, retries them); 2 a problem to fix
(config, input, no champion), nothing half-done; 75 another cycle is running (EX_TEMPFAIL:
try again later).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from winback.cli.common import ConfigOption, open_config, open_engine, parse_date, user_errors
from winback.cli.console import errors, working
from winback.cli.recall import PolicyOption

BUSY = 75  # sysexits.h EX_TEMPFAIL


def cycle_command(
    config: ConfigOption,
    policy: PolicyOption,
    as_of: Annotated[
        str | None,
        typer.Option(help="The day to run (YYYY-MM-DD): features as of its start; default today"),
    ] = None,
) -> None:
    """Run the day: validate new events, materialize, score, decide the recall list, deliver
    it (outbox files, webhooks), record the contacts and review closed campaigns."""
    from cycle.lock import CycleBusyError
    from cycle.run import run_cycle
    from winback.cli.render import print_cycle

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    day = parse_date(as_of, "--as-of") if as_of else dt.datetime.now(dt.UTC).date()
    with user_errors():
        cfg = open_config(config)
        try:
            with working(f"cycle {day}") as status:
                result = run_cycle(cfg, Path(policy), day, open_engine(cfg.engine, None), status)
        except CycleBusyError as error:
            errors.print(Text.assemble(("busy:", "bold yellow"), " ", str(error)), soft_wrap=True)
            raise typer.Exit(code=BUSY) from None
    print_cycle(result)
    raise typer.Exit(code=result.exit_code)


def register(app: typer.Typer) -> None:
    app.command("cycle")(cycle_command)
