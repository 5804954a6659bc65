"""Who the cycle may choose today: users who enter a segment a strategy is for.

A user is chosen on the day they cross the warning line (segment `at_risk`) or enter a
lapsed, dormant or new state, not again while they stay in it (they would otherwise be
contacted every day the frequency cap allows), and again after they left it and came back
into it (or into another). The first cycle has nothing to compare with: everyone in a
segment enters. Segments are `recall.segments.segments`, the ones the recall list uses.
"""

from __future__ import annotations

import pandas as pd

from recall.policy import RecallPolicy
from recall.segments import segments


def segments_today(scores: pd.DataFrame, policy: RecallPolicy) -> pd.DataFrame:
    """user_id and segment (null: active below the warning line) of every scored user."""
    return pd.DataFrame(
        {
            "user_id": scores["user_id"].astype("str").to_numpy(),
            "segment": segments(scores, policy.warning_line).to_numpy(),
        }
    )


def entered(today: pd.DataFrame, before: pd.DataFrame | None) -> pd.Series:
    """True where a user is in a segment today that they were not in at the last cycle;
    aligned with `today`'s rows."""
    now = today["segment"].astype("object").fillna("")
    if before is None:
        return pd.Series((now != "").to_numpy(), index=today.index)
    earlier = before.set_index("user_id")["segment"].astype("object")
    was = today["user_id"].map(earlier).fillna("")
    return pd.Series(((now != "") & (now != was)).to_numpy(), index=today.index)
