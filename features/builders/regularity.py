"""How regular the user's visits are, and how unusual the current silence is for them."""

from __future__ import annotations

import ibis.expr.types as ir

from features.builders.reductions import days_since, ratio
from features.spec import Column, Feature, FeatureSet
from features.timeline import GAP

FAMILY = "regularity"


def regularity(past: ir.Table, spec: FeatureSet) -> list[Column]:
    gap = past[GAP].cast("float64")
    mean_gap = gap.mean()
    return [
        Column(
            Feature(
                "gap_mean_days",
                "days",
                "Mean days between consecutive active days (null with one active day)",
                FAMILY,
            ),
            mean_gap,
        ),
        Column(
            Feature(
                "gap_std_days",
                "days",
                "Standard deviation of days between active days (null with under three)",
                FAMILY,
            ),
            gap.std(),
        ),
        Column(
            Feature("gap_max_days", "days", "Longest gap between active days so far", FAMILY),
            gap.max(),
        ),
        Column(
            Feature(
                "gap_current_ratio",
                "ratio",
                "Days since the last event relative to the user's mean gap",
                FAMILY,
            ),
            ratio(days_since(past, past.last_ts.max()), mean_gap),
        ),
    ]
