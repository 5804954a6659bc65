"""`train`, `models` and `promote`: churn models from snapshots to the MLflow registry."""

from __future__ import annotations

import logging
import os
from typing import Annotated

import typer

from winback.cli.common import ConfigOption, EngineOption, open_config, open_engine, user_errors
from winback.cli.console import console, working


def _quiet_mlflow() -> None:
    """MLflow's info logs and download bars would tear through the progress line."""
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def train(config: ConfigOption, engine: EngineOption = None) -> None:
    """Train, evaluate against baselines, log to MLflow and register a challenger."""
    from artifact.tracking import resolve_store
    from training.pipeline import train as train_model
    from training.summary import training_summary

    _quiet_mlflow()
    with user_errors():
        cfg = open_config(config)
        store = resolve_store(cfg)
        chosen = open_engine(cfg.engine, engine)
        with working("training") as say:
            result = train_model(cfg, chosen, store, progress=say)
        console.print(training_summary(result))


def models(config: ConfigOption) -> None:
    """Registered versions with their aliases and test metrics, newest first."""
    from artifact.tracking import resolve_store
    from training.errors import TrainingError
    from training.registry import versions
    from training.summary import versions_table

    with user_errors():
        cfg = open_config(config)
        found = versions(resolve_store(cfg), cfg.model.name)
        if not found:
            raise TrainingError(
                f"no registered versions of {cfg.model.name} yet: run winback train"
            )
        console.print(versions_table(cfg.model.name, found))


def promote(
    config: ConfigOption,
    version: Annotated[int, typer.Option("--version", help="Version to make champion")],
) -> None:
    """Move the champion alias by hand (e.g. to roll back)."""
    from artifact.registry import champion_version
    from artifact.tracking import resolve_store
    from training.registry import promote as move_champion

    with user_errors():
        cfg = open_config(config)
        store = resolve_store(cfg)
        before = champion_version(store, cfg.model.name)
        move_champion(store, cfg.model.name, str(version))
        console.print(
            f"{cfg.model.name}: champion is now v{version}"
            + (f" (was v{before})" if before else "")
        )


def register(app: typer.Typer) -> None:
    app.command()(train)
    app.command()(models)
    app.command()(promote)
