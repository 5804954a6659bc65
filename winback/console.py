"""Rendering of run summaries for people; kept apart so commands stay a few lines."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import ibis.expr.types as ir
import pandas as pd
from rich.console import Console
from rich.table import Table

from features.labels import LABEL, STATUS, STATUSES
from features.loading import Prepared, SourceReport
from features.spec import Feature
from features.synthetic import SyntheticLog
from features.synthetic_campaign import CampaignSpec
from features.timeline import CUTOFF
from features.validation import REASONS
from serving.online_store import StoreVersion


def _width() -> int | None:
    """Logs and pipes get 120 columns instead of Rich's 80, so tables of numbers stay whole."""
    return None if sys.stdout.isatty() or "COLUMNS" in os.environ else 120


console = Console(width=_width())
errors = Console(stderr=True, width=_width())


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


def print_catalog(features: list[Feature]) -> None:
    table = Table(title=f"{len(features)} features", title_justify="left")
    for column in ("name", "family", "unit", "description"):
        table.add_column(column)
    for feature in features:
        table.add_row(feature.name, feature.family, feature.unit, feature.description)
    console.print(table)


def print_snapshot_summary(snapshot: ir.Table, path: Path) -> None:
    """Users per status, labelled rows and churn rate per cutoff: the first sanity check."""
    counts = {name: (snapshot[STATUS] == name).sum() for name in STATUSES}
    rows = (
        snapshot.group_by(CUTOFF)
        .aggregate(
            users=snapshot.count(),
            **counts,
            labelled=snapshot[LABEL].count(),
            churn_rate=snapshot[LABEL].mean(),
        )
        .order_by(CUTOFF)
        .to_pyarrow()
        .to_pylist()
    )
    table = Table(title=f"snapshots written to {path}", title_justify="left")
    for column in ("cutoff", "users", *STATUSES, "labelled", "churn rate"):
        table.add_column(column, justify="right")
    for row in rows:
        rate = row["churn_rate"]
        table.add_row(
            str(row[CUTOFF]),
            f"{row['users']:,}",
            *(f"{row[name]:,}" for name in STATUSES),
            f"{row['labelled']:,}",
            "-" if rate is None else f"{rate:.1%}",
        )
    console.print(table)


def print_generated(log: SyntheticLog, paths: dict[str, Path]) -> None:
    kinds = log.truth.churn_kind.value_counts().to_dict()
    table = Table(title="synthetic log", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("events", f"{len(log.events):,}")
    table.add_row("users", f"{len(log.users):,}")
    table.add_row("time span", f"{log.events.ts.min()}  to  {log.events.ts.max()}")
    table.add_row("truth", ", ".join(f"{kind}: {n:,}" for kind, n in sorted(kinds.items())))
    for name, path in paths.items():
        table.add_row(name, str(path))
    console.print(table)


def print_planted(outcomes: pd.DataFrame, spec: CampaignSpec) -> None:
    """Per strategy: treated users, those who came back anyway, and the planted returns."""
    treated = outcomes[outcomes.group == "treatment"]
    table = Table(
        title=f"planted campaign effect, {spec.date} + {spec.window_days} days",
        title_justify="left",
    )
    for column in ("strategy", "treated", "returned anyway", "planted returns", "uplift"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    per_strategy = treated.groupby("strategy")[["returned_anyway", "planted"]]
    for strategy, counts in per_strategy.agg(["size", "sum"]).iterrows():
        table.add_row(
            str(strategy),
            f"{counts[('planted', 'size')]:,}",
            f"{counts[('returned_anyway', 'sum')]:,}",
            f"{counts[('planted', 'sum')]:,}",
            f"{spec.uplift.get(str(strategy), 0.0):.3f}",
        )
    console.print(table)


def print_store_version(version: StoreVersion) -> None:
    table = Table(title="online store", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("version", version.version)
    table.add_row("features as of", version.cutoff)
    table.add_row("users", f"{version.rows:,}")
    table.add_row("feature set", f"{version.feature_set} ({len(version.features)} features)")
    table.add_row("lookups (SQLite)", str(version.sqlite_path))
    table.add_row("batch (Parquet)", str(version.parquet_path))
    console.print(table)


def score_counts(scores: pd.DataFrame) -> pd.DataFrame:
    """Users per status and band (null for the unscored): what `print_scores` summarises."""
    groups = scores.groupby(["status", "risk_band"], dropna=False)
    return groups.size().reset_index(name="users")


def print_scores(
    out: str | Path,
    counts: pd.DataFrame,
    top: pd.DataFrame,
    rows_per_file: list[int] | None = None,
) -> None:
    """Counts by status and band, and the users most at risk (the first rows of `top`).

    Takes counts, not every row, so Spark scoring prints the same without collecting."""
    summary = Table(title=f"scores written to {out}", show_header=False, title_justify="left")
    summary.add_column(style="bold")
    summary.add_column()
    for column, label in (("status", "status"), ("risk_band", "band")):
        for value, users in counts.groupby(column).users.sum().sort_index().items():
            summary.add_row(f"{label} {value}", f"{users:,}")
    summary.add_row("model version", ", ".join(sorted(top.model_version.unique())) or "-")
    if rows_per_file:
        sizes = f"{min(rows_per_file):,} to {max(rows_per_file):,} rows"
        summary.add_row("files", f"{len(rows_per_file)} in rank order, {sizes}")
    console.print(summary)
    table = Table(title="most at risk", title_justify="left")
    for column in ("rank", "user", "probability", "band", "top reason"):
        table.add_column(column)
    for row in top.head(10).to_dict("records"):
        table.add_row(
            str(row["rank"]),
            str(row["user_id"]),
            f"{row['churn_probability']:.3f}",
            str(row["risk_band"]),
            str(row["top_reason"]),
        )
    console.print(table)
