"""`monitor`: is the live model still right? Exit code 1 on an alert, for a scheduler."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

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
    from monitoring.monitor import Monitoring
    from monitoring.report import ReportFiles


def monitor_command(
    config: ConfigOption,
    as_of: Annotated[
        str | None,
        typer.Option(help="Judge as if today were this date (YYYY-MM-DD); default: the log's end"),
    ] = None,
    engine: EngineOption = None,
) -> None:
    """Check every ledger snapshot: matured ones against what happened, the others for drift
    and expected performance; a JSON summary and an HTML report, logged to MLflow."""
    from artifact.tracking import resolve_store
    from monitoring.monitor import monitor, report_folder
    from monitoring.report import write_report
    from monitoring.tracking import log_monitoring

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    with user_errors():
        cfg = open_config(config)
        day = parse_date(as_of, "--as-of") if as_of else None
        store = resolve_store(cfg)
        with working("monitoring") as status:
            result = monitor(cfg, open_engine(cfg.engine, engine), store, day, progress=status)
            status("writing the report")
            files = write_report(result, report_folder(cfg))
            status("logging to MLflow")
            run_id = log_monitoring(result, files, store)
    _print(result, files, run_id)
    console.print(result.verdict(), soft_wrap=True)
    if result.alert:
        raise typer.Exit(code=1)


def _number(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.4f}"


def _print(result: Monitoring, files: ReportFiles, run_id: str) -> None:
    table = Table(
        title=f"{result.model_name}: labels observed until {result.observed_until}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    headers = ("cutoff", "model", "scored", "matured", "promised AUC", "realised AUC")
    for column in (*headers, "expected AUC", "ECE", "score PSI", "most drifted", "findings"):
        table.add_column(column)
    for check in result.checks:
        realised = check.realised.metrics if check.realised else {}
        top = check.drift[0] if check.drift else None
        findings = [f"{f.level}: {f.text}" for f in check.findings]
        table.add_row(
            str(check.entry.cutoff),
            f"v{check.entry.model_version}",
            f"{len(check.scores):,}",
            "yes" if check.matured else "no",
            _number(check.promise.value("roc_auc")),
            _number(realised.get("roc_auc")),
            _number(check.expected.roc_auc),
            _number(realised.get("ece")),
            _number(check.score_drift.value if check.score_drift else None),
            f"{top.name} {top.value:.3f}" if top else "-",
            "\n".join(findings) or "ok",
        )
    console.print(table)
    console.print(f"report: {files.html}\nsummary: {files.summary}\nMLflow run: {run_id}")


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor_command)
