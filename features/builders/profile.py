"""Who the user is: tenure and static attributes, joined after the history is reduced."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from features.schema import SIGNUP_TS
from features.spec import Column, Feature, FeatureSet
from features.timeline import CUTOFF_TS, days_between

FAMILY = "profile"
FIRST_TS = "_first_ts"


def profile(snapshot: ir.Table, spec: FeatureSet) -> list[Column]:
    """`snapshot` has one row per user and cutoff with `_first_ts` and the users' columns.

    Tenure counts from the earlier of signup and first event, so a signup date recorded
    after the cutoff (a late-loaded users table) cannot leak into the past.
    """
    start = snapshot[FIRST_TS]
    if spec.has_signup:
        start = ibis.least(snapshot[SIGNUP_TS].fill_null(start), start)
    since = "signup (or first event)" if spec.has_signup else "first event"
    columns = [
        Column(
            Feature("tenure_days", "days", f"Days since {since}", FAMILY),
            days_between(snapshot[CUTOFF_TS], start),
        )
    ]
    for name in spec.attributes:
        columns.append(
            Column(
                Feature(
                    name,
                    "category",
                    f"User attribute '{name}' (current value from the users table)",
                    FAMILY,
                    kind="categorical",
                ),
                snapshot[name],
            )
        )
    return columns
