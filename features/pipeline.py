"""The edge where config, engine and files meet the pure snapshot builder."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import ibis.expr.types as ir

from core.config import DatasetConfig
from features.engine import Engine
from features.loading import Prepared, Progress, canonical_events, canonical_users, prepare
from features.snapshots import build_snapshots
from features.spec import feature_set


def observed_until(events: ir.Table) -> dt.date:
    """First day the log does not cover: the day after its last event."""
    last = events.ts.max().to_pyarrow().as_py()
    return (last.date() if last is not None else dt.date.min) + dt.timedelta(days=1)


def snapshots(
    config: DatasetConfig,
    engine: Engine,
    cutoffs: Sequence[dt.date] | Callable[[dt.date], Sequence[dt.date]],
    until: dt.date | None = None,
    progress: Progress | None = None,
) -> tuple[ir.Table, Prepared]:
    """Snapshot table for `cutoffs` (validating sources first if they changed); `cutoffs` may
    be a function of the first day the log does not cover (training's backtest cutoffs)."""
    prepared = prepare(config, engine, progress=progress)
    events = canonical_events(engine, prepared)
    users = canonical_users(engine, prepared)
    observed = until or observed_until(events)
    table = build_snapshots(
        events,
        users,
        cutoffs(observed) if callable(cutoffs) else cutoffs,
        feature_set(config),
        config.churn,
        observed,
    )
    return table, prepared
