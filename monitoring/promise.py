"""What a model promised at registration: its held-out test metrics (model metadata) and
their bootstrap 95% intervals (its training run), the yardstick for everything it serves."""

from __future__ import annotations

from dataclasses import dataclass, field

from artifact.model import ChurnModel
from artifact.registry import registry_errors
from artifact.tracking import TrackingStore
from training.evaluation import MODEL


@dataclass(frozen=True)
class Promise:
    metrics: dict[str, float | None]
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)

    def value(self, name: str) -> float | None:
        return self.metrics.get(name)


def promise_of(store: TrackingStore, model: ChurnModel, version: str) -> Promise:
    name = model.metadata.name
    metrics = dict(model.metadata.metrics.get(MODEL, {}))
    with registry_errors(store):
        client = store.client()
        run_id = client.get_model_version(name, version).run_id
        logged = client.get_run(run_id).data.metrics if run_id else {}
    intervals = {
        metric: (logged[f"{MODEL}/test_{metric}_low"], logged[f"{MODEL}/test_{metric}_high"])
        for metric in metrics
        if f"{MODEL}/test_{metric}_low" in logged and f"{MODEL}/test_{metric}_high" in logged
    }
    return Promise(metrics, intervals)
