"""Who gets contacted, how, and why: the one decision function the CLI and the service share.

`decide` is pure: scored users with their features (`scores.campaign_frame`), the policy,
contact history and opt-outs in (and, for the daily cycle, who may be chosen today); one
decision per user out. Candidates are ranked by
expected net value = churn probability x user value x save rate - unit cost and taken
greedily within the budget and channel capacities (`allocate`). Actions worth nothing or
less are skipped, so low-value leavers are let go; opted-out and recently contacted users
are never candidates. A stable control group is held out of the candidates (`control`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recall.allocate import allocate
from recall.codes import (
    BELOW_LINE,
    CONTROL,
    LET_GO,
    NO_STRATEGY,
    NOT_TRIGGERED,
    NOT_WORTH,
    OPTED_OUT,
    RECENT,
    SKIPPED,
    TREATMENT,
)
from recall.contacts import opted_out, recently_contacted
from recall.control import in_control
from recall.explain import why
from recall.policy import AT_RISK, NO_CHANNEL, RecallPolicy
from recall.scores import USER_ID
from recall.segments import churn_probability, segments
from recall.tiers import rfm_label, rfm_scores, tier_of, user_value

DECISION_COLUMNS = [
    "campaign_id",
    "campaign_date",
    "priority",
    USER_ID,
    "group",
    "status",
    "segment",
    "risk_band",
    "tier",
    "rfm",
    "churn_probability",
    "user_value",
    "strategy",
    "channel",
    "offer",
    "save_rate",
    "unit_cost",
    "cost",
    "expected_net_value",
    "top_reason",
    "model_version",
    "why",
    "skip",
]


def _strategies(policy: RecallPolicy) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "strategy": [s.name for s in policy.strategies],
            "channel": [s.channel for s in policy.strategies],
            "offer": [s.offer for s in policy.strategies],
            "unit_cost": [s.unit_cost for s in policy.strategies],
            "save_rate": [s.expected_save_rate for s in policy.strategies],
        }
    ).set_index("strategy")


def _cells(policy: RecallPolicy) -> pd.DataFrame:
    """The strategy table as rows; unscored segments have band "" (they have none)."""
    table = policy.strategy_table()
    return pd.DataFrame(
        {
            "segment": [cell.segment for cell in table],
            "tier": [cell.tier for cell in table],
            "band": [cell.band or "" for cell in table],
            "strategy": [strategy.name for strategy in table.values()],
        },
        dtype="object",
    )


def _strategy_names(
    segment: pd.Series, tier: pd.Series, band: pd.Series, policy: RecallPolicy
) -> pd.Series:
    keys = pd.DataFrame({"segment": segment, "tier": tier, "band": band.fillna("")}, dtype="object")
    found = keys.merge(_cells(policy), how="left", on=["segment", "tier", "band"])
    return found.strategy.set_axis(segment.index)


def _valued(users: pd.DataFrame, policy: RecallPolicy) -> pd.DataFrame:
    """Segment, tier, strategy and expected net value of every user (before any cap)."""
    segment = segments(users, policy.warning_line)
    rfm = rfm_scores(users, policy.rfm)
    tier = tier_of(rfm.sum(axis=1), policy.tiers)
    band = users["risk_band"].astype("object").where(segment == AT_RISK)
    reason = users["top_reason"].astype("object")
    last_seen = "last seen " + users[policy.rfm.recency].round().astype("Int64").astype("str")
    frame = pd.DataFrame(
        {
            USER_ID: users[USER_ID].astype("str"),
            "status": users["status"],
            "segment": segment,
            "risk_band": band,
            "tier": tier,
            "rfm": rfm_label(rfm),
            "churn_probability": churn_probability(users, segment, policy.unscored_probability),
            "user_value": user_value(users, policy.user_value),
            "strategy": _strategy_names(segment, tier, band, policy),
            "top_reason": reason.where(reason.notna(), last_seen + " days ago"),
            "model_version": users["model_version"],
        },
        index=users.index,
    ).join(_strategies(policy), on="strategy")
    gain = frame.churn_probability * frame.user_value * frame.save_rate
    return frame.assign(expected_net_value=gain - frame.unit_cost)


def _ineligible(
    frame: pd.DataFrame,
    policy: RecallPolicy,
    contacts: pd.DataFrame,
    opt_outs: pd.DataFrame,
    triggered: pd.Series | None,
) -> pd.Series:
    """The first reason a user cannot be a candidate, or null."""
    campaign = policy.campaign
    waiting = pd.Series(False, index=frame.index) if triggered is None else ~triggered
    checks = [
        (BELOW_LINE, frame.segment.isna()),
        (NO_STRATEGY, frame.strategy.isna()),
        (LET_GO, frame.channel == NO_CHANNEL),
        (NOT_WORTH, ~(frame.expected_net_value > 0)),
        (OPTED_OUT, opted_out(frame[USER_ID], frame.channel, opt_outs)),
        (
            RECENT,
            recently_contacted(frame[USER_ID], contacts, campaign.date, policy.frequency_cap_days),
        ),
        (NOT_TRIGGERED, waiting.to_numpy(bool)),
    ]
    reason = pd.Series(None, index=frame.index, dtype="object")
    for code, hit in reversed(checks):  # the first check that hits names the reason
        reason = reason.mask(np.asarray(hit, dtype=bool), code)
    return reason


def decide(
    users: pd.DataFrame,
    policy: RecallPolicy,
    contacts: pd.DataFrame,
    opt_outs: pd.DataFrame,
    triggered: pd.Series | None = None,
) -> pd.DataFrame:
    """One row per user (DECISION_COLUMNS): group treatment, control or skipped (with why).

    `triggered` (bool, aligned with `users`) limits the candidates to the users the daily
    cycle may choose today; everyone still counts for tiers and the warning line's ranking."""
    frame = _valued(users, policy).assign(
        skip=lambda f: _ineligible(f, policy, contacts, opt_outs, triggered)
    )
    candidates = (
        frame[frame.skip.isna()]
        .sort_values(["expected_net_value", USER_ID], ascending=[False, True])
        .assign(priority=lambda f: np.arange(1, len(f) + 1))
    )
    campaign = policy.campaign
    outcomes = pd.Series(
        allocate(
            candidates.unit_cost.tolist(),
            candidates.channel.tolist(),
            in_control(campaign.id, candidates[USER_ID].tolist(), policy.control_fraction).tolist(),
            policy.budget,
            policy.capacity,
        ),
        index=candidates.index,
        dtype="object",
    )
    chosen = outcomes.isin([TREATMENT, CONTROL])
    frame = frame.assign(
        priority=candidates.priority.reindex(frame.index).astype("Int64"),
        group=outcomes.where(chosen, SKIPPED).reindex(frame.index, fill_value=SKIPPED),
        skip=frame.skip.fillna(outcomes.where(~chosen)),
    )
    frame = frame.assign(
        campaign_id=campaign.id,
        campaign_date=campaign.date,
        cost=frame.unit_cost.where(frame.group == TREATMENT, 0.0),
    )
    frame = frame.assign(why=why(frame, policy))
    return frame.sort_values(["priority", USER_ID], na_position="last")[DECISION_COLUMNS]


def recall_list(decisions: pd.DataFrame) -> pd.DataFrame:
    """The campaign as operations receive it: treatment and control, best first."""
    listed = decisions[decisions.group != SKIPPED]
    return listed.drop(columns="skip").reset_index(drop=True)


def summary(decisions: pd.DataFrame) -> pd.DataFrame:
    """Per strategy: users in each group, cost, expected saves and expected net value."""
    listed = recall_list(decisions)
    treated = listed.group == TREATMENT
    per_user = pd.DataFrame(
        {
            "strategy": listed.strategy,
            "channel": listed.channel,
            "treatment": treated,
            "control": ~treated,
            "cost": listed.cost,
            "expected_saves": (listed.churn_probability * listed.save_rate).where(treated, 0.0),
            "expected_net_value": listed.expected_net_value.where(treated, 0.0),
        }
    )
    return per_user.groupby(["strategy", "channel"], as_index=False).sum()


def skipped_counts(decisions: pd.DataFrame) -> pd.Series:
    return decisions.skip.value_counts()
