"""Status of each user at T and the churn label, from the past and the future of T.

Status uses only reductions over the past; the label uses only the future window, and only
for users active at T whose whole label window has been observed.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from features.builders.reductions import active_days
from features.config import ChurnConfig
from features.status import ACTIVE, DORMANT, LAPSED, NEW, STATUS
from features.timeline import CHURN, CUTOFF, DAY, QUALIFYING

_RECENT = "_active_days_recent"
_SINCE_LAPSE = "_active_days_lapse_window"
_LAST_CHURN_DAY = "_last_churn_day"
_LAST_OTHER_DAY = "_last_other_day"
_FUTURE = "_future_events"


def status_reductions(past: ir.Table, churn: ChurnConfig) -> dict[str, ir.Value]:
    """What status needs from the past, reduced in the same pass as the features."""
    reductions: dict[str, ir.Value] = {
        _RECENT: active_days(past, churn.active_window_days),
        _SINCE_LAPSE: active_days(past, churn.lapsed_after_days),
    }
    if churn.churn_events:
        reductions[_LAST_CHURN_DAY] = past[DAY].max(where=past[CHURN] > 0)
        reductions[_LAST_OTHER_DAY] = past[DAY].max(where=past.events > past[CHURN])
    return reductions


def future_reductions(future: ir.Table, churn: ChurnConfig) -> dict[str, ir.Value]:
    if churn.mode == "inactivity":
        return {_FUTURE: future[QUALIFYING].sum()}
    return {_FUTURE: future[CHURN].sum()}


def status(snapshot: ir.Table, churn: ChurnConfig, tenure_days: ir.FloatingValue) -> ir.Value:
    """new (too young to judge) > lapsed (left: cancelled, or silent for lapsed_after_days)
    > active (seen within active_window_days) > dormant (between the two windows)."""
    cancelled: ir.BooleanValue = ibis.literal(False)
    if churn.churn_events:
        last_churn, last_other = snapshot[_LAST_CHURN_DAY], snapshot[_LAST_OTHER_DAY]
        cancelled = last_churn.notnull() & (last_other.isnull() | (last_churn >= last_other))
    too_new = tenure_days < churn.min_tenure_days if churn.min_tenure_days else ibis.literal(False)
    return ibis.cases(
        (too_new, NEW),
        (cancelled | (snapshot[_SINCE_LAPSE] == 0), LAPSED),
        (snapshot[_RECENT] > 0, ACTIVE),
        else_=DORMANT,
    )


def label(snapshot: ir.Table, churn: ChurnConfig, observed_until: dt.date) -> ir.Value:
    """1 = churned within the horizon; null where not active or the window is not over yet."""
    window_end = snapshot[CUTOFF] + ibis.interval(days=churn.horizon_days)
    labelable = (snapshot[STATUS] == ACTIVE) & (window_end <= ibis.literal(observed_until))
    future_events = snapshot[_FUTURE].fill_null(0)
    churned = future_events == 0 if churn.mode == "inactivity" else future_events > 0
    return ibis.ifelse(labelable, churned.cast("int8"), ibis.null("int8"))
