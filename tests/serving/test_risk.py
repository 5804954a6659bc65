"""Percentiles come from the model's reference scores; bands from percentile thresholds."""

from __future__ import annotations

import numpy as np

from serving.risk import risk_band, risk_percentile


def test_percentile_is_the_share_of_reference_users_at_or_below() -> None:
    reference = [0.1, 0.2, 0.3, 0.4]
    assert risk_percentile(np.array([0.05, 0.2, 0.35, 0.9]), reference).tolist() == [
        0.0,
        50.0,
        75.0,
        100.0,
    ]


def test_bands_follow_the_thresholds() -> None:
    bands = risk_band(np.array([10.0, 50.0, 80.0, 94.9, 95.0]))
    assert bands.tolist() == ["low", "medium", "high", "high", "critical"]
