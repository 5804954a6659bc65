"""The generated DuckDB and Spark SQL is stored, so a changed query shows up in review.

Regenerate after an intended change with `WINBACK_UPDATE_SQL=1 pytest tests/features`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import ibis
import pytest

from features.config import ChurnConfig
from features.schema import EVENTS
from features.snapshots import build_snapshots
from features.spec import FeatureSet

HERE = Path(__file__).parent / "sql"
SPEC = FeatureSet(
    windows_days=(7, 30),
    trend_window_days=7,
    event_types=("visit", "purchase"),
    has_values=True,
    has_sessions=True,
    attributes=("plan",),
    has_signup=True,
)
CHURN = ChurnConfig(mode="inactivity", horizon_days=30, active_window_days=30, lapsed_after_days=60)


def generated_sql(dialect: str) -> str:
    events = ibis.table(EVENTS, name="events")
    users = ibis.table(
        {"user_id": "string", "signup_ts": "timestamp", "plan": "string"}, name="users"
    )
    expr = build_snapshots(
        events, users, [dt.date(2024, 3, 1), dt.date(2024, 4, 1)], SPEC, CHURN, dt.date(2024, 6, 1)
    )
    # The backend's own compiler (PySpark's needs its backend loaded, not a running Spark).
    sql = getattr(ibis, dialect).compile(expr, pretty=True)
    sql = re.sub(r"ibis_pandas_memtable_\w+", "cutoffs", sql)
    return re.sub(r"EXCLUDE \(([^)]*)\)", _sorted_list, sql) + "\n"


def _sorted_list(match: re.Match[str]) -> str:
    """Ibis keeps dropped columns in a frozenset, so EXCLUDE lists come in hash order."""
    return f"EXCLUDE ({', '.join(sorted(match.group(1).split(', ')))})"


@pytest.mark.parametrize("dialect", ["duckdb", "pyspark"])
def test_generated_sql_matches_the_reviewed_snapshot(dialect: str) -> None:
    path = HERE / f"snapshots_{dialect}.sql"
    sql = generated_sql(dialect)
    if os.environ.get("WINBACK_UPDATE_SQL"):
        path.write_text(sql)
    assert path.exists(), f"no snapshot yet: run with WINBACK_UPDATE_SQL=1 to write {path}"
    assert sql == path.read_text()


def test_events_are_scanned_once_for_features_and_labels() -> None:
    """past and future share the daily roll-up; an Ibis upgrade must not duplicate it."""
    assert generated_sql("duckdb").count('FROM "events"') == 1
