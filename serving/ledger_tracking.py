"""Each ledger entry and recall list is noted on an MLflow run, so the registry shows what
every version predicted, what was acted on, and where both are kept."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from mlflow.entities import Metric, Param

from artifact.tracking import TrackingStore, experiment_id
from serving.ledger import Entry


def ledger_experiment(model_name: str) -> str:
    return f"{model_name}-ledger"


def _counts(table: pd.DataFrame, kinds: tuple[str, ...]) -> dict[str, float]:
    return {
        f"users.{kind}.{value}": float(count)
        for kind in kinds
        for value, count in table[kind].value_counts().items()
    }


def _finished_run(
    store: TrackingStore,
    model_name: str,
    name: str,
    tags: Mapping[str, str],
    params: Mapping[str, str],
    metrics: Mapping[str, float],
) -> str:
    client = store.client()
    run = client.create_run(
        experiment_id(store, ledger_experiment(model_name)), run_name=name, tags=dict(tags)
    )
    now = int(time.time() * 1000)
    client.log_batch(
        run.info.run_id,
        metrics=[Metric(key, value, now, 0) for key, value in metrics.items()],
        params=[Param(key, value) for key, value in params.items()],
    )
    client.set_terminated(run.info.run_id)
    return str(run.info.run_id)


def log_entry(store: TrackingStore, entry: Entry, path: Path, scores: pd.DataFrame) -> str:
    """A finished run with the entry's identity, users per status and band; returns its id."""
    cutoff = entry.cutoff.isoformat()
    return _finished_run(
        store,
        entry.model_name,
        f"score-{cutoff}-v{entry.model_version}",
        {"winback.kind": "ledger", "winback.ledger_file": str(path)},
        {
            "model_name": entry.model_name,
            "model_version": entry.model_version,
            "store_version": entry.store_version,
            "cutoff": cutoff,
        },
        _counts(scores, ("status", "risk_band")),
    )


def log_campaign(
    store: TrackingStore, model_name: str, cutoff: dt.date, path: Path, listed: pd.DataFrame
) -> str:
    """A finished run per recall list: campaign, the scoring it used, users per group and
    strategy; returns its id."""
    campaign = str(listed["campaign_id"].iloc[0])
    versions = ",".join(sorted(set(listed["model_version"].dropna().astype("str"))))
    return _finished_run(
        store,
        model_name,
        f"recall-{campaign}",
        {"winback.kind": "recall", "winback.ledger_file": str(path)},
        {
            "campaign_id": campaign,
            "campaign_date": str(listed["campaign_date"].iloc[0]),
            "cutoff": cutoff.isoformat(),
            "model_version": versions,
        },
        _counts(listed, ("group", "strategy")),
    )
