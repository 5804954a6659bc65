"""Events rolled up per user and day, then split around each cutoff into past and future.

Builders only ever receive `past` (days before the cutoff) and labels only `future`
(days in [cutoff, cutoff + horizon)), so neither can see the other side of T by mistake.
Joining the daily roll-up (not raw events) with the cutoffs keeps many-cutoff builds cheap.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

CUTOFF = "cutoff"
CUTOFF_TS = "cutoff_ts"
AGE = "age_days"
DAY = "day"
GAP = "gap_days"
QUALIFYING = "n_qualifying"
CHURN = "n_churn"

MICROSECONDS_PER_DAY = 86_400_000_000


def type_column(event_type: str) -> str:
    return f"n_{event_type}"


def days_between(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.FloatingValue:
    """Elapsed days as a float, to the microsecond on DuckDB and Spark alike (Spark's epoch
    seconds drop fractions of a second, DuckDB's keep them)."""
    return later.delta(earlier, unit="microsecond") / MICROSECONDS_PER_DAY


def cutoff_table(cutoffs: Sequence[dt.date]) -> ir.Table:
    """Cutoffs are dates: T is midnight UTC, so 'day < T' and 'ts < T' say the same thing."""
    if not cutoffs:
        raise ValueError("at least one cutoff is needed")
    dates = sorted(set(cutoffs))
    table = ibis.memtable({CUTOFF: dates}, schema={CUTOFF: "date"})
    return table.mutate(**{CUTOFF_TS: table[CUTOFF].cast("timestamp")})


def daily_activity(
    events: ir.Table,
    event_types: Sequence[str],
    qualifying: Sequence[str] | None,
    churn_events: Sequence[str] | None,
) -> ir.Table:
    """One row per user and active day: counts, value, last times, and the gap since the
    previous active day (which only looks backwards, so it is safe for any cutoff)."""
    value = events.value.fill_null(0.0)
    valued = value > 0
    counts = (
        {QUALIFYING: events.count(where=events.event.isin(list(qualifying)))}
        if qualifying
        else {QUALIFYING: events.count()}
    )
    if churn_events:
        counts[CHURN] = events.count(where=events.event.isin(list(churn_events)))
    day = events.ts.date()
    rolled = events.group_by(user_id=events.user_id, **{DAY: day}).aggregate(
        events=events.count(),
        value_sum=value.sum(),
        valued_events=events.count(where=valued),
        sessions=events.session_id.nunique(),
        first_ts=events.ts.min(),
        last_ts=events.ts.max(),
        last_valued_ts=events.ts.max(where=valued),
        **counts,
        **{type_column(kind): events.count(where=events.event == kind) for kind in event_types},
    )
    previous = rolled[DAY].lag().over(group_by=rolled.user_id, order_by=rolled[DAY])
    return rolled.mutate(**{GAP: rolled[DAY].delta(previous, unit="day")})


def past(daily: ir.Table, cutoffs: ir.Table) -> ir.Table:
    """Each user-day paired with every cutoff it precedes, and how many days before it lies."""
    joined = daily.join(cutoffs, daily[DAY] < cutoffs[CUTOFF])
    return joined.mutate(**{AGE: joined[CUTOFF].delta(joined[DAY], unit="day")})


def future(daily: ir.Table, cutoffs: ir.Table, horizon_days: int) -> ir.Table:
    """Each user-day paired with every cutoff whose label window [T, T + horizon) holds it."""
    end = cutoffs[CUTOFF] + ibis.interval(days=horizon_days)
    # Cutoffs on the left: a join node structurally different from `past`'s lets Ibis share
    # the daily roll-up as one CTE instead of computing it twice (one scan of the events).
    return cutoffs.join(daily, (daily[DAY] >= cutoffs[CUTOFF]) & (daily[DAY] < end))
