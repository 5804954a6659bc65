"""What a feature set contains, derived once from config, and the record each builder returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from core.config import DatasetConfig

Kind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class Feature:
    """A column a person can read about: what it is, in which unit."""

    name: str
    unit: str
    description: str
    family: str
    kind: Kind = "numeric"


@dataclass(frozen=True)
class Column:
    """A feature and the Ibis expression computing it (a reduction over a user's history)."""

    feature: Feature
    expr: ir.Value


@dataclass(frozen=True)
class FeatureSet:
    """The knobs builders need; everything else in the config stays out of feature code."""

    windows_days: tuple[int, ...]
    trend_window_days: int
    event_types: tuple[str, ...]
    has_values: bool
    has_sessions: bool
    attributes: tuple[str, ...]
    has_signup: bool

    @property
    def longest_window(self) -> int:
        return self.windows_days[-1]


def feature_set(config: DatasetConfig) -> FeatureSet:
    users = config.users
    return FeatureSet(
        windows_days=tuple(config.features.windows_days),
        trend_window_days=config.features.trend_window_days,
        event_types=tuple(config.events.event_types or ()),
        has_values=config.events.columns.value is not None,
        has_sessions=config.events.columns.session_id is not None,
        attributes=tuple(users.columns.attributes) if users else (),
        has_signup=bool(users and users.columns.signup_ts),
    )
