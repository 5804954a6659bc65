"""Correctness of time, on hypothesis-generated logs: nothing at or after T leaks into
features or status, nothing at or after T + horizon into labels, and labels match a
brute-force reading of the raw events."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.config import ChurnConfig
from features.spec import FeatureSet
from tests.features.conftest import BuildFn, events_frame

BASE = dt.datetime(2024, 1, 1)
SPAN_DAYS = 150
SPEC = FeatureSet(
    windows_days=(7, 30),
    trend_window_days=7,
    event_types=("visit", "purchase", "cancel"),
    has_values=True,
    has_sessions=True,
    attributes=(),
    has_signup=False,
)
CHURN = ChurnConfig(
    mode="inactivity",
    horizon_days=14,
    active_window_days=30,
    lapsed_after_days=45,
    qualifying_events=["visit", "purchase"],
)
UNTIL = (BASE + dt.timedelta(days=SPAN_DAYS + 30)).date()
LABEL_COLUMNS = ["label"]
SETTINGS = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)

Row = tuple[str, str, str, float | None, str | None]


def event_rows(min_day: float = 0, max_day: float = SPAN_DAYS) -> st.SearchStrategy[list[Row]]:
    row = st.tuples(
        st.sampled_from(["u0", "u1", "u2", "u3", "u4"]),
        st.integers(int(min_day * 86_400), int(max_day * 86_400) - 1).map(
            lambda s: (BASE + dt.timedelta(seconds=s)).isoformat()
        ),
        st.sampled_from(["visit", "purchase", "cancel"]),
        st.sampled_from([None, 0.0, 5.5, 20.0]),
        st.sampled_from([None, "s1", "s2"]),
    )
    return st.lists(row, min_size=1, max_size=40)


cutoff_days = st.integers(min_value=20, max_value=130)


def day(offset: int) -> dt.date:
    return (BASE + dt.timedelta(days=offset)).date()


def at_or_after(offset: int) -> st.SearchStrategy[list[Row]]:
    return event_rows(min_day=offset, max_day=SPAN_DAYS + 20)


def without(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return frame.drop(columns=columns).reset_index(drop=True)


@SETTINGS
@given(log=event_rows(), cutoff=cutoff_days, data=st.data())
def test_events_at_or_after_the_cutoff_never_change_features_or_status(
    build: BuildFn, log: list[Row], cutoff: int, data: st.DataObject
) -> None:
    later = data.draw(at_or_after(cutoff))
    before = build(events_frame(log), [day(cutoff)], SPEC, CHURN, UNTIL)
    after = build(events_frame(log + later), [day(cutoff)], SPEC, CHURN, UNTIL)
    pd.testing.assert_frame_equal(without(before, LABEL_COLUMNS), without(after, LABEL_COLUMNS))


@SETTINGS
@given(log=event_rows(), cutoff=cutoff_days, data=st.data())
def test_events_after_the_label_window_never_change_a_label(
    build: BuildFn, log: list[Row], cutoff: int, data: st.DataObject
) -> None:
    later = data.draw(at_or_after(cutoff + CHURN.horizon_days))
    before = build(events_frame(log), [day(cutoff)], SPEC, CHURN, UNTIL)
    after = build(events_frame(log + later), [day(cutoff)], SPEC, CHURN, UNTIL)
    pd.testing.assert_frame_equal(before, after)


def oracle(log: list[Row], cutoff: dt.date) -> dict[str, dict[str, object]]:
    """Status, label and a few features per user, read straight off the raw rows."""
    t = dt.datetime.combine(cutoff, dt.time())
    end = t + dt.timedelta(days=CHURN.horizon_days)
    result: dict[str, dict[str, object]] = {}
    for user in sorted({row[0] for row in log}):
        mine = [
            (dt.datetime.fromisoformat(ts), kind, value)
            for u, ts, kind, value, _ in log
            if u == user
        ]
        seen = [(ts, kind, value) for ts, kind, value in mine if ts < t]
        if not seen:
            continue
        days = sorted({ts.date() for ts, _, _ in seen})
        age = [(cutoff - d).days for d in days]
        if min(age) <= CHURN.active_window_days:
            status = "active"
        elif min(age) > CHURN.lapsed_after_days:
            status = "lapsed"
        else:
            status = "dormant"
        stays = any(t <= ts < end and kind in ("visit", "purchase") for ts, kind, _ in mine)
        label = (0 if stays else 1) if status == "active" else None
        gaps = [(b - a).days for a, b in itertools.pairwise(days)]
        result[user] = {
            "status": status,
            "label": label,
            "recency_days": (t - max(ts for ts, _, _ in seen)).total_seconds() / 86_400,
            "events_7d": sum(1 for ts, _, _ in seen if (cutoff - ts.date()).days <= 7),
            "active_days_30d": sum(1 for a in age if a <= 30),
            "value_total": sum(value or 0.0 for _, _, value in seen),
            "gap_max_days": max(gaps) if gaps else None,
            "tenure_days": (t - min(ts for ts, _, _ in seen)).total_seconds() / 86_400,
        }
    return result


def same(actual: object, expected: object) -> bool:
    if expected is None:
        return actual is None or (isinstance(actual, float) and math.isnan(actual))
    return math.isclose(float(actual), float(expected), rel_tol=1e-9, abs_tol=1e-9)  # type: ignore[arg-type]


@SETTINGS
@given(log=event_rows(), cutoff=cutoff_days)
def test_status_label_and_features_match_a_brute_force_oracle(
    build: BuildFn, log: list[Row], cutoff: int
) -> None:
    frame = build(events_frame(log), [day(cutoff)], SPEC, CHURN, UNTIL)
    expected = oracle(log, day(cutoff))
    assert sorted(frame.user_id) == sorted(expected)
    for row in frame.to_dict("records"):
        want = expected[row["user_id"]]
        assert row["status"] == want["status"], row["user_id"]
        for name, value in want.items():
            if name != "status":
                assert same(row[name], value), (row["user_id"], name, row[name], value)


@SETTINGS
@given(log=event_rows(), first=cutoff_days, gap=st.integers(1, 60))
def test_many_cutoffs_in_one_pass_equal_separate_builds(
    build: BuildFn, log: list[Row], first: int, gap: int
) -> None:
    cutoffs = [day(first), day(first + gap)]
    together = build(events_frame(log), cutoffs, SPEC, CHURN, UNTIL)
    apart = pd.concat(
        [build(events_frame(log), [cutoff], SPEC, CHURN, UNTIL) for cutoff in cutoffs],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(together, apart)


@SETTINGS
@given(log=event_rows(), cutoff=cutoff_days)
def test_labels_stay_null_until_the_whole_window_is_observed(
    build: BuildFn, log: list[Row], cutoff: int
) -> None:
    until = day(cutoff + CHURN.horizon_days - 1)
    frame = build(events_frame(log), [day(cutoff)], SPEC, CHURN, until)
    assert frame.label.isna().all()
