"""How deeply the user engages when present: intensity, event mix, session depth."""

from __future__ import annotations

import ibis.expr.types as ir

from features.builders.reductions import active_days, ratio, window_sum
from features.spec import Column, Feature, FeatureSet
from features.timeline import type_column

FAMILY = "engagement"


def engagement(past: ir.Table, spec: FeatureSet) -> list[Column]:
    days = spec.longest_window
    recent_events = window_sum(past, "events", days)
    columns = [
        Column(
            Feature(
                "events_per_active_day",
                "events per day",
                "Events per active day over the whole history",
                FAMILY,
            ),
            past.events.sum() / past.count(),
        ),
        Column(
            Feature(
                f"events_per_active_day_{days}d",
                "events per day",
                f"Events per active day in the last {days} days (null if none)",
                FAMILY,
            ),
            ratio(recent_events, active_days(past, days)),
        ),
    ]
    for kind in spec.event_types:
        columns.append(
            Column(
                Feature(
                    f"share_{kind}_{days}d",
                    "fraction",
                    f"Share of '{kind}' among events in the last {days} days (null if none)",
                    FAMILY,
                ),
                ratio(window_sum(past, type_column(kind), days), recent_events),
            )
        )
    if spec.has_sessions:
        sessions = window_sum(past, "sessions", days)
        columns += [
            Column(
                Feature(
                    f"sessions_{days}d",
                    "sessions",
                    f"Sessions in the last {days} days (a session spanning midnight counts "
                    "on both days)",
                    FAMILY,
                ),
                sessions,
            ),
            Column(
                Feature(
                    f"events_per_session_{days}d",
                    "events per session",
                    f"Events per session in the last {days} days (null if none)",
                    FAMILY,
                ),
                ratio(recent_events, sessions),
            ),
        ]
    return columns
