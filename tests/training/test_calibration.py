"""Calibration fixes probabilities without ever changing who ranks above whom."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression

from artifact.model import CalibrationMethod
from training.calibration import PROBABILITY_FLOOR, calibrate, fit_map, grouped_folds
from training.errors import TrainingError
from training.metrics import expected_calibration_error


def overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Margins three times too large: the true log-odds are margin / 3 - 0.5."""
    rng = np.random.default_rng(seed)
    margin = rng.normal(0, 3, n)
    y = (rng.uniform(size=n) < expit(margin / 3 - 0.5)).astype(float)
    return margin, y


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_maps_are_strictly_increasing_so_ranking_survives(method: str) -> None:
    margin, y = overconfident(5_000, 0)
    mapping = fit_map(method, margin, y)  # type: ignore[arg-type]
    grid = np.linspace(-12, 12, 2_001)
    probability = mapping.apply(grid)
    inside = (probability > PROBABILITY_FLOOR) & (probability < 1 - PROBABILITY_FLOOR)
    assert np.all(np.diff(probability[inside]) > 0)
    assert probability.min() >= PROBABILITY_FLOOR - 1e-12


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_overconfident_margins_become_calibrated_probabilities(method: str) -> None:
    margin, y = overconfident(20_000, 1)
    mapping = fit_map(method, margin, y)  # type: ignore[arg-type]
    fresh_margin, fresh_y = overconfident(20_000, 2)
    assert expected_calibration_error(fresh_y, mapping.apply(fresh_margin)) < 0.02
    assert expected_calibration_error(fresh_y, expit(fresh_margin)) > 0.1


def test_isotonic_map_passes_through_scikit_learns_steps_at_their_centres() -> None:
    margin, y = overconfident(3_000, 3)
    mapping = fit_map("isotonic", margin, y)
    steps = IsotonicRegression(
        y_min=PROBABILITY_FLOOR, y_max=1 - PROBABILITY_FLOOR, out_of_bounds="clip"
    ).fit(margin, y)
    assert np.allclose(mapping.apply(np.asarray(mapping.x)), steps.predict(mapping.x))
    assert np.allclose(mapping.apply(np.asarray(mapping.x)), mapping.y)


def test_the_lower_cross_validated_log_loss_wins() -> None:
    margin, y = overconfident(4_000, 4)
    choice = calibrate(margin, y, ["isotonic", "sigmoid"], grouped_folds(y, seed=0))
    assert set(choice.cv_log_loss) == {"isotonic", "sigmoid"}
    assert choice.chosen.method == min(choice.cv_log_loss, key=choice.cv_log_loss.__getitem__)
    # the truth is logistic in the margin, so two parameters beat a step function
    assert choice.chosen.method == "sigmoid"


def test_too_few_churners_to_choose_is_a_clear_error() -> None:
    y = np.zeros(100)
    y[:3] = 1
    with pytest.raises(TrainingError, match="at least 5 churned"):
        grouped_folds(y, seed=0)


def test_a_user_in_every_fold_is_held_out_whole_so_a_step_map_cannot_memorise_them() -> None:
    """The backtest's folds are a week apart: the same users, the same labels, four times.
    Split row by row, isotonic regression sees each held-out row's twins and looks better
    than it is; held out user by user, it is judged on users it has not seen."""
    margin, y = overconfident(600, 8)
    margin = margin + np.random.default_rng(9).normal(0, 0.01, 600)  # distinct steps per user
    repeated_margin, repeated_y = np.tile(margin, 4), np.tile(y, 4)
    users = np.tile(np.arange(600), 4)
    methods: list[CalibrationMethod] = ["isotonic", "sigmoid"]
    by_row = calibrate(repeated_margin, repeated_y, methods, grouped_folds(repeated_y, seed=0))
    by_user = calibrate(
        repeated_margin, repeated_y, methods, grouped_folds(repeated_y, seed=0, users=users)
    )
    once = calibrate(margin, y, methods, grouped_folds(y, seed=0))
    assert by_row.cv_log_loss["isotonic"] < once.cv_log_loss["isotonic"]  # flattered
    assert by_row.chosen.method == "isotonic"
    assert by_user.cv_log_loss == pytest.approx(once.cv_log_loss)
    assert by_user.chosen.method == once.chosen.method == "sigmoid"  # the truth is logistic


def test_the_folds_keep_each_users_rows_together_and_repeat_with_the_seed() -> None:
    """Made once and shared by every candidate and method, so they must be the same split
    every time they are asked for with the same rows and seed."""
    _, y = overconfident(900, 5)
    users = np.repeat(np.arange(300), 3)
    folds = grouped_folds(y, seed=3, users=users)
    again = grouped_folds(y, seed=3, users=users)
    assert all(
        np.array_equal(a, c) and np.array_equal(b, d)
        for (a, b), (c, d) in zip(folds, again, strict=True)
    )
    held_out = np.concatenate([rows for _, rows in folds])
    assert np.array_equal(np.sort(held_out), np.arange(900))
    for fit_rows, rows in folds:
        assert not set(users[fit_rows]) & set(users[rows])
