"""Today's recall list: `recall.campaign.decisions`, the function `winback recall` and the
service's /recall_list use, given the day as the campaign, the strategies' champion uplift
models, the contacts the cycle made on earlier days, and who entered a segment today
(`triggers`).

The policy's budget and channel capacities apply to each day. Its `campaign` is replaced:
the day's decisions (and control split) use the id <prefix>-<day>, and each strategy's
listed users form a campaign of their own, <prefix>-<day>-<strategy>, reviewed on its own.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa

from recall.campaign import decisions
from recall.codes import TREATMENT
from recall.policy import Campaign, RecallPolicy
from recall.selection import Champions, recall_list


def day_policy(policy: RecallPolicy, prefix: str, day: dt.date) -> RecallPolicy:
    return policy.model_copy(update={"campaign": Campaign(id=f"{prefix}-{day}", date=day)})


def decide_day(
    scores: pd.DataFrame,
    store: pa.Table,
    policy: RecallPolicy,
    champions: Champions,
    history: pd.DataFrame,
    triggered: pd.Series,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(every user's decision, the recall list: treatment and control, best first, with the
    campaign id of their strategy)."""
    decided = decisions(scores, store, policy, champions, history, triggered)
    listed = recall_list(decided)
    return decided, listed.assign(campaign_id=listed["campaign_id"] + "-" + listed["strategy"])


def contacts(listed: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """The treated users of the list as contacts, with their idempotency key."""
    treated = listed[listed["group"] == TREATMENT]
    key = treated["campaign_id"] + ":" + treated["user_id"] + ":" + treated["channel"]
    return pd.DataFrame(
        {
            "key": key.to_numpy(),
            "day": day.isoformat(),
            "campaign_id": treated["campaign_id"].to_numpy(),
            "strategy": treated["strategy"].to_numpy(),
            "user_id": treated["user_id"].to_numpy(),
            "channel": treated["channel"].to_numpy(),
            "offer": treated["offer"].to_numpy(),
            "priority": treated["priority"].astype("int64").to_numpy(),
        }
    )
