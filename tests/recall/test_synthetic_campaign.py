"""Campaign mode of the synthetic generator plants exactly the effect it is asked to."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from features.synthetic import SyntheticLog, SyntheticSpec, generate
from features.synthetic_campaign import CampaignSpec, plant_campaign, returned_in_window

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
