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
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.synthetic import CANCEL_EVENT, DAY, EVENT_TYPES, VISIT, SyntheticLog

TREATMENT = "treatment"
ASSIGNMENT_COLUMNS = ("user_id", "strategy", "group")
FALLBACK = -1  # the cell of users who match no rule: their strategy's uplift


@dataclass(frozen=True)
class Condition:
    """A feature in [low, high) (a bound may be open), or a category among `levels`."""

    feature: str
    low: float | None = None
    high: float | None = None
    levels: tuple[str, ...] | None = None

    def holds(self, features: pd.DataFrame) -> npt.NDArray[np.bool_]:
        if self.feature not in features.columns:
            raise ValueError(f"effect rule needs feature {self.feature!r}, which is not there")
        values = features[self.feature]
        if self.levels is not None:
            return values.astype("object").isin(self.levels).to_numpy(bool)
        number = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
        hit = ~np.isnan(number)
        if self.low is not None:
            hit &= number >= self.low
        if self.high is not None:
            hit &= number < self.high
        return hit

    def __str__(self) -> str:
        if self.levels is not None:
            return f"{self.feature} in {list(self.levels)}"
        return f"{self.feature} in [{self.low}, {self.high})"


@dataclass(frozen=True)
class EffectRule:
    """Treated users of `strategy` (any, if None) meeting every condition: a share `share` of
    would-be leavers come back (share < 0: of would-be returners stay away)."""

    share: float
    when: tuple[Condition, ...] = ()
    strategy: str | None = None

    def __post_init__(self) -> None:
        if not -1 <= self.share <= 1:
            raise ValueError(f"an effect rule's share must be in [-1, 1], got {self.share}")

    def matches(self, listed: pd.DataFrame) -> npt.NDArray[np.bool_]:
        hit = np.ones(len(listed), dtype=bool)
        if self.strategy is not None:
            hit &= (listed.strategy == self.strategy).to_numpy(bool)
        for condition in self.when:
            hit &= condition.holds(listed)
        return hit

    def __str__(self) -> str:
        parts = [f"strategy {self.strategy}"] if self.strategy else []
        return " and ".join([*parts, *map(str, self.when)]) or "every user"


@dataclass(frozen=True)
class CampaignSpec:
    date: dt.date
    window_days: int
    uplift: Mapping[str, float] = field(default_factory=dict)  # strategies not named: 0
    seed: int = 0
    # nearest: exactly round(u x n) users; random: floor(u x n + U(0, 1)), which is right on
    # average over many small campaigns (a daily cycle's), where rounding would plant none
    rounding: Literal["nearest", "random"] = "nearest"
    effects: tuple[EffectRule, ...] = ()  # first match wins; unmatched users: `uplift`

    def __post_init__(self) -> None:
        if self.window_days < 1:
            raise ValueError(f"window_days must be >= 1, got {self.window_days}")
        bad = {name: u for name, u in self.uplift.items() if not 0 <= u <= 1}
        if bad:
            raise ValueError(f"uplifts must be in [0, 1], got {bad}")

    @property
    def needs_features(self) -> bool:
        return any(rule.when for rule in self.effects)

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
    # user_id, strategy, group, returned_anyway, effect, rule, planted, driven_away
    outcomes: pd.DataFrame


def returned_in_window(events: pd.DataFrame, spec: CampaignSpec) -> set[str]:
    """Users with a returning (non-cancel) event inside the campaign window."""
    inside = events.ts.ge(spec.start) & events.ts.lt(spec.end)
    returning = events.event != EVENT_TYPES[CANCEL_EVENT]
    return set(events.loc[inside & returning, "user_id"])


def effects(
    listed: pd.DataFrame, spec: CampaignSpec
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Each listed user's planted effect (rule share or strategy uplift) and the rule that
    gave it (FALLBACK: none did)."""
    rule = np.full(len(listed), FALLBACK, dtype=np.int64)
    for index in reversed(range(len(spec.effects))):  # the first matching rule wins
        rule[spec.effects[index].matches(listed)] = index
    by_strategy = listed.strategy.map(dict(spec.uplift)).fillna(0.0).to_numpy(np.float64)
    ruled = np.array([r.share for r in spec.effects] + [0.0])[rule]
    return np.where(rule == FALLBACK, by_strategy, ruled), rule


Cell = tuple[str, float, bool, npt.NDArray[np.bool_]]


def _cells(outcomes: pd.DataFrame, spec: CampaignSpec) -> list[Cell]:
    """Treated users per cell: label, effect, whether it is a share, members. Strategies' own
    uplifts in name order (as before rules existed, so such logs stay the same byte for byte),
    then each rule's users per strategy."""
    treated = (outcomes.group == TREATMENT).to_numpy(bool)
    fallback = (outcomes.rule == FALLBACK).to_numpy(bool)
    cells: list[Cell] = [
        (name, uplift, False, treated & fallback & (outcomes.strategy == name).to_numpy(bool))
        for name, uplift in sorted(spec.uplift.items())
    ]
    ruled = outcomes[treated & ~fallback].groupby(["rule", "strategy"]).size().index
    for index, name in ruled:
        members = treated & (outcomes.rule == index).to_numpy(bool)
        members &= (outcomes.strategy == name).to_numpy(bool)
        rule = spec.effects[index]
        cells.append((f"{name} ({rule})", rule.share, True, members))
    return cells


def _planted(
    outcomes: pd.DataFrame, spec: CampaignSpec, rng: np.random.Generator
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per listed user: brought back (positive cells), driven away (negative cells)."""
    back = np.zeros(len(outcomes), dtype=bool)
    away = np.zeros(len(outcomes), dtype=bool)
    anyway = outcomes.returned_anyway.to_numpy(bool)
    for label, uplift, is_share, members in _cells(outcomes, spec):
        pool = np.flatnonzero(members & (anyway if uplift < 0 else ~anyway))
        exact = abs(uplift) * (pool.size if is_share else int(members.sum()))
        count = round(exact) if spec.rounding == "nearest" else int(exact + rng.random())
        if spec.rounding == "random":  # a small campaign whose users all came back anyway
            count = min(count, pool.size)
        if count > pool.size:
            how = "come back anyway" if uplift < 0 else "stay away"
            raise ValueError(
                f"cannot plant uplift {uplift} for {label}: only {pool.size} of its "
                f"{int(members.sum())} treated users {how}"
            )
        chosen = rng.choice(pool, size=count, replace=False)
        (away if uplift < 0 else back)[chosen] = True
    return back, away


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


def plant_campaign(
    log: SyntheticLog,
    assignment: pd.DataFrame,
    spec: CampaignSpec,
    features: pd.DataFrame | None = None,
) -> CampaignLog:
    """`assignment` has one row per listed user: user_id, strategy, group; `features` (user_id
    and the features the rules name, as of the campaign date) are needed by feature rules."""
    listed = assignment[list(ASSIGNMENT_COLUMNS)].sort_values("user_id", ignore_index=True)
    if spec.needs_features:
        if features is None:
            raise ValueError("effect rules on features need the users' features")
        listed = listed.merge(features, on="user_id", how="left", validate="one_to_one")
    natural = returned_in_window(log.events, spec)
    effect, rule = effects(listed, spec)
    outcomes = listed[list(ASSIGNMENT_COLUMNS)].assign(
        returned_anyway=listed.user_id.isin(natural), effect=effect, rule=rule
    )
    rng = np.random.default_rng(spec.seed)
    back, away = _planted(outcomes, spec, rng)
    visits = _visits(outcomes.user_id[back], spec, rng)
    inside = log.events.ts.ge(spec.start) & log.events.ts.lt(spec.end)
    returning = log.events.event != EVENT_TYPES[CANCEL_EVENT]
    gone = inside & returning & log.events.user_id.isin(set(outcomes.user_id[away]))
    events = pd.concat(
        [log.events[~gone], visits.astype(log.events.dtypes.to_dict())], ignore_index=True
    ).sort_values(["ts", "user_id"], kind="stable", ignore_index=True)
    return CampaignLog(
        log=SyntheticLog(events=events, users=log.users, truth=log.truth),
        outcomes=outcomes.assign(planted=back, driven_away=away),
    )


def parse_effects(data: Any, source: str) -> tuple[EffectRule, ...]:
    """Rules from YAML: a list of {share, when: {feature: [low, high] | level | [levels]},
    strategy}; a mistake names the file and the rule."""
    if not isinstance(data, list):
        raise ValueError(f"{source}: expected a list of effect rules")
    rules = []
    for number, item in enumerate(data, start=1):
        where = f"{source}: rule {number}"
        if not isinstance(item, dict) or not set(item) <= {"share", "when", "strategy"}:
            raise ValueError(f"{where}: expected keys share, when, strategy")
        try:
            share = float(item["share"])
            conditions = tuple(
                _condition(name, bound) for name, bound in (item.get("when") or {}).items()
            )
            strategy = item.get("strategy")
            rules.append(EffectRule(share, conditions, None if strategy is None else str(strategy)))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"{where}: {error}") from None
    return tuple(rules)


def _condition(name: str, bound: Any) -> Condition:
    if isinstance(bound, str):
        return Condition(name, levels=(bound,))
    if isinstance(bound, list) and bound and all(isinstance(b, str) for b in bound):
        return Condition(name, levels=tuple(bound))
    if isinstance(bound, list) and len(bound) == 2:
        low, high = (None if b is None else float(b) for b in bound)
        return Condition(name, low=low, high=high)
    raise ValueError(f"when.{name}: give [low, high] (a bound may be null), a level or levels")
