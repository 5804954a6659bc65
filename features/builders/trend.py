"""Whether activity is rising or falling: the latest window against the one before it."""

from __future__ import annotations

import ibis.expr.types as ir

from features.builders.reductions import active_days, ratio, window_sum
from features.spec import Column, Feature, FeatureSet

FAMILY = "trend"


def trend(past: ir.Table, spec: FeatureSet) -> list[Column]:
    days = spec.trend_window_days
    last_events = window_sum(past, "events", days)
    prev_events = window_sum(past, "events", days, skip=days)
    span = f"the last {days} days vs the {days} days before"
    columns = [
        Column(
            Feature(
                f"events_trend_ratio_{days}d",
                "ratio",
                f"Events in {span} (null if none before)",
                FAMILY,
            ),
            ratio(last_events, prev_events),
        ),
        Column(
            Feature(f"events_trend_diff_{days}d", "events", f"Change in events, {span}", FAMILY),
            last_events - prev_events,
        ),
        Column(
            Feature(
                f"active_days_trend_diff_{days}d", "days", f"Change in active days, {span}", FAMILY
            ),
            active_days(past, days) - active_days(past, days, skip=days),
        ),
    ]
    if spec.has_values:
        columns.append(
            Column(
                Feature(f"value_trend_diff_{days}d", "value", f"Change in value, {span}", FAMILY),
                window_sum(past, "value_sum", days)
                - window_sum(past, "value_sum", days, skip=days),
            )
        )
    return columns
