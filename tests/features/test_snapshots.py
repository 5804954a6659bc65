"""Every feature family on a tiny log, against values worked out by hand (see comments)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features.config import ChurnConfig
from features.engine import DuckDBEngine
from features.schema import EVENTS
from features.snapshots import build_snapshots, catalog
from features.spec import FeatureSet
from tests.features.conftest import BuildFn, events_frame

T = dt.date(2024, 3, 1)  # 2024 is a leap year: 02-29 is the day before T (age 1)
UNTIL = dt.date(2024, 4, 1)
SPEC = FeatureSet(
    windows_days=(7, 30),
    trend_window_days=7,
    event_types=("visit", "view", "purchase", "cancel"),
    has_values=True,
    has_sessions=True,
    attributes=("plan",),
    has_signup=True,
)
SPEC_NO_USERS = dataclasses.replace(SPEC, attributes=(), has_signup=False)
INACTIVITY = ChurnConfig(
    mode="inactivity",
    horizon_days=30,
    active_window_days=30,
    lapsed_after_days=60,
    min_tenure_days=14,
)
LOG = events_frame(
    [
        # a: active days 01-01 (age 60), 02-01 (29), 02-20 (10), 02-27 (3)
        ("a", "2024-01-01 10:00", "visit", 0.0, "s1"),
        ("a", "2024-02-01 09:00", "purchase", 20.0, "s2"),
        ("a", "2024-02-01 11:00", "view", 0.0, "s2"),
        ("a", "2024-02-20 08:00", "purchase", 10.0, "s3"),
        ("a", "2024-02-27 12:00", "visit", 0.0, "s4"),
        ("a", "2024-03-01 00:00", "purchase", 99.0, "s5"),  # at T: a label event, never a feature
        ("b", "2023-12-01 00:00", "visit", 0.0, None),  # 91 days before T: lapsed
        ("c", "2024-03-05 00:00", "visit", 0.0, None),  # only after T: not a user yet at T
        ("d", "2024-02-15 00:00", "visit", 0.0, None),  # active, never returns: churns
        ("e", "2024-01-15 00:00", "visit", 0.0, None),  # 46 days: neither active nor lapsed
        ("f", "2024-02-28 00:00", "visit", 0.0, None),  # signed up 02-25: too new to judge
        ("g", "2024-02-10 00:00", "visit", 0.0, None),
        ("g", "2024-02-12 00:00", "cancel", 0.0, None),  # cancelled before T
        ("h", "2024-02-10 00:00", "visit", 0.0, None),
        ("h", "2024-03-05 00:00", "cancel", 0.0, None),  # cancels inside the horizon
    ]
)
USERS = pd.DataFrame(
    {
        "user_id": ["a", "f", "z"],
        "signup_ts": pd.to_datetime(["2023-12-15", "2024-02-25", "2024-01-01"]),
        "plan": ["pro", "free", "free"],
    }
)


@pytest.fixture(scope="module")
def snapshot(build: BuildFn) -> pd.DataFrame:
    return build(LOG, [T], SPEC, INACTIVITY, UNTIL, users=USERS).set_index("user_id")


def test_users_are_those_seen_before_the_cutoff(snapshot: pd.DataFrame) -> None:
    assert sorted(snapshot.index) == ["a", "b", "d", "e", "f", "g", "h"]


def test_status_follows_the_windows(snapshot: pd.DataFrame) -> None:
    assert snapshot.status.to_dict() == {
        "a": "active",
        "b": "lapsed",
        "d": "active",
        "e": "dormant",
        "f": "new",
        "g": "active",  # inactivity mode: a cancel is just another event
        "h": "active",
    }


def test_inactivity_labels_look_only_at_the_horizon(snapshot: pd.DataFrame) -> None:
    # a buys at T (inside the window), d and g never return; qualifying_events is unset,
    # so h's cancel inside the window counts as activity. -1 marks "no label".
    assert snapshot.label.fillna(-1).to_dict() == {
        "a": 0,
        "b": -1,
        "d": 1,
        "e": -1,
        "f": -1,
        "g": 1,
        "h": 0,
    }


EXPECTED_A = {
    "recency_days": 2.5,  # T - 02-27 12:00
    "recency_valued_days": 9 + 16 / 24,  # T - 02-20 08:00
    "events_7d": 1,
    "active_days_7d": 1,
    "events_30d": 4,  # 02-27, 02-20, 02-01 (x2)
    "active_days_30d": 3,
    "events_total": 5,
    "active_days_total": 4,
    "value_7d": 0.0,
    "value_mean_7d": None,  # no valued event in 7 days
    "value_30d": 30.0,
    "value_mean_30d": 15.0,
    "value_total": 30.0,
    "value_mean_total": 15.0,
    "events_per_active_day": 5 / 4,
    "events_per_active_day_30d": 4 / 3,
    "share_visit_30d": 1 / 4,
    "share_view_30d": 1 / 4,
    "share_purchase_30d": 2 / 4,
    "share_cancel_30d": 0.0,
    "sessions_30d": 3,
    "events_per_session_30d": 4 / 3,
    "events_trend_ratio_7d": 1.0,  # 02-27 (age 3) vs 02-20 (age 10)
    "events_trend_diff_7d": 0,
    "active_days_trend_diff_7d": 0,
    "value_trend_diff_7d": -10.0,
    "gap_mean_days": 19.0,  # gaps 31, 19, 7
    "gap_std_days": 12.0,  # sample std of (31, 19, 7)
    "gap_max_days": 31.0,
    "gap_current_ratio": 2.5 / 19,
    "tenure_days": 77.0,  # since signup 2023-12-15
    "plan": "pro",
}


@pytest.mark.parametrize(("name", "expected"), EXPECTED_A.items())
def test_every_family_matches_hand_computed_values(
    snapshot: pd.DataFrame, name: str, expected: object
) -> None:
    actual = snapshot.loc["a", name]
    if expected is None:
        assert pd.isna(actual)
    elif isinstance(expected, str):
        assert actual == expected
    else:
        assert actual == pytest.approx(expected, rel=1e-12)


def test_tenure_falls_back_to_first_event_and_never_uses_a_later_signup(
    snapshot: pd.DataFrame,
) -> None:
    assert snapshot.loc["d", "tenure_days"] == 15.0  # no users row: since first event 02-15
    assert pd.isna(snapshot.loc["d", "plan"])
    assert snapshot.loc["f", "tenure_days"] == 5.0  # signup 02-25, first event 02-28


def test_catalog_lists_exactly_the_feature_columns(snapshot: pd.DataFrame) -> None:
    names = [feature.name for feature in catalog(SPEC)]
    assert names == list(snapshot.columns[3:])
    assert all(feature.description and feature.unit for feature in catalog(SPEC))


def test_event_mode_labels_cancellations_and_treats_cancelled_users_as_lapsed(
    build: BuildFn,
) -> None:
    churn = INACTIVITY.model_copy(update={"mode": "event", "churn_events": ["cancel"]})
    frame = build(LOG, [T], SPEC, churn, UNTIL, users=USERS).set_index("user_id")
    assert frame.loc["g", "status"] == "lapsed" and pd.isna(frame.loc["g", "label"])
    assert frame.loc["h", "label"] == 1
    assert frame.loc["a", "label"] == 0 and frame.loc["d", "label"] == 0


def test_written_snapshots_keep_integer_counts_as_integers(
    engine: DuckDBEngine, tmp_path: Path
) -> None:
    expr = build_snapshots(
        ibis.memtable(LOG, schema=EVENTS), None, [T], SPEC_NO_USERS, INACTIVITY, UNTIL
    )
    engine.write_parquet(expr, tmp_path / "s.parquet")
    schema = pq.read_schema(tmp_path / "s.parquet")
    assert schema.field("events_total").type == pa.int64()
    assert schema.field("events_trend_diff_7d").type == pa.int64()
    assert schema.field("label").type == pa.int8()
