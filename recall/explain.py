"""Why each user is or is not on the list, as one sentence operations can read.

Built column-wise (one string expression per outcome) rather than row by row: a store of a
million users must not spend minutes on prose.
"""

from __future__ import annotations

import pandas as pd

from recall.codes import (
    BELOW_LINE,
    CONTROL,
    EXPLORE,
    LET_GO,
    NEGATIVE_UPLIFT,
    NO_STRATEGY,
    NOT_TRIGGERED,
    NOT_WORTH,
    OPTED_OUT,
    OVER_BUDGET,
    OVER_CAPACITY,
    RECENT,
    SKIPPED,
    TREATMENT,
)
from recall.policy import RecallPolicy


def _fixed(values: pd.Series) -> pd.Series:
    return values.astype("float64").map("{:.2f}".format).astype("str")


def _text(values: pd.Series) -> pd.Series:
    return values.astype("object").fillna("").astype("str")


def _points(values: pd.Series) -> pd.Series:
    return (values.astype("float64") * 100).map("{:+.1f} pts".format).astype("str")


def _net_value(frame: pd.DataFrame) -> pd.Series:
    """The arithmetic of the rule that valued the user's strategy."""
    by_save_rate = (
        "net value "
        + _fixed(frame.churn_probability)
        + " x "
        + _fixed(frame.user_value)
        + " x "
        + _fixed(frame.save_rate)
        + " - "
        + _fixed(frame.unit_cost)
        + " = "
        + _fixed(frame.expected_net_value)
    )
    by_uplift = (
        "incremental net value uplift "
        + _points(frame.uplift)
        + " ("
        + _text(frame.uplift_model)
        + ") x "
        + _fixed(frame.user_value)
        + " - "
        + _fixed(frame.unit_cost)
        + " = "
        + _fixed(frame.expected_net_value)
    )
    return by_save_rate.where(frame.uplift.isna(), by_uplift)


def why(frame: pd.DataFrame, policy: RecallPolicy) -> pd.Series:
    """`frame` has the decision columns except `why`; returns one sentence per row."""
    segment = _text(frame.segment).str.replace("_", " ")
    band = (" (" + _text(frame.risk_band) + " risk)").where(frame.risk_band.notna(), "")
    who = segment + band + ", tier " + _text(frame.tier) + " (" + _text(frame.rfm) + ")"
    net = _net_value(frame)
    strategy, channel = _text(frame.strategy), _text(frame.channel)
    drawn = ("explored: " + strategy + " drawn at random among the allowed; ").where(
        frame.rule == EXPLORE, ""
    )
    capacity = _text(frame.channel.map(policy.capacity).map("{:,.0f}".format, na_action="ignore"))
    sentences = {
        TREATMENT: who + ": " + drawn + strategy + " via " + channel + "; " + net,
        CONTROL: who + ": " + drawn + "held out as control of " + strategy + "; " + net,
        BELOW_LINE: _text(frame.status) + ", not above the warning line",
        NO_STRATEGY: who + ": no strategy covers this cell",
        LET_GO: who + ": " + strategy + " lets them go",
        NEGATIVE_UPLIFT: who
        + ": "
        + strategy
        + " is predicted to lower their chance of returning; "
        + net,
        NOT_WORTH: who + ": not worth contacting; " + net,
        OPTED_OUT: who + ": opted out of " + channel,
        RECENT: who + f": contacted in the {policy.frequency_cap_days} days before the campaign",
        NOT_TRIGGERED: who
        + ": "
        + segment
        + " already at the last cycle (chosen on the day of entering)",
        OVER_BUDGET: who + f": the budget ({policy.budget:,.2f}) went to higher-value users",
        OVER_CAPACITY: who + ": " + channel + " capacity (" + capacity + ") went to others",
    }
    outcome = frame.group.where(frame.group != SKIPPED, frame.skip)
    text = pd.Series("", index=frame.index, dtype="object")
    for code, sentence in sentences.items():
        text = text.mask(outcome == code, sentence)
    return text
