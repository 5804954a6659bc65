"""Point-in-time snapshots: one row per user and cutoff with status, label and features.

All history features are reductions over the same `past` table, so the whole feature set
is one GROUP BY; the catalog is read off the same builders, so it cannot drift from the data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import ibis
import ibis.expr.types as ir

from features.builders.engagement import engagement
from features.builders.frequency import frequency
from features.builders.monetary import monetary
from features.builders.profile import FIRST_TS, profile
from features.builders.recency import recency
from features.builders.regularity import regularity
from features.builders.trend import trend
from features.config import ChurnConfig
from features.labels import future_reductions, label, status, status_reductions
from features.schema import EVENTS, SIGNUP_TS, USERS_KEY
from features.spec import Column, Feature, FeatureSet
from features.status import LABEL, STATUS
from features.timeline import (
    CUTOFF,
    CUTOFF_TS,
    cutoff_table,
    daily_activity,
    future,
    past,
)

HistoryBuilder = Callable[[ir.Table, FeatureSet], list[Column]]
HISTORY_BUILDERS: tuple[HistoryBuilder, ...] = (
    recency,
    frequency,
    monetary,
    engagement,
    trend,
    regularity,
)
KEYS = ("user_id", CUTOFF)


def history_columns(past_days: ir.Table, spec: FeatureSet) -> list[Column]:
    return [column for build in HISTORY_BUILDERS for column in build(past_days, spec)]


def _with_users(reduced: ir.Table, users: ir.Table | None, spec: FeatureSet) -> ir.Table:
    wanted = ([SIGNUP_TS] if spec.has_signup else []) + list(spec.attributes)
    if not wanted:
        return reduced
    if users is None:
        raise ValueError("the feature set needs a users table but none was given")
    profile_columns = users.select(USERS_KEY, *wanted)
    joined = reduced.left_join(profile_columns, reduced.user_id == profile_columns[USERS_KEY])
    return joined.drop(f"{USERS_KEY}_right")


def build_snapshots(
    events: ir.Table,
    users: ir.Table | None,
    cutoffs: Sequence[dt.date],
    spec: FeatureSet,
    churn: ChurnConfig,
    observed_until: dt.date,
) -> ir.Table:
    """Features see only events before each cutoff; labels only [cutoff, cutoff + horizon).

    `observed_until` is the first day not covered by the log: a label is set only when its
    whole window lies before it, so a label never depends on how far the log happens to reach.
    """
    daily = daily_activity(events, spec.event_types, churn.qualifying_events, churn.churn_events)
    cuts = cutoff_table(cutoffs)
    past_days = past(daily, cuts)
    features = history_columns(past_days, spec)
    reduced = past_days.group_by(list(KEYS)).aggregate(
        **{column.feature.name: column.expr for column in features},
        **status_reductions(past_days, churn),
        **{CUTOFF_TS: past_days[CUTOFF_TS].max(), FIRST_TS: past_days.first_ts.min()},
    )
    ahead = future(daily, cuts, churn.horizon_days)
    outcomes = ahead.group_by(list(KEYS)).aggregate(**future_reductions(ahead, churn))
    joined = reduced.left_join(outcomes, list(KEYS)).drop(*(f"{key}_right" for key in KEYS))
    snapshot = _with_users(joined, users, spec)
    profile_columns = profile(snapshot, spec)
    tenure = next(c.expr for c in profile_columns if c.feature.name == "tenure_days")
    snapshot = snapshot.mutate(
        **{STATUS: status(snapshot, churn, tenure)},
        **{column.feature.name: column.expr for column in profile_columns},
    )
    snapshot = snapshot.mutate(**{LABEL: label(snapshot, churn, observed_until)})
    names = [column.feature.name for column in features + profile_columns]
    return snapshot.select(*KEYS, STATUS, LABEL, *names).order_by([CUTOFF, "user_id"])


def catalog(spec: FeatureSet) -> list[Feature]:
    """Every feature the config produces, read off the builders on an unbound table."""
    churn = ChurnConfig(
        mode="inactivity", horizon_days=1, active_window_days=1, lapsed_after_days=1
    )
    events = ibis.table(EVENTS, name="events")
    daily = daily_activity(events, spec.event_types, None, None)
    past_days = past(daily, cutoff_table([dt.date(2000, 1, 1)]))
    reduced = past_days.group_by(list(KEYS)).aggregate(
        **status_reductions(past_days, churn),
        **{CUTOFF_TS: past_days[CUTOFF_TS].max(), FIRST_TS: past_days.first_ts.min()},
    )
    users_schema = {USERS_KEY: "string", SIGNUP_TS: "timestamp"} | {
        name: "string" for name in spec.attributes
    }
    users = ibis.table(users_schema, name="users") if users_schema.keys() - {USERS_KEY} else None
    snapshot = _with_users(reduced, users, spec)
    return [c.feature for c in history_columns(past_days, spec) + profile(snapshot, spec)]
