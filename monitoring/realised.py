"""How a snapshot's predictions did once its labels matured: the metrics training reports,
with bootstrap intervals from the same resampling code, and the reliability curve."""

from __future__ import annotations

from dataclasses import dataclass

from artifact.reference import Floats
from training.metrics import Metrics, evaluate
from training.uncertainty import CalibrationBins, Interval, bootstrap, calibration_bins

SCORER = "served"


@dataclass(frozen=True)
class Realised:
    labelled: int
    churned: int
    metrics: Metrics
    intervals: dict[str, Interval]
    reliability: CalibrationBins


def realised(y: Floats, probability: Floats, rounds: int, seed: int) -> Realised:
    boot = bootstrap(y, {SCORER: probability}, [SCORER], rounds=rounds, seed=seed)
    return Realised(
        labelled=len(y),
        churned=int(y.sum()),
        metrics=evaluate(y, probability, is_probability=True),
        intervals=boot.intervals(SCORER),
        reliability=calibration_bins(y, probability),
    )
