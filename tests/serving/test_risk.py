"""Percentiles come from the model's reference scores; bands from percentile thresholds."""

from __future__ import annotations

import numpy as np

from serving.risk import band_codes, risk_band, risk_percentile


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


def test_a_missing_percentile_reaches_no_band() -> None:
    assert risk_band(np.array([np.nan, 96.0])).tolist() == ["low", "critical"]


def test_band_codes_name_the_same_bands_as_the_labels() -> None:
    percentiles = np.array([0.0, 49.9, 50.0, 79.9, 80.0, 95.0, 100.0, np.nan])
    codes, names = band_codes(percentiles)
    assert [names[code] for code in codes] == risk_band(percentiles).tolist()
