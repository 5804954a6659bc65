"""Lifecycle segment and churn probability of each user: who is at risk, who has left.

Active users above the warning line are `at_risk`; active users below it are not candidates
(segment null). Lapsed, new and dormant users keep their status as segment and get the
policy's assumed probability, since the model does not score them.
"""

from __future__ import annotations

import pandas as pd

from features.status import ACTIVE, DORMANT, LAPSED, NEW
from recall.policy import AT_RISK, UnscoredProbability, WarningLine

UNSCORED = (LAPSED, NEW, DORMANT)


def above_warning_line(frame: pd.DataFrame, line: WarningLine) -> pd.Series:
    """Active users at or above the probability, or among the riskiest top_percent of the
    active users in `frame` (ranked here, so the share is exact whatever the score's scale)."""
    risk = frame["churn_probability"].astype("float64").where(frame["status"] == ACTIVE)
    if line.probability is not None:
        return (risk >= line.probability).fillna(False).astype(bool)
    share = risk.rank(ascending=False, method="min", pct=True)
    return (share <= (line.top_percent or 0) / 100).fillna(False).astype(bool)


def segments(frame: pd.DataFrame, line: WarningLine) -> pd.Series:
    status = frame["status"]
    at_risk = (status == ACTIVE) & above_warning_line(frame, line)
    segment = pd.Series(None, index=frame.index, dtype="object")
    unscored = status.isin(UNSCORED)
    segment[unscored] = status[unscored]
    segment[at_risk] = AT_RISK
    return segment


def churn_probability(
    frame: pd.DataFrame, segment: pd.Series, assumed: UnscoredProbability
) -> pd.Series:
    """The model's probability for at-risk users, the assumed one for unscored segments."""
    fixed = segment.map(assumed.model_dump()).astype("float64")
    scored = frame["churn_probability"].astype("float64")
    return scored.where(segment == AT_RISK, fixed)
