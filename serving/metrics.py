"""The service's own Prometheus metrics, beside BentoML's on /metrics: refresh failures, and
what it served (probabilities, statuses, bands, by model version) for a live view.

prometheus_client is imported on first use, not at import: BentoML sets its multiprocess
directory in each worker after importing the service, and a client initialised before that
would count into nothing /metrics reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any


@cache
def refresh_failures() -> Any:
    """Failed background refreshes by error type (RegistryError, PairError, ...)."""
    import prometheus_client

    return prometheus_client.Counter(
        "winback_refresh_failures",
        "Background refreshes of the champion and online store that failed; the previous "
        "pair kept serving",
        ["kind"],
    )


PROBABILITY_BUCKETS = tuple(round(0.05 * i, 2) for i in range(1, 21))


@cache
def served_probability() -> Any:
    """What the service predicted, per model version: a shift shows the day it happens."""
    import prometheus_client

    return prometheus_client.Histogram(
        "winback_churn_probability",
        "Churn probability of every scored user the service answered",
        ["model_version"],
        buckets=PROBABILITY_BUCKETS,
    )


@cache
def served_users() -> Any:
    """Users answered per status (scored, lapsed, new, dormant, unknown) and risk band."""
    import prometheus_client

    return prometheus_client.Counter(
        "winback_served_users",
        "Users the service answered, by status, risk band (none when not scored) and model",
        ["status", "band", "model_version"],
    )


def observe(results: Sequence[Mapping[str, Any]]) -> None:
    """Counts one answer's users: status and band for every user, probability when scored."""
    for result in results:
        version = str(result.get("model_version"))
        served_users().labels(
            status=result["status"], band=result.get("risk_band") or "none", model_version=version
        ).inc()
        probability = result.get("churn_probability")
        if probability is not None:
            served_probability().labels(model_version=version).observe(probability)
