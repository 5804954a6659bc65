"""How often the user shows up, in recent windows and over their whole history."""

from __future__ import annotations

import ibis.expr.types as ir

from features.builders.reductions import active_days, window_sum
from features.spec import Column, Feature, FeatureSet

FAMILY = "frequency"


def frequency(past: ir.Table, spec: FeatureSet) -> list[Column]:
    columns: list[Column] = []
    for days in spec.windows_days:
        columns += [
            Column(
                Feature(f"events_{days}d", "events", f"Events in the last {days} days", FAMILY),
                window_sum(past, "events", days),
            ),
            Column(
                Feature(
                    f"active_days_{days}d",
                    "days",
                    f"Days with at least one event in the last {days} days",
                    FAMILY,
                ),
                active_days(past, days),
            ),
        ]
    return [
        *columns,
        Column(
            Feature("events_total", "events", "Events since the user was first seen", FAMILY),
            past.events.sum(),
        ),
        Column(
            Feature("active_days_total", "days", "Days with an event, ever", FAMILY),
            past.count(),
        ),
    ]
