"""Where a probability sits among active users, and the band operations act on.

Percentiles come from the reference distribution stored with the model (the calibrated
scores of its test snapshot), so one user's percentile does not depend on who else is
in the request.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BANDS: tuple[tuple[float, str], ...] = ((95.0, "critical"), (80.0, "high"), (50.0, "medium"))
LOWEST_BAND = "low"


def risk_percentile(probabilities: np.ndarray, reference: Sequence[float]) -> np.ndarray:
    """Share of reference users (in %) with a risk at or below each probability."""
    ordered = np.sort(np.asarray(reference, dtype="float64"))
    positions = np.searchsorted(ordered, probabilities, side="right")
    return 100.0 * positions / len(ordered)


def band_codes(
    percentiles: np.ndarray, bands: Sequence[tuple[float, str]] = BANDS
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Per user, the position in the returned names of the highest band whose lower
    percentile it reaches (`low`, position 0, below all of them)."""
    ordered = sorted(bands)
    thresholds = np.array([threshold for threshold, _ in ordered])
    codes = np.searchsorted(thresholds, percentiles, side="right")
    codes[np.isnan(percentiles)] = 0  # reaches no band
    return codes, (LOWEST_BAND, *(name for _, name in ordered))


def risk_band(percentiles: np.ndarray, bands: Sequence[tuple[float, str]] = BANDS) -> np.ndarray:
    """Highest band whose lower percentile the user reaches; `low` below all of them."""
    codes, names = band_codes(percentiles, bands)
    return np.array(names, dtype=object)[codes]
