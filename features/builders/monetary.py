"""How much the user is worth: value summed and averaged per valued event."""

from __future__ import annotations

import ibis.expr.types as ir

from features.builders.reductions import ratio, window_sum
from features.spec import Column, Feature, FeatureSet

FAMILY = "monetary"


def monetary(past: ir.Table, spec: FeatureSet) -> list[Column]:
    if not spec.has_values:
        return []
    columns: list[Column] = []
    for days in spec.windows_days:
        total = window_sum(past, "value_sum", days)
        columns += [
            Column(
                Feature(
                    f"value_{days}d", "value", f"Value summed over the last {days} days", FAMILY
                ),
                total,
            ),
            Column(
                Feature(
                    f"value_mean_{days}d",
                    "value per valued event",
                    f"Mean value of valued events in the last {days} days (null if none)",
                    FAMILY,
                ),
                ratio(total, window_sum(past, "valued_events", days)),
            ),
        ]
    lifetime = past.value_sum.sum()
    return [
        *columns,
        Column(Feature("value_total", "value", "Lifetime value so far", FAMILY), lifetime),
        Column(
            Feature(
                "value_mean_total",
                "value per valued event",
                "Mean value of all valued events so far (null if none)",
                FAMILY,
            ),
            ratio(lifetime, past.valued_events.sum()),
        ),
    ]
