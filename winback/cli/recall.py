"""`recall` and `review`: the campaign list operations receive, and whether it worked."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.config import InputError
from winback.cli.common import ConfigOption, EngineOption, open_config, open_engine, user_errors
from winback.cli.console import console

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
    """Choose whom to contact by expected (incremental) net value, within budget, holding out
    a control group; strategies with a champion uplift model are valued by it."""
    import datetime as dt

    from artifact.tracking import resolve_store
    from recall.campaign import decisions
    from recall.campaign_file import write_recall_list
    from recall.policy import load_policy
    from recall.scores import read_scores
    from serving.ledger import ledger_root, record_campaign
    from serving.ledger_tracking import log_campaign
    from serving.online_store import open_store, read_all
    from uplift.registry import champions, prefix_of
    from winback.cli.render import print_recall

    with user_errors():
        if scores is None:
            raise InputError(
                "recall needs churn scores: pass --scores scores.parquet (one row per user, "
                "written by batch scoring)"
            )
        cfg = open_config(config)
        plan = load_policy(policy)
        stored = open_store(cfg).current()
        models = champions(resolve_store(cfg), prefix_of(cfg))
        decided = decisions(read_scores(scores), read_all(stored), plan, models)
        listed = write_recall_list(decided, out)
        cutoff = dt.date.fromisoformat(stored.cutoff)
        kept = None
        if len(listed):
            kept = record_campaign(ledger_root(cfg), listed, cutoff)
            run_id = log_campaign(resolve_store(cfg), cfg.model.name, cutoff, kept, listed)
    print_recall(plan, decided, out)
    if kept is not None:
        console.print(f"ledger: {kept} (MLflow run {run_id})", soft_wrap=True)


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
    engine: EngineOption = None,
) -> None:
    """Compare return rates of treated and control users per strategy; report and log to MLflow."""
    from artifact.tracking import resolve_store
    from recall.campaign_file import read_campaign
    from recall.feedback import update_policy
    from recall.outcomes import review_campaign
    from recall.report import reviews_root, write_report
    from recall.tracking import log_review
    from winback.cli.render import print_review, print_update

    with user_errors():
        cfg = open_config(config)
        listed = read_campaign(campaign)
        chosen = open_engine(cfg.engine, engine)
        with console.status("reading events after the campaign"):
            result = review_campaign(cfg, chosen, listed, window_days)
        files = write_report(result, out or reviews_root(cfg) / listed.id)
        with console.status("logging to MLflow"):
            run_id = log_review(result, files, resolve_store(cfg), f"{cfg.name}-reviews")
        update = update_policy(update_policy_file, result) if update_policy_file else None
    print_review(result, files, run_id)
    if update_policy_file is not None:
        print_update(update)


def register(app: typer.Typer) -> None:
    app.command("recall")(recall_command)
    app.command("review")(review_command)
