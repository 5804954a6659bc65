"""`recall` and `review`: the campaign list operations receive, and whether it worked."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich import box
from rich.table import Table

from features.config import load_config
from features.engine import DuckDBEngine
from features.errors import InputError
from serving.online_store import current_version, store_root
from serving.recall.campaign import decisions
from serving.recall.campaign_file import read_campaign, write_recall_list
from serving.recall.feedback import PolicyUpdate, update_policy
from serving.recall.outcomes import review_campaign
from serving.recall.policy import RecallPolicy, load_policy
from serving.recall.report import COLUMNS, ReportFiles, display_table, write_report
from serving.recall.review import Review
from serving.recall.scores import read_scores
from serving.recall.selection import skipped_counts, summary
from serving.recall.tracking import log_review
from training.tracking import resolve_store
from winback.commands.common import ConfigOption, user_errors
from winback.console import console

PolicyOption = Annotated[
    Path, typer.Option("--policy", "-p", help="Recall policy (YAML)", show_default=False)
]


def recall_command(
    config: ConfigOption,
    policy: PolicyOption,
    out: Annotated[Path, typer.Option(help="CSV to write: treatment and control users, why")],
    scores: Annotated[
        Path | None, typer.Option(help="scores.parquet from batch scoring (required)")
    ] = None,
) -> None:
    """Choose whom to contact by expected net value, within budget, holding out a control group."""
    with user_errors():
        if scores is None:
            raise InputError(
                "recall needs churn scores: pass --scores scores.parquet (one row per user, "
                "written by batch scoring)"
            )
        cfg = load_config(config)
        plan = load_policy(policy)
        decided = decisions(read_scores(scores), current_version(store_root(cfg)), plan)
        write_recall_list(decided, out)
    print_recall(plan, decided, out)


def review_command(
    config: ConfigOption,
    campaign: Annotated[Path, typer.Option(help="The recall.csv the campaign was sent from")],
    window_days: Annotated[int, typer.Option(min=1, help="Days after the campaign date")],
    out: Annotated[
        Path | None, typer.Option(help="Report folder (default: <workdir>/reviews/<campaign>)")
    ] = None,
    update_policy_file: Annotated[
        Path | None,
        typer.Option(
            "--update-policy",
            help="Policy YAML to feed significant measured save rates back into "
            "(written as a new file next to it)",
        ),
    ] = None,
) -> None:
    """Compare return rates of treated and control users per strategy; report and log to MLflow."""
    with user_errors():
        cfg = load_config(config)
        listed = read_campaign(campaign)
        with console.status("reading events after the campaign"):
            result = review_campaign(cfg, DuckDBEngine(), listed, window_days)
        files = write_report(result, out or cfg.workdir_path / "reviews" / listed.id)
        with console.status("logging to MLflow"):
            run_id = log_review(result, files, resolve_store(cfg), f"{cfg.name}-reviews")
        update = update_policy(update_policy_file, result) if update_policy_file else None
    print_review(result, files, run_id)
    if update_policy_file is not None:
        print_update(update)


def print_recall(policy: RecallPolicy, decisions: pd.DataFrame, out: Path) -> None:
    per_strategy = summary(decisions)
    campaign = policy.campaign
    table = Table(title=f"campaign {campaign.id} on {campaign.date}", title_justify="left")
    table.add_column("strategy", no_wrap=True)
    table.add_column("channel")
    for column in ("treated", "control", "cost", "exp. saves", "exp. net value"):
        table.add_column(column, justify="right")
    total = per_strategy.drop(columns=["strategy", "channel"]).sum()
    rows = [*per_strategy.to_dict("records"), {"strategy": "total", "channel": "", **total}]
    for row in rows:
        table.add_row(
            str(row["strategy"]),
            str(row["channel"]),
            f"{int(row['treatment']):,}",
            f"{int(row['control']):,}",
            f"{row['cost']:,.2f}",
            f"{row['expected_saves']:,.1f}",
            f"{row['expected_net_value']:,.2f}",
            style="bold" if row is rows[-1] else None,
        )
    console.print(table)
    console.print(f"budget used: {total.cost:,.2f} of {policy.budget:,.2f}")
    skipped = ", ".join(
        f"{reason} {count:,}" for reason, count in skipped_counts(decisions).items()
    )
    console.print(f"not listed: {skipped or 'nobody'}")
    console.print(f"written to {out}")


def print_review(result: Review, files: ReportFiles, run_id: str) -> None:
    shown = display_table(result.table)
    label = {key: text for key, (text, _) in COLUMNS.items()}
    table = Table(
        title=f"review of {result.campaign_id}: returns within {result.window_days} days",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("strategy", no_wrap=True)
    headers = (
        "treated/control",
        "return rate",
        "uplift, pts [95% CI]",
        "sig.",
        "cost/saved",
        "ROI",
    )
    for column in headers:
        table.add_column(column, justify="right", no_wrap=True)
    for row in shown.to_dict("records"):
        table.add_row(
            str(row["strategy"]),
            f"{row[label['treated']]} / {row[label['control']]}",
            f"{row[label['rate_treated']]} vs {row[label['rate_control']]}",
            f"{row[label['uplift']]} [{row[label['ci_low']]}, {row[label['ci_high']]}]",
            str(row[label["significant"]]),
            str(row[label["cost_per_saved"]]),
            str(row[label["roi"]]),
        )
    console.print(table)
    if not result.complete:
        console.print(
            f"[yellow]the window ends {result.window_end} but events stop at "
            f"{result.observed_until}: return rates are still rising[/yellow]"
        )
    console.print(f"report: {files.html}  ({files.markdown.name}, {len(files.charts)} charts)")
    console.print(f"MLflow run: {run_id}")


def print_update(update: PolicyUpdate | None) -> None:
    if update is None:
        console.print("no strategy had a significant uplift: the policy keeps its save rates")
        return
    rates = ", ".join(f"{name} {rate.save_rate:.3f}" for name, rate in update.updated.items())
    console.print(
        f"measured save rates ({rates or 'none in this policy'}) written to {update.path}"
    )
    console.print(
        "[dim]a new file, because the YAML writer cannot keep comments: "
        "review it and replace the policy[/dim]"
    )
    if update.not_in_policy:
        console.print(f"not in the policy any more: {', '.join(update.not_in_policy)}")


def register(app: typer.Typer) -> None:
    app.command("recall")(recall_command)
    app.command("review")(review_command)
