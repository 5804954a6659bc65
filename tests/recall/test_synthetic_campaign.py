"""Campaign mode of the synthetic generator plants exactly the effect it is asked to, also
effects that depend on features (shares of would-be leavers or returners), with the truth."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.synthetic import SyntheticLog, SyntheticSpec, generate
from features.synthetic_campaign import (
    CampaignSpec,
    Condition,
    EffectRule,
    parse_effects,
    plant_campaign,
    returned_in_window,
)

SPEC = CampaignSpec(date=dt.date(2025, 6, 1), window_days=14, uplift={"a": 0.3}, seed=4)


@pytest.fixture(scope="module")
def log() -> SyntheticLog:
    return generate(SyntheticSpec(users=3_000, days=240, seed=5))


def assignment(log: SyntheticLog) -> pd.DataFrame:
    """Every user listed: alternate strategies a (uplift 0.3) and b (none), half control."""
    ids = log.users.user_id
    return pd.DataFrame(
        {
            "user_id": ids,
            "strategy": np.where(np.arange(len(ids)) % 2 == 0, "a", "b"),
            "group": np.where(np.arange(len(ids)) % 4 < 2, "treatment", "control"),
        }
    )


def test_only_treated_users_of_strategies_with_uplift_get_visits(log: SyntheticLog) -> None:
    planted = plant_campaign(log, assignment(log), SPEC)
    outcomes = planted.outcomes
    hit = outcomes[outcomes.planted]
    assert set(hit.strategy) == {"a"} and set(hit.group) == {"treatment"}
    assert not hit.returned_anyway.any()
    added = planted.log.events.merge(log.events, how="left", indicator=True)
    added = added[added["_merge"] == "left_only"]
    assert len(added) == len(hit) and set(added.user_id) == set(hit.user_id)
    assert added.ts.between(SPEC.start, SPEC.end, inclusive="left").all()
    assert (added.event == "visit").all() and planted.log.events.ts.is_monotonic_increasing


def test_the_treated_return_rate_rises_by_the_planted_uplift(log: SyntheticLog) -> None:
    planted = plant_campaign(log, assignment(log), SPEC)
    back = returned_in_window(planted.log.events, SPEC)
    treated_a = planted.outcomes.query("strategy == 'a' and group == 'treatment'")
    before, after = treated_a.returned_anyway.sum(), treated_a.user_id.isin(back).sum()
    assert after - before == round(0.3 * len(treated_a))


def test_planting_is_deterministic_and_refuses_impossible_uplifts(log: SyntheticLog) -> None:
    first = plant_campaign(log, assignment(log), SPEC).log.events
    pd.testing.assert_frame_equal(first, plant_campaign(log, assignment(log), SPEC).log.events)
    impossible = CampaignSpec(date=SPEC.date, window_days=14, uplift={"a": 0.99})
    with pytest.raises(ValueError, match=r"cannot plant uplift 0\.99 for a"):
        plant_campaign(log, assignment(log), impossible)


def features_of(log: SyntheticLog) -> pd.DataFrame:
    """A made-up feature per user (as the store would hold on the campaign date)."""
    ids = log.users.user_id
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {"user_id": ids, "gap": rng.uniform(0, 6, len(ids)), "plan": log.users.plan.to_numpy()}
    )


RULES = (
    EffectRule(-0.5, (Condition("plan", levels=("free",)),), strategy="a"),
    EffectRule(0.6, (Condition("gap", low=2.0, high=4.0),)),
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    up=st.floats(0.0, 1.0),
    down=st.floats(-1.0, 0.0),
    low=st.floats(0.0, 3.0),
    seed=st.integers(0, 1_000),
)
def test_feature_rules_plant_shares_of_leavers_and_returners(
    log: SyntheticLog, up: float, down: float, low: float, seed: int
) -> None:
    rules = (
        EffectRule(down, (Condition("plan", levels=("free",)),), strategy="a"),
        EffectRule(up, (Condition("gap", low=low, high=low + 2),)),
    )
    spec = CampaignSpec(SPEC.date, 14, {"b": 0.05}, seed, effects=rules)
    planted = plant_campaign(log, assignment(log), spec, features_of(log))
    truth = planted.outcomes.merge(features_of(log), on="user_id")
    free_a = (truth.plan == "free") & (truth.strategy == "a")
    window = ~free_a & truth.gap.between(low, low + 2, inclusive="left")
    assert np.allclose(truth.effect[free_a], down) and np.allclose(truth.effect[window], up)
    assert (
        truth.effect[~free_a & ~window]
        == np.where(truth.strategy == "b", 0.05, 0.0)[~free_a & ~window]
    ).all()
    treated = truth.group == "treatment"
    assert not truth[~treated].planted.any() and not truth[~treated].driven_away.any()
    for cell, share in ((free_a, down), (window & (truth.strategy == "a"), up)):
        members = truth[cell & treated]
        pool = members[~members.returned_anyway] if share > 0 else members[members.returned_anyway]
        moved = members.planted.sum() if share > 0 else members.driven_away.sum()
        assert moved == round(abs(share) * len(pool))
    back = returned_in_window(planted.log.events, spec)
    gone = set(truth.user_id[truth.driven_away])
    assert not gone & back  # their returns inside the window are gone
    before = log.events[log.events.user_id.isin(gone) & (log.events.ts < spec.start)]
    after = planted.log.events[planted.log.events.user_id.isin(gone)]
    assert len(before) == (after.ts < spec.start).sum()  # and nothing else of theirs


def test_effect_files_are_read_and_mistakes_name_the_rule(log: SyntheticLog) -> None:
    rules = parse_effects(
        [{"share": 0.6, "when": {"gap": [2, None], "plan": ["free", "basic"]}, "strategy": "a"}],
        "effects.yaml",
    )
    assert rules == (
        EffectRule(
            0.6,
            (Condition("gap", low=2.0, high=None), Condition("plan", levels=("free", "basic"))),
            "a",
        ),
    )
    with pytest.raises(ValueError, match=r"effects.yaml: rule 1: .*share must be in \[-1, 1\]"):
        parse_effects([{"share": 2}], "effects.yaml")
    with pytest.raises(ValueError, match=r"effects\.yaml: rule 2: when\.gap: give"):
        parse_effects([{"share": 0.1}, {"share": 0.1, "when": {"gap": [1, 2, 3]}}], "effects.yaml")
    with pytest.raises(ValueError, match="effect rules on features need the users' features"):
        plant_campaign(log, assignment(log), CampaignSpec(SPEC.date, 7, effects=RULES))
