"""Shared helpers: build snapshots from in-memory frames on a real DuckDB engine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import ibis
import pandas as pd
import pytest

from features.config import ChurnConfig
from features.engine import DuckDBEngine
from features.schema import EVENTS
from features.snapshots import build_snapshots
from features.spec import FeatureSet

BuildFn = Callable[..., pd.DataFrame]


def events_frame(rows: Sequence[tuple[str, str, str, float | None, str | None]]) -> pd.DataFrame:
    """(user_id, iso ts, event, value, session_id) rows as a canonical events frame."""
    frame = pd.DataFrame(rows, columns=["user_id", "ts", "event", "value", "session_id"])
    frame["ts"] = pd.to_datetime(frame["ts"]).astype("datetime64[us]")
    return frame.astype({"value": "float64"})


@pytest.fixture(scope="session")
def engine() -> DuckDBEngine:
    return DuckDBEngine(threads=2)


@pytest.fixture(scope="session")
def build(engine: DuckDBEngine) -> BuildFn:
    def run(
        events: pd.DataFrame,
        cutoffs: Sequence[dt.date],
        spec: FeatureSet,
        churn: ChurnConfig,
        observed_until: dt.date,
        users: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        table = ibis.memtable(events, schema=EVENTS)
        user_table = None if users is None else ibis.memtable(users)
        expr = build_snapshots(table, user_table, cutoffs, spec, churn, observed_until)
        frame = engine.con.to_pandas(expr)
        frame["cutoff"] = pd.to_datetime(frame["cutoff"]).dt.date
        frame["label"] = frame["label"].astype("Int8")
        return frame.reset_index(drop=True)

    return run
