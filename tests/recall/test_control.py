"""The control group is a stable hash split: same campaign, same users held out, in the
configured share; another campaign holds out other users."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recall.contacts import read_contacts, read_opt_outs
from recall.control import in_control, uniform_draw
from recall.selection import decide
from tests.recall.builders import policy, users

IDS = [f"user-{i}" for i in range(100_000)]


def test_the_split_is_the_same_on_every_run_and_differs_between_campaigns() -> None:
    first = in_control("spring", IDS[:5_000], 0.2)
    assert np.array_equal(first, in_control("spring", IDS[:5_000], 0.2))
    assert np.array_equal(first[::-1], in_control("spring", IDS[:5_000][::-1], 0.2))
    other = in_control("autumn", IDS[:5_000], 0.2)
    assert 0.1 < np.mean(first != other) < 0.5  # about 2 x 0.2 x 0.8 = 32% disagree


@pytest.mark.parametrize("fraction", [0.05, 0.1, 0.2, 0.5])
def test_the_control_share_is_within_one_point_on_100k_users(fraction: float) -> None:
    assert abs(in_control("c-2025", IDS, fraction).mean() - fraction) < 0.01


def test_draws_are_uniform_on_the_unit_interval() -> None:
    draws = uniform_draw("c-2025", IDS)
    assert draws.min() >= 0 and draws.max() < 1
    deciles = np.histogram(draws, bins=10, range=(0, 1))[0] / len(IDS)
    assert np.all(np.abs(deciles - 0.1) < 0.005)


def test_reruns_give_identical_decisions_and_control_costs_nothing() -> None:
    frame, plan = users(20_000, seed=3), policy(control_fraction=0.2)
    runs = [decide(frame, plan, read_contacts(None), read_opt_outs(None), {}) for _ in range(2)]
    pd.testing.assert_frame_equal(runs[0], runs[1])
    listed = runs[0][runs[0].group != "skipped"]
    assert abs((listed.group == "control").mean() - 0.2) < 0.01
    treated = listed[listed.group == "treatment"]
    assert (listed.cost[listed.group == "control"] == 0).all()
    assert (treated.cost == treated.unit_cost).all()
