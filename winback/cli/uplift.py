"""`uplift fit`: the control groups of a reviewed campaign become uplift models per strategy."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from winback.cli.common import ConfigOption, EngineOption, open_config, open_engine, user_errors
from winback.cli.console import console, working

if TYPE_CHECKING:
    from recall.learn import Learned

app = typer.Typer(help="Uplift models learned from campaign control groups.", no_args_is_help=True)


@app.command()
def fit(
    config: ConfigOption,
    campaign: Annotated[Path, typer.Option(help="The recall.csv the campaign was sent from")],
    window_days: Annotated[int, typer.Option(min=1, help="Days after the campaign date")],
    out: Annotated[
        Path | None, typer.Option(help="Report folder (default: <workdir>/uplift/<campaign>)")
    ] = None,
    engine: EngineOption = None,
) -> None:
    """Learn per strategy how much a contact raises the return rate, from the users' features
    on the campaign date; log to MLflow, register, and make champion what beats chance."""
    from artifact.tracking import resolve_store
    from features.catalog import cached_catalog
    from features.spec import feature_set
    from recall.campaign_file import read_campaign
    from recall.learn import campaign_data, learn
    from serving.online_store import read_all, store_root, version_as_of

    with user_errors():
        cfg = open_config(config)
        listed = read_campaign(campaign)
        version = version_as_of(store_root(cfg), listed.date)
        chosen = open_engine(cfg.engine, engine)
        with working("reading the campaign's outcomes and features") as say:
            say(f"online store {version.version} (features as of {version.cutoff})")
            features = read_all(version).to_pandas()
            data = campaign_data(cfg, chosen, listed, window_days, version.version, features)
            catalog = cached_catalog(feature_set(cfg), cfg.workdir_path / "cache")
        store = resolve_store(cfg)
        with working("fitting uplift models") as say:
            learned = learn(
                cfg, data, catalog, store, out or cfg.workdir_path / "uplift" / listed.id, say
            )
    print_learned(learned)


def print_learned(learned: Learned) -> None:
    table = Table(
        title=f"uplift models from campaign {learned.campaign.id} "
        f"(features from store {learned.campaign.store_version})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    for column in ("strategy", "model", "treated/control", "Qini [95% CI]", "AUUC", "decision"):
        table.add_column(column, justify="left" if column in ("strategy", "decision") else "right")
    for outcome in learned.outcomes:
        fit = outcome.fit
        if fit is None:
            table.add_row(outcome.strategy, "none", "", "", "", outcome.reason)
            continue
        meta, result = fit.model.metadata, fit.result
        qini = result.qini
        table.add_row(
            outcome.strategy,
            f"{meta.name} v{outcome.version}",
            f"{meta.treated:,} / {meta.control:,}",
            f"{qini.value:.4f} [{qini.low:.4f}, {qini.high:.4f}]",
            f"{result.auuc.value:.4f}",
            outcome.reason,
        )
    console.print(table)
    console.print(f"report: {learned.report.html}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="uplift")
