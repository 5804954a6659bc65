"""Campaign mode for the synthetic log: plant a known treatment effect after a campaign date.

A campaign review is only trustworthy if it recovers effects it was told nothing about.
Given a generated log and a recall list (user, strategy, group), round(u_s x n_s) of the
n_s treated users of strategy s who would not have come back inside the window
[date, date + window_days), drawn at random, get one extra `visit` in it: the treated
return rate rises by exactly u_s (to the rounding), the planted uplift, with no sampling
noise of its own on top of the treated-vs-control noise the review must handle. Control
users and strategies without an uplift are untouched, so a strategy with uplift 0 is a
planted null.

A return is any event but `cancel`, as in the demo config's `qualifying_events`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.synthetic import CANCEL_EVENT, DAY, EVENT_TYPES, VISIT, SyntheticLog

TREATMENT = "treatment"
ASSIGNMENT_COLUMNS = ("user_id", "strategy", "group")


@dataclass(frozen=True)
class CampaignSpec:
    date: dt.date
    window_days: int
    uplift: Mapping[str, float] = field(default_factory=dict)  # strategies not named: 0
    seed: int = 0
    # nearest: exactly round(u x n) users; random: floor(u x n + U(0, 1)), which is right on
    # average over many small campaigns (a daily cycle's), where rounding would plant none
    rounding: Literal["nearest", "random"] = "nearest"

    def __post_init__(self) -> None:
        if self.window_days < 1:
            raise ValueError(f"window_days must be >= 1, got {self.window_days}")
        bad = {name: u for name, u in self.uplift.items() if not 0 <= u <= 1}
        if bad:
            raise ValueError(f"uplifts must be in [0, 1], got {bad}")

    @property
    def start(self) -> pd.Timestamp:
        return pd.Timestamp(self.date)

    @property
    def end(self) -> pd.Timestamp:
        return self.start + pd.Timedelta(days=self.window_days)


@dataclass(frozen=True)
class CampaignLog:
    """The log with the planted visits, and per listed user what happened to them."""

    log: SyntheticLog
    outcomes: pd.DataFrame  # user_id, strategy, group, returned_anyway, planted


def returned_in_window(events: pd.DataFrame, spec: CampaignSpec) -> set[str]:
    """Users with a returning (non-cancel) event inside the campaign window."""
    inside = events.ts.ge(spec.start) & events.ts.lt(spec.end)
    returning = events.event != EVENT_TYPES[CANCEL_EVENT]
    return set(events.loc[inside & returning, "user_id"])


def _brought_back(
    outcomes: pd.DataFrame, spec: CampaignSpec, rng: np.random.Generator
) -> npt.NDArray[np.bool_]:
    """Per listed user: True for the treated non-returners chosen to come back."""
    chosen = np.zeros(len(outcomes), dtype=bool)
    treated = outcomes.group == TREATMENT
    for name, uplift in sorted(spec.uplift.items()):
        members = treated & (outcomes.strategy == name)
        exact = uplift * int(members.sum())
        count = round(exact) if spec.rounding == "nearest" else int(exact + rng.random())
        open_ = np.flatnonzero(members & ~outcomes.returned_anyway)
        if spec.rounding == "random":  # a small campaign whose users all came back anyway
            count = min(count, open_.size)
        if count > open_.size:
            raise ValueError(
                f"cannot plant uplift {uplift} for {name}: only {open_.size} of its "
                f"{int(members.sum())} treated users stay away"
            )
        chosen[rng.choice(open_, size=count, replace=False)] = True
    return chosen


def _visits(user_ids: pd.Series, spec: CampaignSpec, rng: np.random.Generator) -> pd.DataFrame:
    """One visit per user at a uniform whole second inside the window."""
    seconds = rng.integers(0, spec.window_days * DAY, size=len(user_ids))
    return pd.DataFrame(
        {
            "user_id": user_ids.to_numpy(),
            "ts": (spec.start + pd.to_timedelta(seconds, unit="s")).astype("datetime64[us]"),
            "event": EVENT_TYPES[VISIT],
            "value": 0.0,
            "session_id": user_ids.to_numpy() + "-campaign",
        }
    )


def plant_campaign(log: SyntheticLog, assignment: pd.DataFrame, spec: CampaignSpec) -> CampaignLog:
    """`assignment` has one row per listed user: user_id, strategy, group."""
    listed = assignment[list(ASSIGNMENT_COLUMNS)].sort_values("user_id", ignore_index=True)
    natural = returned_in_window(log.events, spec)
    outcomes = listed.assign(returned_anyway=listed.user_id.isin(natural))
    rng = np.random.default_rng(spec.seed)
    planted = _brought_back(outcomes, spec, rng)
    visits = _visits(outcomes.user_id[planted], spec, rng)
    events = pd.concat(
        [log.events, visits.astype(log.events.dtypes.to_dict())], ignore_index=True
    ).sort_values(["ts", "user_id"], kind="stable", ignore_index=True)
    return CampaignLog(
        log=SyntheticLog(events=events, users=log.users, truth=log.truth),
        outcomes=outcomes.assign(planted=planted),
    )
