"""PSI and Jensen-Shannon on the reference's fixed bins, and the levels they raise."""

from __future__ import annotations

import numpy as np
import pytest

from artifact.reference import Binned, reference_of
from monitoring.config import MonitorConfig
from monitoring.drift import drift, js_distance, psi


def test_psi_is_zero_for_the_same_shares_and_matches_the_formula() -> None:
    a = np.array([0.25, 0.25, 0.5])
    b = np.array([0.5, 0.25, 0.25])
    assert psi(a, a) == 0.0
    assert psi(a, b) == pytest.approx(0.25 * np.log(2) + 0.25 * np.log(2))


def test_js_distance_is_zero_to_one() -> None:
    assert js_distance(np.array([1.0, 0.0]), np.array([1.0, 0.0])) == 0.0
    assert js_distance(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)


def test_a_shifted_number_alerts_a_resample_does_not() -> None:
    rng = np.random.default_rng(0)
    values = rng.gamma(2.0, 10.0, 5_000)
    reference = reference_of(
        {"x": values, "plan": rng.choice(["a", "b"], 5_000)},
        {"x": "numeric", "plan": "categorical"},
        rng.random(5_000),
    )
    config = MonitorConfig()
    same = {"x": rng.gamma(2.0, 10.0, 2_000), "plan": rng.choice(["a", "b"], 2_000)}
    score, features = drift(reference, same, rng.random(2_000), config)
    assert score.level == "ok" and {d.level for d in features} == {"ok"}
    moved = {"x": rng.gamma(2.0, 10.0, 2_000) * 1.6, "plan": rng.choice(["a", "c"], 2_000)}
    _, features = drift(reference, moved, rng.random(2_000), config)
    found = {d.name: d for d in features}
    assert found["x"].statistic == "psi" and found["x"].level == "alert"
    assert found["plan"].statistic == "js" and found["plan"].level == "alert"


def test_bins_stay_those_of_training() -> None:
    binned = Binned.of("x", "numeric", np.arange(10.0))
    assert binned.shares_of(np.arange(10.0) + 100).tolist()[-2] == 1.0  # all in the top bin
