"""Who gets contacted, how, and why: the one decision function the CLI and the service share.

`decide` is pure: scored users with their features (`scores.campaign_frame`), the policy,
contact history, opt-outs and the champion uplift models in (and, for the daily cycle, who
may be chosen today); one decision per user out.

Each (user, allowed strategy) is valued by one of two rules, named in the `rule` column:
- `uplift`, where the strategy has a champion uplift model: expected incremental net value =
  predicted uplift x user value - unit cost. A strategy predicted to lower a user's chance of
  returning (uplift below 0) is never chosen for them: some users react badly to contact;
- `save_rate` otherwise: churn probability x user value x save rate - unit cost.
Each user gets the allowed strategy worth most to them (channels they opted out of are not
allowed); candidates are ranked by that value and taken greedily within the budget and
channel capacities (`allocate`). Actions worth nothing or less are skipped, so low-value
leavers are let go; recently contacted users are never candidates.

`exploration` of the users with an allowed contact strategy (a stable hash) get a random one
instead, rule `explore`, whatever it is worth, and are listed first, so effects stay
measurable where the rules would never look (their cost comes out of the budget first).
A stable control group is held out of the candidates (`control`): one share for every
strategy, or each strategy's own from a power calculation (`power`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from recall.allocate import allocate
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
    RECENT,
    SAVE_RATE,
    SKIPPED,
    TREATMENT,
    UPLIFT,
)
from recall.contacts import opted_out, recently_contacted
from recall.control import uniform_draw
from recall.explain import why
from recall.policy import AT_RISK, NO_CHANNEL, RecallPolicy
from recall.power import control_share
from recall.scores import USER_ID
from recall.segments import churn_probability, segments
from recall.tiers import rfm_label, rfm_scores, tier_of, user_value
from uplift.model import Champion

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
    "rule",
    "save_rate",
    "uplift",
    "unit_cost",
    "cost",
    "expected_net_value",
    "control_share",
    "planned_mde",
    "uplift_model",
    "top_reason",
    "model_version",
    "why",
    "skip",
]
ROW = "_row"
Champions = Mapping[str, Champion]


def _strategies(policy: RecallPolicy) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "strategy": [s.name for s in policy.strategies],
            "order": range(len(policy.strategies)),
            "channel": [s.channel for s in policy.strategies],
            "offer": [s.offer for s in policy.strategies],
            "unit_cost": [s.unit_cost for s in policy.strategies],
            "save_rate": [s.expected_save_rate for s in policy.strategies],
        }
    ).set_index("strategy")


def _cells(policy: RecallPolicy) -> pd.DataFrame:
    """The allowed (cell, strategy) pairs as rows; unscored segments have band "" (none)."""
    allowed = policy.allowed()
    return pd.DataFrame(
        {
            "segment": [cell.segment for cell, _ in allowed],
            "tier": [cell.tier for cell, _ in allowed],
            "band": [cell.band or "" for cell, _ in allowed],
            "strategy": [strategy.name for _, strategy in allowed],
        },
        dtype="object",
    )


def _users(users: pd.DataFrame, policy: RecallPolicy) -> pd.DataFrame:
    """Segment, tier, probability and value of every user (before any strategy)."""
    segment = segments(users, policy.warning_line)
    rfm = rfm_scores(users, policy.rfm)
    band = users["risk_band"].astype("object").where(segment == AT_RISK)
    reason = users["top_reason"].astype("object")
    last_seen = "last seen " + users[policy.rfm.recency].round().astype("Int64").astype("str")
    return pd.DataFrame(
        {
            USER_ID: users[USER_ID].astype("str"),
            "status": users["status"],
            "segment": segment,
            "risk_band": band,
            "tier": tier_of(rfm.sum(axis=1), policy.tiers),
            "rfm": rfm_label(rfm),
            "churn_probability": churn_probability(users, segment, policy.unscored_probability),
            "user_value": user_value(users, policy.user_value),
            "top_reason": reason.where(reason.notna(), last_seen + " days ago"),
            "model_version": users["model_version"],
        },
        index=users.index,
    )


def _options(
    base: pd.DataFrame,
    users: pd.DataFrame,
    policy: RecallPolicy,
    champions: Champions,
    opt_outs: pd.DataFrame,
) -> pd.DataFrame:
    """One row per (user, allowed strategy), valued by its rule, with why it cannot be used."""
    keys = pd.DataFrame(
        {
            ROW: base.index,
            "segment": base.segment,
            "tier": base.tier,
            "band": base.risk_band.fillna(""),
        },
        dtype="object",
    )
    pairs = keys.merge(_cells(policy), on=["segment", "tier", "band"], how="inner")
    frame = (
        base.drop(columns=["segment", "tier"])
        .loc[pairs[ROW]]
        .assign(**{ROW: pairs[ROW].to_numpy(), "strategy": pairs.strategy.to_numpy()})
        .reset_index(drop=True)
        .join(_strategies(policy), on="strategy")
    )
    predicted = pd.Series(np.nan, index=frame.index)
    label = pd.Series(None, index=frame.index, dtype="object")
    for name, champion in champions.items():
        rows = frame.index[frame.strategy == name]
        if len(rows):
            inputs = users.loc[frame.loc[rows, ROW]]
            predicted[rows] = champion.model.predict(inputs)
            label[rows] = champion.label
    by_uplift = predicted.notna()
    saves = frame.churn_probability * frame.save_rate
    frame = frame.assign(
        rule=np.where(by_uplift, UPLIFT, SAVE_RATE),
        uplift=predicted,
        uplift_model=label,
        expected_saves=saves.where(~by_uplift, predicted),
    )
    frame["expected_net_value"] = frame.expected_saves * frame.user_value - frame.unit_cost
    blocked = pd.Series(None, index=frame.index, dtype="object")
    checks = [
        (LET_GO, frame.channel == NO_CHANNEL),
        (OPTED_OUT, opted_out(frame[USER_ID], frame.channel, opt_outs)),
        (NEGATIVE_UPLIFT, by_uplift & (predicted < 0)),
    ]
    for code, hit in reversed(checks):
        blocked = blocked.mask(np.asarray(hit, dtype=bool), code)
    return frame.assign(blocked=blocked)


def _best(options: pd.DataFrame) -> pd.DataFrame:
    """Per user the usable option worth most (ties: policy order); with none usable, the
    option worth most, whose block says why the user is skipped."""
    ranked = options.assign(usable=options.blocked.isna()).sort_values(
        [ROW, "usable", "expected_net_value", "order"], ascending=[True, False, False, True]
    )
    return ranked.drop_duplicates(ROW).set_index(ROW)


def _explored(options: pd.DataFrame, policy: RecallPolicy) -> pd.DataFrame:
    """Users drawn for exploration and the random contact strategy each gets (rule explore):
    any allowed one they have not opted out of, whatever it is worth."""
    campaign = policy.campaign.id
    open_ = options[options.channel.ne(NO_CHANNEL) & options.blocked.ne(OPTED_OUT)]
    users = open_.drop_duplicates(ROW)
    if policy.exploration == 0 or users.empty:
        return options.iloc[:0].set_index(ROW)
    drawn = users[uniform_draw(f"{campaign}:explore", users[USER_ID].tolist()) < policy.exploration]
    if drawn.empty:
        return options.iloc[:0].set_index(ROW)
    choices = open_[open_[ROW].isin(drawn[ROW])].sort_values([ROW, "order"])
    counts = choices.groupby(ROW).size()
    pick = np.floor(
        uniform_draw(f"{campaign}:explore-strategy", drawn[USER_ID].tolist())
        * counts.reindex(drawn[ROW]).to_numpy()
    ).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts.to_numpy())[:-1]])
    start = pd.Series(offsets, index=counts.index).reindex(drawn[ROW]).to_numpy()
    chosen = choices.iloc[start + pick]
    return chosen.assign(rule=EXPLORE, blocked=None).set_index(ROW)


def _valued(
    users: pd.DataFrame,
    policy: RecallPolicy,
    champions: Champions,
    opt_outs: pd.DataFrame,
) -> pd.DataFrame:
    """Every user with their chosen strategy and its value (before any cap)."""
    base = _users(users, policy)
    options = _options(base, users, policy, champions, opt_outs)
    chosen = _best(options)
    explored = _explored(options, policy)
    chosen = pd.concat([chosen.drop(index=explored.index), explored])
    columns = [
        "strategy",
        "order",
        "channel",
        "offer",
        "unit_cost",
        "save_rate",
        "rule",
        "uplift",
        "uplift_model",
        "expected_saves",
        "expected_net_value",
        "blocked",
    ]
    return base.join(chosen[columns])


def _ineligible(
    frame: pd.DataFrame,
    policy: RecallPolicy,
    contacts: pd.DataFrame,
    triggered: pd.Series | None,
) -> pd.Series:
    """The first reason a user cannot be a candidate, or null."""
    campaign = policy.campaign
    explored = frame.rule == EXPLORE
    waiting = pd.Series(False, index=frame.index) if triggered is None else ~triggered
    checks = [
        (BELOW_LINE, frame.segment.isna()),
        (NO_STRATEGY, frame.strategy.isna()),
        (LET_GO, frame.blocked == LET_GO),
        (NEGATIVE_UPLIFT, frame.blocked == NEGATIVE_UPLIFT),
        (NOT_WORTH, ~(frame.expected_net_value > 0) & ~explored),
        (OPTED_OUT, frame.blocked == OPTED_OUT),
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


def _allocated(candidates: pd.DataFrame, policy: RecallPolicy, shares: pd.Series) -> pd.Series:
    held_out = uniform_draw(policy.campaign.id, candidates[USER_ID].tolist()) < shares.to_numpy()
    return pd.Series(
        allocate(
            candidates.unit_cost.tolist(),
            candidates.channel.tolist(),
            held_out.tolist(),
            policy.budget,
            policy.capacity,
        ),
        index=candidates.index,
        dtype="object",
    )


def control_shares(candidates: pd.DataFrame, policy: RecallPolicy) -> tuple[pd.Series, pd.Series]:
    """Each candidate's control share and its strategy's planned minimum detectable effect.

    With `control_power`: a first allocation at `min_share` counts each strategy's listed
    users, and the power calculation splits that many. Holding out more then only lists more
    users (control users take no budget), so the groups come out at least as big as planned."""
    plan = policy.control_power
    if plan is None:
        return (
            pd.Series(policy.control_fraction, index=candidates.index),
            pd.Series(math.nan, index=candidates.index),
        )
    first = _allocated(candidates, policy, pd.Series(plan.min_share, index=candidates.index))
    listed = candidates.strategy[first.isin([TREATMENT, CONTROL])].value_counts()
    by_name = {s.name: s for s in policy.strategies}
    share, effect = {}, {}
    for name, count in listed.items():
        strategy = by_name[str(name)]
        effect[name] = plan.effect(strategy)
        share[name] = control_share(
            int(count),
            effect[name],
            plan.base_rate(strategy),
            plan.alpha,
            plan.power,
            plan.min_share,
            plan.max_share,
        )
    return (
        candidates.strategy.map(share).fillna(plan.min_share).astype("float64"),
        candidates.strategy.map(effect).astype("float64"),
    )


def decide(
    users: pd.DataFrame,
    policy: RecallPolicy,
    contacts: pd.DataFrame,
    opt_outs: pd.DataFrame,
    champions: Champions,
    triggered: pd.Series | None = None,
) -> pd.DataFrame:
    """One row per user (DECISION_COLUMNS): group treatment, control or skipped (with why).

    `champions`: strategy name -> its champion uplift model (none: every strategy by save
    rate); `users` must then carry the models' input features. `triggered` (bool, aligned
    with `users`) limits the candidates to the users the daily cycle may choose today;
    everyone still counts for tiers and the warning line's ranking."""
    frame = _valued(users, policy, champions, opt_outs)
    frame = frame.assign(skip=_ineligible(frame, policy, contacts, triggered))
    candidates = (
        frame[frame.skip.isna()]
        .assign(explored=lambda f: f.rule == EXPLORE)
        .sort_values(["explored", "expected_net_value", USER_ID], ascending=[False, False, True])
        .assign(priority=lambda f: np.arange(1, len(f) + 1))
    )
    shares, effects = control_shares(candidates, policy)
    outcomes = _allocated(candidates, policy, shares)
    chosen = outcomes.isin([TREATMENT, CONTROL])
    frame = frame.assign(
        priority=candidates.priority.reindex(frame.index).astype("Int64"),
        group=outcomes.where(chosen, SKIPPED).reindex(frame.index, fill_value=SKIPPED),
        skip=frame.skip.fillna(outcomes.where(~chosen)),
        control_share=shares.reindex(frame.index),
        planned_mde=effects.reindex(frame.index),
    )
    campaign = policy.campaign
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


def expected_saves(listed: pd.DataFrame) -> pd.Series:
    """Users each listed row is expected to bring back if treated: its predicted uplift where
    an uplift model valued it (explored users too), else probability x save rate."""
    by_save_rate = listed.churn_probability * listed.save_rate
    return by_save_rate.where(listed.uplift.isna(), listed.uplift)


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
            "expected_saves": expected_saves(listed).where(treated, 0.0),
            "expected_net_value": listed.expected_net_value.where(treated, 0.0),
        }
    )
    return per_user.groupby(["strategy", "channel"], as_index=False).sum()


def skipped_counts(decisions: pd.DataFrame) -> pd.Series:
    return decisions.skip.value_counts()
