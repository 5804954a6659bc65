"""Metrics say what they claim: calibrated scores have ~0 ECE, the top decile is exact."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from training.metrics import METRICS, PROBABILITY, evaluate, expected_calibration_error, top_flags


@pytest.fixture
def calibrated() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    probability = rng.uniform(0, 1, 50_000)
    return (rng.uniform(0, 1, 50_000) < probability).astype(float), probability


def test_calibrated_scores_have_near_zero_ece(calibrated: tuple[np.ndarray, np.ndarray]) -> None:
    y, probability = calibrated
    assert expected_calibration_error(y, probability) < 0.01


def test_ece_sees_a_constant_offset(calibrated: tuple[np.ndarray, np.ndarray]) -> None:
    y, probability = calibrated
    shifted = np.clip(probability - 0.1, 0, 1)
    assert expected_calibration_error(y, shifted) == pytest.approx(0.1, abs=0.015)


def test_top_decile_is_exactly_ten_percent_even_with_ties() -> None:
    score = np.repeat([3.0, 2.0, 1.0], [5, 50, 45])
    flags = top_flags(score)
    assert flags.sum() == 10
    assert flags[:5].all()


def test_lift_and_recall_in_the_top_decile() -> None:
    y = np.array([1.0] * 10 + [0.0] * 90)
    perfect = evaluate(y, -np.arange(100.0), is_probability=False)
    assert perfect["recall_top10"] == 1.0
    assert perfect["lift_top10"] == pytest.approx(10.0)
    assert perfect["roc_auc"] == 1.0


def test_rank_only_scores_get_no_probability_metrics() -> None:
    rng = np.random.default_rng(1)
    y = (rng.uniform(size=200) < 0.3).astype(float)
    score = rng.uniform(0, 200, 200)
    metrics = evaluate(y, score, is_probability=False)
    assert set(metrics) == set(METRICS)
    assert all(metrics[name] is None for name in PROBABILITY)
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(y, score))
