"""No model is fitted on a label that is not yet known at the cutoff it predicts."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from training.errors import TrainingError
from training.split import temporal_split

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


@given(
    step=st.integers(1, 60),
    count=st.integers(2, 30),
    horizon=st.integers(1, 120),
    folds=st.integers(1, 6),
)
def test_no_fold_trains_on_a_label_window_that_reaches_its_own_cutoff(
    step: int, count: int, horizon: int, folds: int
) -> None:
    window = dt.timedelta(days=horizon)
    cutoffs = every(step, count)
    try:
        split = temporal_split(cutoffs, horizon, folds)
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
