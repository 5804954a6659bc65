"""No model is fitted on a label that is not yet known at the cutoff it predicts."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from training.errors import TrainingError
from training.split import backtest_grid, known_by, temporal_split

START = dt.date(2024, 1, 1)


def every(days: int, count: int) -> list[dt.date]:
    return [START + dt.timedelta(days=days * i) for i in range(count)]


def day(n: int) -> dt.date:
    return START + dt.timedelta(days=n)


def test_test_is_the_last_cutoff_and_folds_the_latest_before_it() -> None:
    split = temporal_split(every(30, 10), horizon_days=90, folds=3)
    assert split.test == day(270)
    assert split.train == tuple(every(30, 7))  # windows ending by day 270: up to day 180
    assert [fold.cutoff for fold in split.folds] == [day(180), day(210), day(240)]
    assert split.folds[0].train == tuple(every(30, 4))  # windows ending by day 180
    assert split.refit == tuple(every(30, 10))


def test_folds_a_week_apart_are_added_before_the_test_cutoff_off_the_grid() -> None:
    until = day(270 + 90)  # the log covers the last grid cutoff's label window exactly
    cutoffs = backtest_grid(every(30, 10), 90, until, folds=3, step_days=7)
    assert sorted(set(cutoffs) - set(every(30, 10))) == [day(249), day(256), day(263)]
    split = temporal_split(cutoffs, horizon_days=90, folds=3, step_days=7)
    assert split.test == day(270)
    assert [fold.cutoff for fold in split.folds] == [day(249), day(256), day(263)]
    assert split.folds[0].train == tuple(every(30, 6))  # windows ending by day 249: day 150
    assert split.train == tuple(every(30, 7))


@given(
    step=st.integers(1, 60),
    count=st.integers(2, 30),
    horizon=st.integers(1, 120),
    folds=st.integers(1, 6),
    fold_step=st.none() | st.integers(1, 30),
    covered=st.integers(0, 400),
)
def test_no_fold_trains_on_a_label_window_that_reaches_its_own_cutoff(
    step: int, count: int, horizon: int, folds: int, fold_step: int | None, covered: int
) -> None:
    """Whether the folds are the grid's latest cutoffs or added a `fold_step` apart, and
    wherever the log ends (`covered` days after the first cutoff)."""
    window = dt.timedelta(days=horizon)
    built = backtest_grid(every(step, count), horizon, day(covered), folds, fold_step)
    cutoffs = list(known_by(built, day(covered), horizon))  # the labelled ones
    try:
        split = temporal_split(cutoffs, horizon, folds, fold_step)
    except TrainingError:
        return
    for fold in [*split.folds, split.evaluation]:
        assert fold.train, fold
        assert all(c + window <= fold.cutoff for c in fold.train), fold
        # and nothing usable is left out: every cutoff whose labels are known by then
        assert fold.train == tuple(c for c in cutoffs if c + window <= fold.cutoff)
    assert all(fold.cutoff < split.test for fold in split.folds)
    assert len(split.folds) <= folds
    assert [f.cutoff for f in split.folds] == sorted(f.cutoff for f in split.folds)
    assert split.refit == tuple(cutoffs)


def test_cutoffs_are_deduplicated_and_ordered() -> None:
    cutoffs = every(30, 6)
    shuffled = cutoffs[::-1] + cutoffs[:2]
    assert temporal_split(shuffled, 30) == temporal_split(cutoffs, 30)


@pytest.mark.parametrize(
    ("count", "horizon", "message"),
    [
        (0, 30, "no cutoff has labels"),
        (2, 90, "ends by the test cutoff"),
        (2, 30, "nothing can be backtested"),
    ],
)
def test_too_few_cutoffs_for_an_honest_split_is_a_clear_error(
    count: int, horizon: int, message: str
) -> None:
    with pytest.raises(TrainingError, match=message):
        temporal_split(every(30, count), horizon)
