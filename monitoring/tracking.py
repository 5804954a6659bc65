"""Each monitor run becomes an MLflow run beside the model's runs: per snapshot metrics (one
step per snapshot, so MLflow draws them over time) and the report as artifacts."""

from __future__ import annotations

import time

from mlflow.entities import Metric, Param

from artifact.tracking import TrackingStore, experiment_id
from monitoring.monitor import Monitoring
from monitoring.report import ReportFiles


def _metrics(monitoring: Monitoring, now: int) -> list[Metric]:
    found = []
    for step, check in enumerate(monitoring.checks):
        values = {f"expected_{k}": v for k, v in check.expected.as_dict().items()}
        if check.score_drift is not None:
            values["score_psi"] = check.score_drift.value
        if check.drift:
            values["max_feature_drift"] = check.drift[0].value
        if check.realised is not None:
            values |= {
                f"realised_{k}": v for k, v in check.realised.metrics.items() if v is not None
            }
        values["alerts"] = float(len(check.alerts))
        found += [Metric(k, float(v), now, step) for k, v in values.items() if v == v]
    return found


def log_monitoring(monitoring: Monitoring, files: ReportFiles, store: TrackingStore) -> str:
    client = store.client()
    run = client.create_run(
        experiment_id(store, f"{monitoring.model_name}-monitor"),
        run_name=f"monitor-{monitoring.observed_until}",
        tags={"winback.kind": "monitor", "winback.verdict": monitoring.verdict()[:5000]},
    )
    run_id = run.info.run_id
    params = {
        "observed_until": str(monitoring.observed_until),
        "snapshots": str(len(monitoring.checks)),
        "cutoffs": ",".join(str(c.entry.cutoff) for c in monitoring.checks)[:6000],
        "alert": str(monitoring.alert),
    }
    try:
        client.log_batch(
            run_id,
            metrics=_metrics(monitoring, int(time.time() * 1000)),
            params=[Param(k, v) for k, v in params.items()],
        )
        client.log_artifacts(run_id, str(files.folder))
    except Exception:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id)
    return str(run_id)
