"""Each ledger entry is noted on an MLflow run, so the registry shows what every version
predicted and where the predictions are kept."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
from mlflow.entities import Metric, Param

from artifact.tracking import TrackingStore, experiment_id
from serving.ledger import Entry


def ledger_experiment(model_name: str) -> str:
    return f"{model_name}-ledger"


def log_entry(store: TrackingStore, entry: Entry, path: Path, scores: pd.DataFrame) -> str:
    """A finished run with the entry's identity, users per status and band; returns its id."""
    client = store.client()
    cutoff = entry.cutoff.isoformat()
    run = client.create_run(
        experiment_id(store, ledger_experiment(entry.model_name)),
        run_name=f"score-{cutoff}-v{entry.model_version}",
        tags={"winback.kind": "ledger", "winback.ledger_file": str(path)},
    )
    now = int(time.time() * 1000)
    counts = {
        f"users.{kind}.{value}": float(count)
        for kind in ("status", "risk_band")
        for value, count in scores[kind].value_counts().items()
    }
    params = {
        "model_name": entry.model_name,
        "model_version": entry.model_version,
        "store_version": entry.store_version,
        "cutoff": cutoff,
    }
    client.log_batch(
        run.info.run_id,
        metrics=[Metric(key, value, now, 0) for key, value in counts.items()],
        params=[Param(key, value) for key, value in params.items()],
    )
    client.set_terminated(run.info.run_id)
    return str(run.info.run_id)
