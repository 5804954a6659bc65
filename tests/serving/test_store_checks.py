"""Which new store versions need a person's --force: none of their users, none active, or a
share of active users far from the live version's."""

from __future__ import annotations

import pytest

from serving.config import ServingConfig
from serving.online_store import StoreVersion
from serving.store_checks import population_problem

SETTINGS = ServingConfig()


def version(name: str, active: int, other: int) -> StoreVersion:
    counts = {"active": active, "lapsed": other}
    statuses = {status: count for status, count in counts.items() if count}  # as counted
    return StoreVersion(
        version=name,
        cutoff="2025-08-01",
        rows=active + other,
        feature_set="x",
        features=[],
        created="2025-08-01T00:00:00",
        folder="/nowhere",
        statuses=statuses,
    )


LIVE = version("live", 400, 600)  # 40% active


def test_a_store_without_users_is_refused_even_as_the_first_one() -> None:
    problem = population_problem(version("new", 0, 0), None, SETTINGS)
    assert problem == "no user has an event before the cutoff 2025-08-01"


def test_a_store_without_active_users_is_refused_and_says_who_is_there() -> None:
    problem = population_problem(version("new", 0, 1000), None, SETTINGS)
    assert problem == "no user is active at the cutoff 2025-08-01 (lapsed 1,000)"


@pytest.mark.parametrize(
    ("active", "other", "refused"),
    [
        (400, 600, False),
        (250, 750, False),  # 25%: within 0.25 and a factor 2
        (190, 810, True),  # 19%: less than half of 40%
        (660, 340, True),  # 66%: more than 0.25 above
        (640, 360, False),
    ],
)
def test_a_share_of_active_users_far_from_the_live_one_is_refused(
    active: int, other: int, refused: bool
) -> None:
    problem = population_problem(version("new", active, other), LIVE, SETTINGS)
    assert (problem is not None) == refused
    if problem is not None:
        assert f"{active:,} of 1,000 users active" in problem
        assert "400 of 1,000 users active (40.0%) in the live version live" in problem


def test_a_live_version_without_statuses_is_no_yardstick() -> None:
    old = StoreVersion("old", "2025-07-01", 1000, "x", [], "2025-07-01T00:00:00", "/nowhere")
    assert population_problem(version("new", 10, 990), old, SETTINGS) is None
