"""No label used for fitting may look past the cutoff the model is judged on."""

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


def test_test_is_the_last_cutoff_and_training_takes_every_earlier_one() -> None:
    split = temporal_split(every(30, 10), horizon_days=90)
    assert split.test == START + dt.timedelta(days=270)
    assert split.validation == (START + dt.timedelta(days=180),)
    assert split.train == tuple(every(30, 6))


@given(
    step=st.integers(1, 60),
    count=st.integers(3, 30),
    horizon=st.integers(1, 120),
    validation=st.integers(1, 3),
)
def test_no_label_window_reaches_past_the_test_cutoff(
    step: int, count: int, horizon: int, validation: int
) -> None:
    window = dt.timedelta(days=horizon)
    cutoffs = every(step, count)
    try:
        split = temporal_split(cutoffs, horizon, validation)
    except TrainingError:
        return
    assert all(t + window <= split.test for t in split.train)
    assert all(v + window <= split.test for v in split.validation)
    assert len(split.validation) == validation
    assert max(split.train) < min(split.validation) < split.test
    assert split.train == tuple(c for c in cutoffs if c < min(split.validation))


def test_cutoffs_are_deduplicated_and_ordered() -> None:
    cutoffs = every(30, 6)
    shuffled = cutoffs[::-1] + cutoffs[:2]
    assert temporal_split(shuffled, 30) == temporal_split(cutoffs, 30)


@pytest.mark.parametrize(
    ("count", "horizon", "message"),
    [
        (0, 30, "no cutoff has labels"),
        (2, 90, "are needed for validation"),
        (2, 30, "no cutoff comes before the first validation cutoff"),
    ],
)
def test_too_few_cutoffs_for_an_honest_split_is_a_clear_error(
    count: int, horizon: int, message: str
) -> None:
    with pytest.raises(TrainingError, match=message):
        temporal_split(every(30, count), horizon)
