"""What a user is worth: RFM quantile scores, the value tier they give, and user value.

Scores are quantiles over the users passed in (the whole online store), so a tier means
"top fifth of this user base", not an absolute amount. See `policy` for the value formula.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recall.policy import Rfm, Tier, UserValue
from recall.scores import TENURE


def quantile_score(values: pd.Series, quantiles: int, higher_is_better: bool) -> pd.Series:
    """1..quantiles by rank; ties share a score, so many equal zeros do not spread out."""
    share = values.rank(method="average", pct=True, ascending=higher_is_better).to_numpy()
    score = np.ceil(share * quantiles).clip(1, quantiles).astype("int64")
    return pd.Series(score, index=values.index)


def rfm_scores(frame: pd.DataFrame, rfm: Rfm) -> pd.DataFrame:
    """R, F, M scores; a missing recency counts as least recent, missing counts/value as 0."""
    recency = frame[rfm.recency].astype("float64").fillna(np.inf)
    return pd.DataFrame(
        {
            "r": quantile_score(recency, rfm.quantiles, higher_is_better=False),
            "f": quantile_score(frame[rfm.frequency].fillna(0), rfm.quantiles, True),
            "m": quantile_score(frame[rfm.monetary].fillna(0), rfm.quantiles, True),
        },
        index=frame.index,
    )


def rfm_label(scores: pd.DataFrame) -> pd.Series:
    """'R5 F3 M4': the scores as a person reads them in the list."""
    r, f, m = (scores[name].astype("str") for name in ("r", "f", "m"))
    return "R" + r + " F" + f + " M" + m


def tier_of(score: pd.Series, tiers: list[Tier]) -> pd.Series:
    """The first tier, highest first, whose min_score the R+F+M score reaches."""
    names = np.select(
        [score >= tier.min_score for tier in tiers], [tier.name for tier in tiers], default=""
    )
    return pd.Series(names, index=score.index, dtype="object")


def user_value(frame: pd.DataFrame, value: UserValue) -> pd.Series:
    tenure = frame[TENURE].astype("float64").fillna(0).clip(lower=value.min_tenure_days)
    per_day = frame[value.feature].astype("float64").fillna(0) / tenure
    return per_day * value.horizon_days * value.unit_value
