"""Time in the uplift training data: the features are those of a store version as of the
campaign date (never a later cutoff), the outcome only the events inside the window."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.config import ChurnConfig
from features.spec import Feature
from recall.returning import returned_users
from serving.online_store import StoreError, version_as_of, write_version

DATE = dt.date(2025, 9, 1)
CATALOG = [Feature("recency_days", "days", "Days since the last event", "recency")]
CHURN = ChurnConfig(
    mode="inactivity",
    horizon_days=30,
    active_window_days=60,
    lapsed_after_days=60,
    qualifying_events=["visit", "purchase"],
)


def tiny_table(cutoff: dt.date) -> pa.Table:
    return pa.table({"user_id": ["a"], "cutoff": [cutoff], "recency_days": [1.0]})


@settings(max_examples=25, deadline=None)
@given(offsets=st.lists(st.integers(-40, 40), min_size=1, max_size=5))
def test_the_campaigns_store_version_is_the_newest_at_the_latest_cutoff_not_after_it(
    offsets: list[int],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        written = [
            write_version(
                root, tiny_table(DATE + dt.timedelta(days=d)), DATE + dt.timedelta(d), CATALOG
            )
            for d in offsets
        ]
        usable = [v for v in written if dt.date.fromisoformat(v.cutoff) <= DATE]
        if not usable:
            with pytest.raises(StoreError, match="no online-store version with a cutoff on or"):
                version_as_of(root, DATE)
            return
        chosen = version_as_of(root, DATE)
        latest = max(v.cutoff for v in usable)
        assert chosen.cutoff == latest
        assert (
            chosen.version
            == max(
                (v for v in usable if v.cutoff == latest), key=lambda v: (v.created, v.version)
            ).version
        )


@settings(max_examples=40, deadline=None)
@given(
    events=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", "d"]),
            st.integers(-3 * 86_400, 20 * 86_400),
            st.sampled_from(["visit", "purchase", "cancel", "view"]),
        ),
        max_size=30,
    ),
    window=st.integers(1, 14),
)
def test_the_outcome_counts_qualifying_events_inside_the_window_only(
    events: list[tuple[str, int, str]], window: int
) -> None:
    start = pd.Timestamp(DATE)
    frame = pd.DataFrame(events, columns=["user_id", "seconds", "event"])
    frame = frame.assign(ts=start + pd.to_timedelta(frame.seconds, unit="s")).drop(
        columns="seconds"
    )
    table = ibis.memtable(
        frame.astype({"user_id": "str", "event": "str", "ts": "datetime64[us]"}),
        schema={"user_id": "string", "ts": "timestamp", "event": "string"},
    )
    found = returned_users(table, CHURN, DATE, window)
    end = start + pd.Timedelta(days=window)
    inside = frame[(frame.ts >= start) & (frame.ts < end) & frame.event.isin(["visit", "purchase"])]
    assert found == frozenset(inside.user_id)
