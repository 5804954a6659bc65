"""Greedy allocation by expected net value under a budget and per-channel capacities.

Candidates arrive best first. A treatment user takes budget and a slot of their channel if
both are left, else is skipped (a cheaper user further down may still fit). A control user
takes nothing, but is held out only where a treatment user would have fit: both groups then
come from the same stretch of the ranking, which is what makes the review's comparison fair.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

from recall.codes import CONTROL, OVER_BUDGET, OVER_CAPACITY, TREATMENT

Channel = TypeVar("Channel", bound=Hashable)


def allocate(
    costs: Sequence[float],
    channels: Sequence[Channel],
    control: Sequence[bool],
    budget: float,
    capacity: Mapping[Channel, int],
) -> list[str]:
    """One outcome per candidate: treatment, control, over_budget or over_capacity."""
    spent = 0.0
    used = dict.fromkeys(capacity, 0)
    outcomes = []
    for cost, channel, held_out in zip(costs, channels, control, strict=True):
        if spent + cost > budget:
            outcomes.append(OVER_BUDGET)
        elif channel in used and used[channel] >= capacity[channel]:
            outcomes.append(OVER_CAPACITY)
        elif held_out:
            outcomes.append(CONTROL)
        else:
            outcomes.append(TREATMENT)
            spent += cost
            if channel in used:
                used[channel] += 1
    return outcomes
