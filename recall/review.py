"""Did the campaign work? Treated vs control return rates per strategy, with the uplift's
95% interval, users saved, cost per saved user and return on investment.

Definitions, per strategy s over the listed users of s:
- return rate: share of the group with a returning event in [campaign date, + window);
- uplift: treated rate - control rate (Newcombe interval, see `stats`);
- saved users: uplift x treated users; value saved: saved users x mean treated user value;
- cost per saved user: treated cost / saved users; ROI: (value saved - cost) / cost;
- measured save rate: uplift / (1 - control rate), the share of would-be leavers the contact
  brought back, which is what the policy's `save_rate` means (see `policy`).
The "all strategies" row pools every listed user: valid because one control fraction applies
to all strategies. Whether those who came back stayed is `durable`'s table, kept beside.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recall.campaign_file import CampaignList
from recall.codes import TREATMENT
from recall.stats import newcombe, z_value

ALL = "all strategies"
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Review:
    campaign_id: str
    campaign_date: dt.date
    window_days: int
    observed_until: dt.date
    table: pd.DataFrame  # one row per strategy, then ALL; columns as `compare` returns
    durable: pd.DataFrame | None = None  # per strategy and outcome, as `durable.compare`

    @property
    def window_end(self) -> dt.date:
        return self.campaign_date + dt.timedelta(days=self.window_days)

    @property
    def complete(self) -> bool:
        """False while the log does not yet cover the whole window (rates still rising)."""
        return self.observed_until >= self.window_end

    @property
    def strategies(self) -> pd.DataFrame:
        return self.table[self.table.strategy != ALL]


Returned = Collection[str] | pd.Series  # ids, or a flag per listed row (aligned with it)


def _counts(users: pd.DataFrame, returned: Returned) -> pd.DataFrame:
    came_back = returned if isinstance(returned, pd.Series) else users.user_id.isin(returned)
    treated = users.group == TREATMENT
    flags = pd.DataFrame(
        {
            "strategy": users.strategy,
            "treated": treated,
            "control": ~treated,
            "returned_treated": came_back & treated,
            "returned_control": came_back & ~treated,
            "cost": users.cost.where(treated, 0.0),
            "value_treated": users.user_value.where(treated, 0.0),
        }
    )
    per_strategy = flags.groupby("strategy").sum()
    pooled = per_strategy.sum().rename(ALL).to_frame().T
    channels = users.groupby("strategy").channel.first().reindex(per_strategy.index)
    counts = pd.concat([per_strategy.assign(channel=channels), pooled.assign(channel="")])
    return counts.rename_axis("strategy").reset_index()


def compare(users: pd.DataFrame, returned: Returned) -> pd.DataFrame:
    counts = _counts(users, returned)
    treated, control = counts.treated.astype(float), counts.control.astype(float)
    difference = newcombe(
        counts.returned_treated.to_numpy(np.float64),
        counts.treated.to_numpy(np.float64),
        counts.returned_control.to_numpy(np.float64),
        counts.control.to_numpy(np.float64),
        z_value(CONFIDENCE),
    )
    uplift, low, high = (
        pd.Series(values, index=counts.index)
        for values in (difference.estimate, difference.low, difference.high)
    )
    rate_control = counts.returned_control / control.where(control > 0)
    saved = uplift * treated
    value_saved = saved * counts.value_treated / treated.where(treated > 0)
    cost = counts.cost.astype(float)
    stays_away = 1 - rate_control
    return pd.DataFrame(
        {
            "strategy": counts.strategy,
            "channel": counts.channel,
            "treated": counts.treated.astype(int),
            "control": counts.control.astype(int),
            "rate_treated": counts.returned_treated / treated.where(treated > 0),
            "rate_control": rate_control,
            "uplift": uplift,
            "ci_low": low,
            "ci_high": high,
            "significant": (low > 0) | (high < 0),
            "saved_users": saved,
            "cost": cost,
            "cost_per_saved": cost / saved.where(saved > 0),
            "value_saved": value_saved,
            "roi": (value_saved - cost) / cost.where(cost > 0),
            "measured_save_rate": uplift / stays_away.where(stays_away > 0),
            "save_rate_low": low / stays_away.where(stays_away > 0),
            "save_rate_high": high / stays_away.where(stays_away > 0),
        }
    )


def review(
    campaign: CampaignList,
    returned: Returned,
    window_days: int,
    observed_until: dt.date,
    durable: pd.DataFrame | None = None,
) -> Review:
    return Review(
        campaign_id=campaign.id,
        campaign_date=campaign.date,
        window_days=window_days,
        observed_until=observed_until,
        table=compare(campaign.users, returned),
        durable=durable,
    )
