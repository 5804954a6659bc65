"""How far served rows have moved from the model's training reference, per input and for the
score: PSI on the reference's fixed bins for numbers, Jensen-Shannon distance for categories.

PSI = sum over bins of (served - reference) * ln(served / reference); shares are floored at
FLOOR so an empty bin counts as a large but finite difference (the usual convention).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.spatial.distance import jensenshannon

from artifact.reference import Binned, Floats, Reference
from monitoring.config import MonitorConfig

FLOOR = 1e-4
Level = Literal["ok", "warn", "alert"]  # a finding is never "ok"


def psi(reference: Floats, served: Floats, floor: float = FLOOR) -> float:
    expected = np.maximum(np.asarray(reference, dtype="float64"), floor)
    actual = np.maximum(np.asarray(served, dtype="float64"), floor)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def js_distance(reference: Floats, served: Floats) -> float:
    """Base 2, so 0 (same shares) to 1 (no level in common)."""
    return float(jensenshannon(reference, served, base=2))


@dataclass(frozen=True)
class Drift:
    name: str
    statistic: Literal["psi", "js"]
    value: float
    level: Level


def _level(value: float, warn: float, alert: float) -> Level:
    return "alert" if value >= alert else "warn" if value >= warn else "ok"


def measure(binned: Binned, values: Any, config: MonitorConfig) -> Drift:
    reference = np.asarray(binned.shares)
    served = binned.shares_of(values)
    if binned.kind == "categorical":
        value = js_distance(reference, served)
        return Drift(binned.name, "js", value, _level(value, config.js_warn, config.js_alert))
    value = psi(reference, served)
    return Drift(binned.name, "psi", value, _level(value, config.psi_warn, config.psi_alert))


def drift(
    reference: Reference, inputs: Mapping[str, Any], score: Floats, config: MonitorConfig
) -> tuple[Drift, list[Drift]]:
    """The score's drift and each input's, largest first (`inputs`: `ChurnModel.inputs`)."""
    features = [measure(b, inputs[b.name], config) for b in reference.features if b.name in inputs]
    ranked = sorted(features, key=lambda d: -d.value)
    return measure(reference.score, score, config), ranked
