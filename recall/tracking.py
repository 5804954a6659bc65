"""Each campaign review becomes its own MLflow run, beside the models it judges.

The store is resolved by the caller (`artifact.tracking.resolve_store`, the same one
training uses) and passed in: nothing here reads the environment or sets a global URI.
"""

from __future__ import annotations

import time

import pandas as pd
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

from artifact.tracking import TrackingStore, experiment_id
from recall.report import ReportFiles
from recall.review import ALL, Review

METRICS = (
    "uplift",
    "ci_low",
    "ci_high",
    "saved_users",
    "saved_low",
    "saved_high",
    "cost",
    "cost_per_saved",
    "roi",
    "mde",
    "power",
)


DURABLE_METRICS = ("difference", "ci_low", "ci_high")


def _metrics(table: pd.DataFrame, durable: pd.DataFrame | None, now: int) -> list[Metric]:
    """`<metric>.<strategy>` for every finite number, pooled ones as `<metric>.all`; durable
    outcomes as `<outcome>.<difference|ci_low|ci_high>.<strategy>`."""
    metrics = []
    for row in table.to_dict("records"):
        key = "all" if row["strategy"] == ALL else row["strategy"]
        for name in METRICS:
            value = float(row[name])
            if pd.notna(value):
                metrics.append(Metric(f"{name}.{key}", value, now, 0))
    for row in [] if durable is None else durable.to_dict("records"):
        key = "all" if row["strategy"] == ALL else row["strategy"]
        for name in DURABLE_METRICS:
            value = float(row[name])
            if pd.notna(value):
                metrics.append(Metric(f"{row['outcome']}.{name}.{key}", value, now, 0))
    return metrics


def _targeting(review: Review, now: int) -> list[Metric]:
    """`qini.<strategy>`, `auuc.<strategy>` (and bounds) of the uplift-targeted strategies."""
    metrics = []
    for strategy, held_out in review.targeting.items():
        for name, estimate in (("qini", held_out.qini), ("auuc", held_out.auuc)):
            bounds = (("", estimate.value), ("_low", estimate.low), ("_high", estimate.high))
            for suffix, value in bounds:
                if pd.notna(value):
                    metrics.append(Metric(f"{name}{suffix}.{strategy}", value, now, 0))
    return metrics


def log_review(review: Review, files: ReportFiles, store: TrackingStore, experiment: str) -> str:
    """Log the review's numbers and report files as a new run; returns the run id."""
    client = store.client()
    run = client.create_run(
        experiment_id(store, experiment),
        run_name=f"review-{review.campaign_id}",
        tags={"winback.kind": "campaign-review", "winback.campaign": review.campaign_id},
    )
    run_id = run.info.run_id
    try:
        _log(client, run_id, review, files)
    except Exception:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id)
    return run_id


def _log(client: MlflowClient, run_id: str, review: Review, files: ReportFiles) -> None:
    params = {
        "campaign_id": review.campaign_id,
        "campaign_date": str(review.campaign_date),
        "window_days": str(review.window_days),
        "observed_until": str(review.observed_until),
        "window_complete": str(review.complete),
    }
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=_metrics(review.table, review.durable, now) + _targeting(review, now),
        params=[Param(key, value) for key, value in params.items()],
    )
    client.log_artifacts(run_id, str(files.folder))
