"""Rendering of run summaries for people; kept apart so commands stay a few lines."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from features.loading import Prepared, SourceReport
from features.validation import REASONS

console = Console()
errors = Console(stderr=True)


def source_table(title: str, report: SourceReport) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("source", report.source)
    table.add_row("rows read", f"{report.rows_read:,}")
    table.add_row("rows kept", f"{report.rows_good:,}")
    table.add_row("quarantined", f"{report.rows_quarantined:,}")
    for reason, count in report.quarantined.items():
        table.add_row(f"  {reason}", f"{count:,}  ({REASONS.get(reason, '')})")
    if report.repeats_kept:
        table.add_row("exact repeats kept", f"{report.repeats_kept:,}  (events.duplicates: keep)")
    if report.users is not None:
        table.add_row("users", f"{report.users:,}")
    if report.first_ts is not None:
        table.add_row("time span", f"{report.first_ts}  to  {report.last_ts}")
    table.add_row("written to", report.output)
    if report.rows_quarantined:
        table.add_row("quarantine", report.quarantine)
    return table


def print_prepared(prepared: Prepared) -> None:
    if prepared.reused:
        console.print(
            f"[dim]sources unchanged since {prepared.run_time}: reusing validated data[/dim]"
        )
    console.print(source_table("events", prepared.events))
    if prepared.users is not None:
        console.print(source_table("users", prepared.users))
