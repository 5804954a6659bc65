"""Who came back: a returning event is one that counts as staying in the churn definition
(`qualifying_events`), or, without that list, any event that is not a churn event: a
cancellation is no return."""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from features.config import ChurnConfig


def is_return(events: ir.Table, churn: ChurnConfig) -> ir.BooleanValue:
    if churn.qualifying_events:
        return events.event.isin(churn.qualifying_events)
    if churn.churn_events:
        return ~events.event.isin(churn.churn_events)
    return ibis.literal(True)


def returned_users(
    events: ir.Table, churn: ChurnConfig, start: dt.date, days: int
) -> frozenset[str]:
    """Users with a returning event in [start, start + days)."""
    begin = dt.datetime.combine(start, dt.time())
    end = begin + dt.timedelta(days=days)
    window = events.filter(events.ts >= begin, events.ts < end, is_return(events, churn))
    ids = window.select("user_id").distinct().to_pyarrow()["user_id"]
    return frozenset(ids.to_pylist())
