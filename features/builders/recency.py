"""How long since the user was last seen: the strongest single churn signal."""

from __future__ import annotations

import ibis.expr.types as ir

from features.builders.reductions import days_since
from features.spec import Column, Feature, FeatureSet

FAMILY = "recency"


def recency(past: ir.Table, spec: FeatureSet) -> list[Column]:
    columns = [
        Column(
            Feature("recency_days", "days", "Days since the last event", FAMILY),
            days_since(past, past.last_ts.max()),
        )
    ]
    if spec.has_values:
        columns.append(
            Column(
                Feature(
                    "recency_valued_days",
                    "days",
                    "Days since the last event with a positive value (null if none yet)",
                    FAMILY,
                ),
                days_since(past, past.last_valued_ts.max()),
            )
        )
    return columns
