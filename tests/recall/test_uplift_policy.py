"""The policy by incremental value: uplift models value their strategies, negative predicted
uplift is never contacted, the best allowed strategy wins, the save-rate rule stays where no
model exists, exploration keeps every strategy measured, power sizes each control group."""

from __future__ import annotations

import datetime as dt

import lightgbm as lgb
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from artifact.model import FeatureInfo
from recall.contacts import read_contacts, read_opt_outs
from recall.selection import decide
from tests.recall.builders import BASE_POLICY, policy, users
from uplift.model import Champion, Term, UpliftMetadata, UpliftModel

NO_CONTACTS, NO_OPT_OUTS = read_contacts(None), read_opt_outs(None)
RECENCY = FeatureInfo(name="recency_days", unit="days", description="d", family="recency")


def model(strategy: str, recent: float, later: float, split: float = 30.0) -> Champion:
    """Uplift `recent` for users seen in the last `split` days, `later` for the others: one
    two-leaf LightGBM tree, as a fitted model's boosters are read."""
    x = np.linspace(0, 2 * split, 400).reshape(-1, 1)
    y = np.where(x[:, 0] < split, recent, later)
    params = {"objective": "regression", "num_leaves": 2, "learning_rate": 1.0, "verbose": -1}
    params |= {"min_data_in_leaf": 1, "min_data_in_bin": 1, "boost_from_average": False}
    booster = lgb.train(params, lgb.Dataset(x, y), num_boost_round=1)
    metadata = UpliftMetadata(
        name=f"test-uplift-{strategy}",
        strategy=strategy,
        campaign_id="earlier",
        campaign_date=dt.date(2025, 6, 1),
        window_days=14,
        store_version="v0",
        learner="x",
        features=[RECENCY],
        terms=[Term(file="booster_0.txt", weight=1.0)],
        treated_share=0.5,
        treated=1000,
        control=1000,
    )
    return Champion(UpliftModel([booster], metadata), "3")


def test_negative_predicted_uplift_is_never_contacted_and_the_rule_is_named() -> None:
    frame = users(3_000, seed=1)
    champions = {"rescue_email": model("rescue_email", 0.2, -0.1)}
    decisions = decide(frame, policy(), NO_CONTACTS, NO_OPT_OUTS, champions)
    email = decisions[decisions.strategy == "rescue_email"]
    listed = email[email.group != "skipped"]
    assert len(listed) and set(listed.rule) == {"uplift"}
    assert (listed.uplift > 0).all()
    pushed_away = email[email.uplift < 0]
    assert len(pushed_away) and set(pushed_away.skip) <= {"negative_uplift", "below_warning_line"}
    assert (pushed_away.group == "skipped").all()
    assert (
        pushed_away.why[pushed_away.skip == "negative_uplift"]
        .str.contains("predicted to lower their chance of returning")
        .all()
    )
    # incremental net value = uplift x value - cost, and it says so with the model's version
    assert np.allclose(listed.expected_net_value, listed.uplift * listed.user_value - 0.3)
    assert listed.why.str.contains("incremental net value uplift +20.0 pts", regex=False).all()
    assert (listed.uplift_model == "test-uplift-rescue_email v3").all()
    # strategies without a model keep the save-rate rule
    others = decisions[(decisions.group != "skipped") & (decisions.strategy != "rescue_email")]
    assert len(others) and set(others.rule) == {"save_rate"} and others.uplift.isna().all()


def test_without_models_the_decisions_are_the_save_rate_rule() -> None:
    frame = users(2_000, seed=2)
    decisions = decide(frame, policy(), NO_CONTACTS, NO_OPT_OUTS, {})
    listed = decisions[decisions.group != "skipped"]
    assert set(listed.rule) == {"save_rate"}
    gain = listed.churn_probability * listed.user_value * listed.save_rate - listed.unit_cost
    assert np.allclose(listed.expected_net_value, gain)


def two_strategies_for_at_risk() -> list[dict[str, object]]:
    """Email and SMS both allowed for every at-risk user."""
    email = {**BASE_POLICY["strategies"][1], "when": {"status": "at_risk"}}
    sms = {**BASE_POLICY["strategies"][0], "when": {"status": "at_risk"}}
    return [sms, email]


def test_each_user_gets_the_allowed_strategy_worth_most_to_them() -> None:
    frame = users(3_000, seed=3)
    champions = {
        "rescue_sms": model("rescue_sms", 0.30, 0.01),  # strong, but only for recent users
        "rescue_email": model("rescue_email", 0.05, 0.05),
    }
    opted = frame.user_id[frame.status == "active"].iloc[:50]
    opt_outs = pd.DataFrame({"user_id": opted, "channel": "sms"})
    plan = policy(strategies=two_strategies_for_at_risk())
    decisions = decide(frame, plan, NO_CONTACTS, opt_outs, champions).set_index("user_id")
    at_risk = decisions[decisions.segment == "at_risk"].join(
        frame.set_index("user_id").recency_days
    )
    value = at_risk.user_value
    sms_gain = np.where(at_risk.recency_days < 30, 0.30, 0.01) * value - 1.0
    email_gain = 0.05 * value - 0.3
    best = np.where(sms_gain > email_gain, "rescue_sms", "rescue_email")
    clear = np.abs(sms_gain - email_gain) > 1e-3  # boosters predict to float precision
    free = ~at_risk.index.isin(opted)
    assert (at_risk.strategy[free & clear] == best[free & clear]).all()
    assert {"rescue_sms", "rescue_email"} == set(at_risk.strategy[free])
    assert (at_risk.strategy[~free] == "rescue_email").all()  # sms is not allowed for them


def test_an_exploration_share_gets_random_allowed_strategies_first_in_the_list() -> None:
    frame = users(4_000, seed=4)
    champions = {"rescue_email": model("rescue_email", 0.2, -0.1)}
    plan = policy(strategies=two_strategies_for_at_risk(), exploration=0.2)
    decisions = decide(frame, plan, NO_CONTACTS, NO_OPT_OUTS, champions)
    explored = decisions[decisions.rule == "explore"]
    candidates = decisions[decisions.priority.notna()]
    reachable = decisions[decisions.channel.notna() & (decisions.channel != "none")]
    assert 0.15 < len(explored) / len(reachable) < 0.25
    assert set(explored.strategy) == {"rescue_sms", "rescue_email"}
    assert (explored.uplift < 0).any()  # explored whatever the model predicts
    assert explored.priority.max() < candidates[candidates.rule != "explore"].priority.min()
    again = decide(frame, plan, NO_CONTACTS, NO_OPT_OUTS, champions)
    pd.testing.assert_frame_equal(decisions, again)


def test_each_strategy_gets_a_power_sized_control_share() -> None:
    frame = users(20_000, seed=5)
    power = {"minimum_detectable_effect": 0.05, "expected_return_rate": 0.3}
    strategies = [dict(s) for s in BASE_POLICY["strategies"]]
    strategies[1]["minimum_detectable_effect"] = 0.15  # rescue_email: a bigger effect suffices
    plan = policy(strategies=strategies, control_power=power)
    decisions = decide(frame, plan, NO_CONTACTS, NO_OPT_OUTS, {})
    listed = decisions[decisions.group != "skipped"]
    shares = listed.groupby("strategy").control_share.agg(["min", "max", "size"])
    assert (shares["min"] == shares["max"]).all() and shares["min"].between(0.05, 0.5).all()
    assert shares.loc["rescue_email", "min"] < shares.loc["rescue_sms", "min"]
    held_out = listed.groupby("strategy").group.apply(lambda g: (g == "control").mean())
    assert (abs(held_out - shares["min"]) < 0.06).all()
    assert set(listed.planned_mde[listed.strategy == "rescue_email"]) == {0.15}


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 150),
    budget=st.floats(0, 40),
    uplifts=st.lists(st.floats(-0.3, 0.5), min_size=2, max_size=2),
    exploration=st.sampled_from([0.0, 0.1, 0.5]),
)
def test_budget_opt_outs_and_negative_uplift_hold_for_any_models(
    seed: int, n: int, budget: float, uplifts: list[float], exploration: float
) -> None:
    frame = users(n, seed=seed)
    rng = np.random.default_rng(seed)
    opted = frame.user_id.sample(frac=0.3, random_state=rng)
    opt_outs = pd.DataFrame({"user_id": opted, "channel": rng.choice(["sms", "email"], len(opted))})
    champions = {"rescue_sms": model("rescue_sms", *uplifts)}
    plan = policy(strategies=two_strategies_for_at_risk(), budget=budget, exploration=exploration)
    decisions = decide(frame, plan, NO_CONTACTS, opt_outs, champions)
    assert sorted(decisions.user_id) == sorted(frame.user_id)
    listed = decisions[decisions.group != "skipped"]
    assert listed.cost.sum() <= budget + 1e-9
    said_no = set(zip(opt_outs.user_id, opt_outs.channel, strict=True))
    assert not any((u, c) in said_no for u, c in zip(listed.user_id, listed.channel, strict=True))
    chosen = listed[listed.rule != "explore"]
    assert (chosen.expected_net_value > 0).all() and not (chosen.uplift < 0).any()
