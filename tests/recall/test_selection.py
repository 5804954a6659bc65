"""Selection: budget and capacities hold for any scores and policy; opted-out, recently
contacted and negative-value users are never chosen; the best net value goes first."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from recall.contacts import CONTACT_COLUMNS, read_contacts, read_opt_outs
from recall.policy import CONTACT_CHANNELS
from recall.selection import decide, summary
from tests.recall.builders import BASE_POLICY, CUTOFF, policy, users

NO_CONTACTS, NO_OPT_OUTS = read_contacts(None), read_opt_outs(None)


def priced(costs: list[float]) -> list[dict[str, object]]:
    """The base strategies with new unit costs for those that contact."""
    strategies = [dict(s) for s in BASE_POLICY["strategies"]]
    paying = [s for s in strategies if s["channel"] != "none"]
    for strategy, cost in zip(paying, costs, strict=True):
        strategy["unit_cost"] = cost
    return strategies


def random_contacts(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """A fifth of users contacted once, some days before or after the campaign date."""
    who = frame.user_id.sample(frac=0.2, random_state=rng).to_numpy()
    days_before = rng.integers(-5, 40, size=len(who))
    return pd.DataFrame(
        {
            "user_id": who,
            "channel": rng.choice(CONTACT_CHANNELS, size=len(who)),
            "contacted_at": pd.Timestamp(CUTOFF) - pd.to_timedelta(days_before, unit="D"),
        }
    )[list(CONTACT_COLUMNS)]


def random_opt_outs(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    who = frame.user_id.sample(frac=0.3, random_state=rng).to_numpy()
    return pd.DataFrame({"user_id": who, "channel": rng.choice(CONTACT_CHANNELS, size=len(who))})


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 120),
    budget=st.floats(0, 60),
    capacity=st.dictionaries(st.sampled_from(CONTACT_CHANNELS), st.integers(0, 15)),
    costs=st.lists(st.floats(0, 4), min_size=4, max_size=4),
    fraction=st.floats(0, 0.9),
    cap_days=st.integers(0, 30),
)
def test_budget_capacity_caps_and_opt_outs_always_hold(
    seed: int,
    n: int,
    budget: float,
    capacity: dict[str, int],
    costs: list[float],
    fraction: float,
    cap_days: int,
) -> None:
    rng = np.random.default_rng(seed)
    frame = users(n, seed=seed)
    contacts, opt_outs = random_contacts(frame, rng), random_opt_outs(frame, rng)
    plan = policy(
        strategies=priced(costs),
        budget=budget,
        capacity=capacity,
        control_fraction=fraction,
        frequency_cap_days=cap_days,
    )
    decisions = decide(frame, plan, contacts, opt_outs, {})

    assert sorted(decisions.user_id) == sorted(frame.user_id)
    treated = decisions[decisions.group == "treatment"]
    listed = decisions[decisions.group != "skipped"]
    assert treated.cost.sum() <= budget + 1e-9
    for channel, limit in capacity.items():
        assert (treated.channel == channel).sum() <= limit
    said_no = set(zip(opt_outs.user_id, opt_outs.channel, strict=True))
    assert not any((u, c) in said_no for u, c in zip(listed.user_id, listed.channel, strict=True))
    since = pd.Timestamp(CUTOFF) - pd.Timedelta(days=cap_days)
    recent = set(contacts.user_id[contacts.contacted_at >= since]) if cap_days else set()
    assert not recent & set(listed.user_id)
    assert (listed.expected_net_value > 0).all() and (listed.channel != "none").all()
    assert (decisions.cost[decisions.group != "treatment"] == 0).all()


def test_lapsed_users_count_as_certain_leavers_and_low_value_ones_are_let_go() -> None:
    decisions = decide(users(400), policy(), NO_CONTACTS, NO_OPT_OUTS, {}).set_index("user_id")
    lapsed = decisions[decisions.status == "lapsed"]
    assert (lapsed.churn_probability == 1.0).all()
    assert set(lapsed.skip[lapsed.tier == "low"]) == {"let_go"}
    worthless = decisions[(decisions.user_value == 0) & decisions.strategy.notna()]
    assert len(worthless) and set(worthless.skip) <= {"negative_value", "let_go"}
    assert worthless.why[worthless.skip == "negative_value"].str.contains("not worth").all()


def test_the_warning_line_can_be_a_top_percentile() -> None:
    frame = users(2_000, seed=5)
    decisions = decide(
        frame, policy(warning_line={"top_percent": 10}), NO_CONTACTS, NO_OPT_OUTS, {}
    )
    at_risk = decisions.user_id[decisions.segment == "at_risk"]
    active = frame[frame.status == "active"]
    expected = active.nlargest(round(len(active) * 0.1), "churn_probability").user_id
    assert set(at_risk) == set(expected)


def four_users() -> pd.DataFrame:
    """Four at-risk, high-value users whose net values differ only by churn probability."""
    frame = users(4)
    return frame.assign(
        status="active",
        churn_probability=[0.9, 0.8, 0.7, 0.6],
        risk_percentile=[100.0, 75.0, 50.0, 25.0],
        risk_band=["critical", "high", "medium", "low"],
        value_total=1_000.0,
        tenure_days=100.0,
        recency_days=1.0,
        active_days_total=100,
    )


def test_greedy_by_net_value_skips_what_does_not_fit_and_goes_on() -> None:
    frame = four_users()  # value 1000 / 100 days x 90 = 900 each
    strategies = [
        {
            **BASE_POLICY["strategies"][0],
            "when": {"status": "at_risk", "band": ["critical", "low"]},
        },
        {
            **BASE_POLICY["strategies"][1],
            "when": {"status": "at_risk", "band": ["high", "medium"]},
            "unit_cost": 5.0,
            "save_rate": 0.3,
        },
    ]
    plan = policy(strategies=strategies, budget=6.0, control_fraction=0)
    decisions = decide(frame, plan, NO_CONTACTS, NO_OPT_OUTS, {})
    ranked = decisions.sort_values("priority")
    # email: 0.8 x 900 x 0.3 - 5 = 211, 0.7 -> 184; sms: 0.9 x 900 x 0.2 - 1 = 161, 0.6 -> 107
    assert ranked.churn_probability.tolist() == [0.8, 0.7, 0.9, 0.6]
    assert np.allclose(ranked.expected_net_value, [211, 184, 161, 107])
    # 5 spent; 5 more does not fit in 6; 1 does; then the budget is gone
    assert ranked.group.tolist() == ["treatment", "skipped", "treatment", "skipped"]
    assert ranked.skip.tolist()[1::2] == ["over_budget", "over_budget"]
    assert decisions.cost.sum() == 6.0


def test_opted_out_and_recently_contacted_users_are_skipped_with_the_reason() -> None:
    frame = four_users()
    opt_outs = pd.DataFrame({"user_id": [frame.user_id[0]], "channel": ["sms"]})
    contacts = pd.DataFrame(
        {
            "user_id": [frame.user_id[1], frame.user_id[2]],
            "channel": ["push", "push"],
            "contacted_at": [pd.Timestamp(CUTOFF) - pd.Timedelta(days=d) for d in (3, 30)],
        }
    )
    plan = policy(frequency_cap_days=14, control_fraction=0)
    decisions = decide(frame, plan, contacts, opt_outs, {}).set_index("user_id")
    skips = decisions.skip.reindex(frame.user_id).tolist()
    assert skips[:2] == ["opted_out", "recently_contacted"] and pd.isna(skips[2])
    assert "opted out of sms" in decisions.why[frame.user_id[0]]


def test_every_listed_user_says_why_and_the_summary_adds_up() -> None:
    decisions = decide(users(3_000, seed=2), policy(budget=150.0), NO_CONTACTS, NO_OPT_OUTS, {})
    listed = decisions[decisions.group != "skipped"]
    assert listed.why.str.contains("net value").all() and listed.top_reason.notna().all()
    assert (listed.campaign_date == dt.date(2025, 9, 1)).all()
    totals = summary(decisions)
    assert totals.treatment.sum() == (listed.group == "treatment").sum()
    assert totals.control.sum() == (listed.group == "control").sum()
    assert np.isclose(totals.cost.sum(), listed.cost.sum()) and totals.cost.sum() <= 150.0


def test_only_triggered_users_are_candidates_and_tiers_still_rank_everyone() -> None:
    """The daily cycle's `triggered`: the others are skipped as not_triggered, and what the
    rest are worth (tiers, the warning line's ranking) is as without it."""
    frame = users(2_000, seed=9)
    plan = policy(warning_line={"top_percent": 30})
    everyone = decide(frame, plan, NO_CONTACTS, NO_OPT_OUTS, {}).set_index("user_id")
    triggered = pd.Series(np.random.default_rng(3).random(len(frame)) < 0.3, index=frame.index)
    some = decide(frame, plan, NO_CONTACTS, NO_OPT_OUTS, {}, triggered).set_index("user_id")
    chosen = set(frame.user_id[triggered])
    listed = some[some.group != "skipped"]
    assert set(listed.index) <= chosen and len(listed) > 0
    would = everyone[(everyone.group != "skipped") & ~everyone.index.isin(chosen)].index
    assert len(would) > 0 and (some.loc[would, "skip"] == "not_triggered").all()
    assert some.loc[would, "why"].str.contains("already").all()
    pd.testing.assert_series_equal(some.tier.sort_index(), everyone.tier.sort_index())
    pd.testing.assert_series_equal(some.segment.sort_index(), everyone.segment.sort_index())
