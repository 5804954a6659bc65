"""`winback`: thin commands that load config, call a library function and print a summary."""

from __future__ import annotations

import typer

from winback.cli import (
    cycle,
    data,
    features,
    monitoring,
    recall,
    report,
    serving,
    training,
    uplift,
)

app = typer.Typer(
    help="Winback: churn prediction and win-back.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Churn prediction and win-back: features, training, scoring, recall."""


data.register(app)
features.register(app)
serving.register(app)
recall.register(app)
training.register(app)
monitoring.register(app)
report.register(app)
cycle.register(app)
uplift.register(app)
