"""Reasons read as sentences in the feature's unit, and follow the contributions."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import serving.reasons as wording
from features.spec import Feature
from serving.reasons import concat, explain, float_texts, sentence, top_reasons

RECENCY = Feature("recency_days", "days", "Days since the last event", "recency")
SHARE = Feature(
    "share_visit_90d", "fraction", "Share of 'visit' in 90 days (null if none)", "engagement"
)
TREND = Feature(
    "events_trend_diff_30d", "events", "Change in events, the last 30 days vs before", "trend"
)
PLAN = Feature("plan", "category", "User attribute 'plan'", "profile", kind="categorical")
CATALOG = [RECENCY, SHARE, TREND, PLAN]


def test_recency_mentions_the_usual_gap_when_known() -> None:
    assert (
        sentence(RECENCY, 41.2, {"gap_mean_days": 6.4})
        == "no activity for 41 days, usually every 6"
    )
    assert sentence(RECENCY, 41.0, {}) == "no activity for 41 days"


def test_units_are_spelled_out_and_fine_print_dropped() -> None:
    assert sentence(SHARE, 0.17, {}) == "Share of 'visit' in 90 days: 17%"
    assert sentence(TREND, -8, {}) == "change in events: down by 8 events"
    assert sentence(PLAN, "free", {}) == "plan is free"
    assert sentence(RECENCY, None, {}) == "Days since the last event: not known yet"


def test_top_reasons_are_the_largest_risk_increasing_contributions() -> None:
    contributions = np.array([[0.5, -0.2, 0.9, 0.1, -3.0], [-0.4, -0.1, -0.9, -0.2, 1.0]])
    rows = [
        {"recency_days": 10.0, "share_visit_90d": 0.5, "events_trend_diff_30d": -3, "plan": "pro"},
        {"recency_days": 1.0, "share_visit_90d": 0.9, "events_trend_diff_30d": 2, "plan": "free"},
    ]
    first, second = top_reasons(contributions, rows, CATALOG, count=2)
    assert [r.feature for r in first] == ["events_trend_diff_30d", "recency_days"]
    # nothing pushes the second user's risk up: the strongest effects either way are shown
    assert [r.feature for r in second] == ["events_trend_diff_30d", "recency_days"]
    assert first[0].contribution == 0.9 and first[0].value == -3


GAP = Feature("gap_mean_days", "days", "Mean days between active days", "regularity")


def _mixed(rng: np.random.Generator, rows: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Inputs with missing values, -0.0, infinities and repeats, and contributions for them
    (every seventh row with nothing pushing the risk up)."""
    inputs = {
        "recency_days": rng.choice([np.nan, 0.0, -0.0, 3.0, 41.2, 7.5], rows),
        "share_visit_90d": rng.choice([np.nan, 0.25, 1.0], rows),
        "events_trend_diff_30d": rng.choice([-8.0, 0.0, 2.5, np.inf], rows),
        "plan": rng.choice(np.array(["free", "pro", None], dtype=object), rows),
        "gap_mean_days": rng.choice([np.nan, 6.4, 12.0], rows),
    }
    contributions = rng.normal(size=(rows, len(CATALOG) + 2)).round(2)
    contributions[::7, :-1] = -np.abs(contributions[::7, :-1])
    contributions[::5] *= rng.choice([1e-7, 1e-4, 1.0, 1e7, 1e16], (len(contributions[::5]), 1))
    return inputs, contributions


@pytest.mark.parametrize("python_words", [0, wording.PYTHON_WORDS])
def test_reasons_as_json_are_exactly_json_dumps_of_each_rows_reasons(
    python_words: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each distinct (feature, value) is worded once and rows point at it: the text must be
    what wording every cell on its own gives, -0.0 apart from 0.0, missing values alike,
    whether Arrow (a batch's many values) or Python (a request's few) writes the JSON."""
    monkeypatch.setattr(wording, "PYTHON_WORDS", python_words)
    inputs, contributions = _mixed(np.random.default_rng(4), 300)
    catalog = [*CATALOG, GAP]
    explained = explain(contributions, inputs, catalog)
    texts = explained.json().to_pylist()
    for row, reasons in enumerate(explained.reasons()):
        assert texts[row] == json.dumps([r.to_dict() for r in reasons], default=str)
        for reason in reasons:
            feature = next(f for f in catalog if f.name == reason.feature)
            value = inputs[feature.name][row]
            value = (
                None if value is None or (isinstance(value, float) and np.isnan(value)) else value
            )
            assert reason.value == value and str(reason.value) == str(value)
            companion = {"gap_mean_days": inputs["gap_mean_days"][row]}
            assert reason.sentence == sentence(feature, value, companion)
    assert explained.first_sentence().to_pylist() == [r[0].sentence for r in explained.reasons()]


def test_explanations_of_row_blocks_join_into_the_explanation_of_all_rows() -> None:
    """Batch scoring explains the store a block of rows at a time (`concat`): each row's
    reasons, first sentence and JSON, in any order, must be those of explaining all at once."""
    rng = np.random.default_rng(5)
    inputs, contributions = _mixed(rng, 300)
    catalog = [*CATALOG, GAP]
    whole = explain(contributions, inputs, catalog)
    blocks = [(0, 120), (120, 121), (121, 300)]
    joined = concat(
        [
            explain(contributions[a:b], {k: v[a:b] for k, v in inputs.items()}, catalog)
            for a, b in blocks
        ]
    )
    order = rng.permutation(300)
    assert joined.reasons() == whole.reasons()
    assert joined.json(order).to_pylist() == whole.json(order).to_pylist()
    assert joined.first_sentence(order).to_pylist() == whole.first_sentence(order).to_pylist()


FLOATS = st.floats(allow_subnormal=True) | st.floats(min_value=1e-5, max_value=1e8)


@given(st.lists(FLOATS | FLOATS.map(lambda x: -x), max_size=60))
def test_floats_are_written_exactly_as_json_writes_them(values: list[float]) -> None:
    """Reasons' contributions are written by Arrow where it writes as Python does (most of
    them) and by Python elsewhere: the text must be json.dumps's whatever the value."""
    assert float_texts(np.array(values, dtype=np.float64)).to_pylist() == [
        json.dumps(value) for value in values
    ]
