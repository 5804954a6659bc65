"""Latency percentiles, one definition for the load test, the in-process floor and the soak."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

PERCENTILES = (50, 90, 99)


def summary(seconds: Sequence[float]) -> dict[str, float]:
    """Count, p50/p90/p99, max and mean, in milliseconds (count as a float for JSON's sake)."""
    values = np.asarray(seconds, dtype="float64") * 1000.0
    if not len(values):
        return {"count": 0.0}
    found = {f"p{p}_ms": float(np.percentile(values, p)) for p in PERCENTILES}
    return {
        "count": float(len(values)),
        **found,
        "max_ms": float(values.max()),
        "mean_ms": float(values.mean()),
    }


def per_call(call: Callable[[], object], repeat: int) -> list[float]:
    """Seconds of each of `repeat` calls, timed one by one (for per-call percentiles)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times
