"""The monitor's result as JSON: what a scheduler or a dashboard reads."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from monitoring.monitor import Check, Monitoring


def _check(check: Check) -> dict[str, Any]:
    result = check.realised
    return {
        "cutoff": check.entry.cutoff.isoformat(),
        "model_version": check.entry.model_version,
        "store_version": check.entry.store_version,
        "scored": len(check.scores),
        "matured": check.matured,
        "promised": check.promise.metrics,
        "promised_intervals": {k: list(v) for k, v in check.promise.intervals.items()},
        "expected": check.expected.as_dict(),
        "realised": None
        if result is None
        else {
            "labelled": result.labelled,
            "churned": result.churned,
            "metrics": result.metrics,
            "intervals": {
                name: [interval.low, interval.high] for name, interval in result.intervals.items()
            },
            "reliability": {
                "count": result.reliability.count.tolist(),
                "predicted": [_finite(v) for v in result.reliability.predicted],
                "observed": [_finite(v) for v in result.reliability.observed],
            },
        },
        "score_drift": None if check.score_drift is None else asdict(check.score_drift),
        "drift": [asdict(d) for d in check.drift],
        "findings": [asdict(f) for f in check.findings],
    }


def _finite(value: float) -> float | None:
    return None if value != value else float(value)  # NaN (an empty bin) as null


def summary(monitoring: Monitoring) -> dict[str, Any]:
    return {
        "model": monitoring.model_name,
        "observed_until": monitoring.observed_until.isoformat(),
        "alert": monitoring.alert,
        "verdict": monitoring.verdict(),
        "snapshots": [_check(check) for check in monitoring.checks],
    }
