"""Did the campaign work? Treated vs control return rates per strategy, with the uplift's
95% interval, users saved, cost per saved user and return on investment.

Definitions, per strategy s over the listed users of s:
- return rate: share of the group with a returning event in [campaign date, + window);
- uplift: treated rate - control rate (Newcombe interval, see `stats`);
- saved users: uplift x treated users; value saved: saved users x mean treated user value;
- cost per saved user: treated cost / saved users; ROI: (value saved - cost) / cost;
- measured save rate: uplift / (1 - control rate), the share of would-be leavers the contact
  brought back, which is what the policy's `save_rate` means (see `policy`);
- MDE: the smallest uplift this strategy's group sizes find with 80% power at the observed
  control rate (`power`); power: the chance they had to find the planned MDE (`planned_mde`
  in the list, where a power calculation sized the control group).
The "all strategies" row stands the strategies side by side rather than pooling their users:
control shares differ by strategy (power-sized), and pooled groups would mix strategies in
different proportions. Its uplift is the treated-weighted mean of the strategies' uplifts and
its interval combines theirs (MOVER, Zou and Donner 2008, the construction Newcombe's own
interval is); saved users add up. Strategies without a treated or control user are left out.
Whether those who came back stayed is `durable`'s table, kept beside.

Where the list carries predicted uplift (strategies valued by an uplift model), the review
also judges that targeting on the campaign's own control group: Qini, AUUC and uplift by
decile of the prediction (`uplift.curves`), drawn in the report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recall.campaign_file import CampaignList
from recall.codes import TREATMENT
from recall.power import minimum_detectable_effect, power
from recall.stats import newcombe, z_value
from uplift.curves import HeldOut, evaluate

ALL = "all strategies"
CONFIDENCE = 0.95
POWER = 0.8
MIN_TARGETING_USERS = 100  # fewer listed users with a prediction: no Qini for the strategy
TARGETING_TOP_PERCENT = (10.0, 20.0, 30.0)
TARGETING_ROUNDS = 500


@dataclass(frozen=True)
class Review:
    campaign_id: str
    campaign_date: dt.date
    window_days: int
    observed_until: dt.date
    table: pd.DataFrame  # one row per strategy, then ALL; columns as `compare` returns
    durable: pd.DataFrame | None = None  # per strategy and outcome, as `durable.compare`
    targeting: dict[str, HeldOut] = field(default_factory=dict)  # strategy -> its Qini etc.

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


def _came_back(users: pd.DataFrame, returned: Returned) -> pd.Series:
    return returned if isinstance(returned, pd.Series) else users.user_id.isin(returned)


def _counts(users: pd.DataFrame, returned: Returned) -> pd.DataFrame:
    came_back = _came_back(users, returned)
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
    per_strategy["channel"] = users.groupby("strategy").channel.first()
    planned = users["planned_mde"] if "planned_mde" in users else pd.Series(np.nan, users.index)
    per_strategy["planned_mde"] = planned.groupby(users.strategy).max()
    return per_strategy.rename_axis("strategy").reset_index()


def _per_strategy(counts: pd.DataFrame) -> pd.DataFrame:
    treated, control = counts.treated.astype(float), counts.control.astype(float)
    difference = newcombe(
        counts.returned_treated.to_numpy(np.float64),
        counts.treated.to_numpy(np.float64),
        counts.returned_control.to_numpy(np.float64),
        counts.control.to_numpy(np.float64),
        z_value(CONFIDENCE),
    )
    rate_control = counts.returned_control / control.where(control > 0)
    sizes = list(zip(counts.treated, counts.control, rate_control, counts.planned_mde, strict=True))
    alpha = 1 - CONFIDENCE
    return pd.DataFrame(
        {
            "strategy": counts.strategy,
            "channel": counts.channel,
            "treated": counts.treated.astype(int),
            "control": counts.control.astype(int),
            "rate_treated": counts.returned_treated / treated.where(treated > 0),
            "rate_control": rate_control,
            "uplift": difference.estimate,
            "ci_low": difference.low,
            "ci_high": difference.high,
            "cost": counts.cost.astype(float),
            "value_treated": counts.value_treated.astype(float),
            "mde": [
                minimum_detectable_effect(p0, int(t), int(c), alpha, POWER)
                if pd.notna(p0)
                else np.nan
                for t, c, p0, _ in sizes
            ],
            "planned_mde": counts.planned_mde,
            "power": [
                power(mde, p0, int(t), int(c), alpha) if pd.notna(p0) and pd.notna(mde) else np.nan
                for t, c, p0, mde in sizes
            ],
        }
    )


def _all_strategies(rows: pd.DataFrame, counts: pd.DataFrame) -> pd.DataFrame:
    """The strategies side by side (see the module doc): a weighted mean with MOVER bounds."""
    known = rows[rows.uplift.notna() & rows.ci_low.notna() & rows.ci_high.notna()]
    weight = known.treated / known.treated.sum() if len(known) else known.treated
    uplift = float((weight * known.uplift).sum()) if len(known) else np.nan
    low = uplift - float(np.sqrt((weight**2 * (known.uplift - known.ci_low) ** 2).sum()))
    high = uplift + float(np.sqrt((weight**2 * (known.ci_high - known.uplift) ** 2).sum()))
    total = counts.drop(columns=["strategy", "channel", "planned_mde"]).sum()
    treated, control = float(total.treated), float(total.control)
    row = {
        "strategy": ALL,
        "channel": "",
        "treated": int(treated),
        "control": int(control),
        "rate_treated": total.returned_treated / treated if treated else np.nan,
        "rate_control": total.returned_control / control if control else np.nan,
        "uplift": uplift,
        "ci_low": low if len(known) else np.nan,
        "ci_high": high if len(known) else np.nan,
        "cost": float(total.cost),
        "value_treated": float(total.value_treated),
        "mde": np.nan,
        "planned_mde": np.nan,
        "power": np.nan,
        "saved_users": float((known.uplift * known.treated).sum()) if len(known) else np.nan,
        "saved_low": low * float(known.treated.sum()) if len(known) else np.nan,
        "saved_high": high * float(known.treated.sum()) if len(known) else np.nan,
    }
    return pd.DataFrame([row])


def compare(users: pd.DataFrame, returned: Returned) -> pd.DataFrame:
    counts = _counts(users, returned)
    rows = _per_strategy(counts).assign(
        saved_users=lambda f: f.uplift * f.treated,
        saved_low=lambda f: f.ci_low * f.treated,
        saved_high=lambda f: f.ci_high * f.treated,
    )
    table = pd.concat([rows, _all_strategies(rows, counts)], ignore_index=True)
    treated = table.treated.astype(float)
    stays_away = 1 - table.rate_control
    saved, cost = table.saved_users, table.cost
    value_saved = saved * table.value_treated / treated.where(treated > 0)
    return table.assign(
        significant=(table.ci_low > 0) | (table.ci_high < 0),
        cost_per_saved=cost / saved.where(saved > 0),
        value_saved=value_saved,
        roi=(value_saved - cost) / cost.where(cost > 0),
        measured_save_rate=table.uplift / stays_away.where(stays_away > 0),
        save_rate_low=table.ci_low / stays_away.where(stays_away > 0),
        save_rate_high=table.ci_high / stays_away.where(stays_away > 0),
    ).drop(columns="value_treated")[COLUMNS]


COLUMNS = [
    "strategy",
    "channel",
    "treated",
    "control",
    "rate_treated",
    "rate_control",
    "uplift",
    "ci_low",
    "ci_high",
    "significant",
    "saved_users",
    "saved_low",
    "saved_high",
    "cost",
    "cost_per_saved",
    "value_saved",
    "roi",
    "measured_save_rate",
    "save_rate_low",
    "save_rate_high",
    "mde",
    "planned_mde",
    "power",
]


def targeting(users: pd.DataFrame, returned: Returned) -> dict[str, HeldOut]:
    """Per strategy valued by an uplift model: how its predictions ranked the listed users."""
    if "uplift" not in users:
        return {}
    came_back = _came_back(users, returned)
    predicted = users.assign(came_back=came_back)[
        pd.to_numeric(users.uplift, errors="coerce").notna()
    ]
    judged = {}
    for strategy, group in predicted.groupby("strategy", sort=True):
        treated = (group.group == TREATMENT).to_numpy(bool)
        if len(group) < MIN_TARGETING_USERS or treated.all() or not treated.any():
            continue
        judged[str(strategy)] = evaluate(
            pd.to_numeric(group.uplift).to_numpy(np.float64),
            treated,
            group.came_back.to_numpy(bool),
            TARGETING_TOP_PERCENT,
            TARGETING_ROUNDS,
            seed=0,
        )
    return judged


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
        targeting=targeting(campaign.users, returned),
    )
