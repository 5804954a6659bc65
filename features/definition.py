"""The feature definition: every config key that changes a served feature's value or a
user's status, as readable key/value text and a stable hash of it.

A model records the definition it was trained with and an online store the one it was
materialized with; serving a pair whose definitions differ scores users on features the
model never saw. Keys are chosen one by one, not read off the config wholesale:
- in: how timestamps are read (`ts_format`, `timezone`) and which rows count (`event_types`,
  `duplicates`, `default_event`), whether events carry a type, a value and a session, the
  users' signup and attributes, the status windows and churn events, the feature windows;
- out: where files are and how they are parsed (`path`, `format`, `header`, `delimiter`,
  source column names), names, `workdir`, cutoffs, the engine (DuckDB and Spark agree, tested),
  everything under `model` (`probability_alive` included: the model carries its own BG/NBD
  parameters and computes those features itself) and `serving`, and the churn keys that
  shape only labels (`mode`, `horizon_days`, `qualifying_events`), which a store never holds.
Lists whose order does not change a value (event types, attributes) are compared as sets.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict

from core.config import DatasetConfig


class FeatureDefinition(BaseModel):
    """`values`: key -> its value as JSON text; `fingerprint`: a hash of all of them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fingerprint: str
    values: dict[str, str]


def _mapped(column: str | None) -> bool:
    """Whether a source column is mapped, not its name: renaming it changes no value."""
    return column is not None


def _as_set(items: list[str] | None) -> list[str] | None:
    return None if items is None else sorted(set(items))


def definition_values(config: DatasetConfig) -> dict[str, Any]:
    """The value-changing keys of `config`, by their dotted path in the YAML."""
    events, users, churn = config.events, config.users, config.churn
    return {
        "events.ts_format": events.ts_format,
        "events.timezone": events.timezone,
        "events.event_types": _as_set(events.event_types),
        "events.duplicates": events.duplicates,
        "events.default_event": events.default_event,
        "events.columns.event": _mapped(events.columns.event),
        "events.columns.value": _mapped(events.columns.value),
        "events.columns.session_id": _mapped(events.columns.session_id),
        "users": users is not None,
        "users.ts_format": users.ts_format if users else None,
        "users.timezone": users.timezone if users else None,
        "users.columns.signup_ts": _mapped(users.columns.signup_ts) if users else False,
        "users.columns.attributes": _as_set(users.columns.attributes) if users else [],
        "churn.active_window_days": churn.active_window_days,
        "churn.lapsed_after_days": churn.lapsed_after_days,
        "churn.churn_events": _as_set(churn.churn_events),
        "churn.min_tenure_days": churn.min_tenure_days,
        "features.windows_days": config.features.windows_days,
        "features.trend_window_days": config.features.trend_window_days,
    }


def feature_definition(config: DatasetConfig) -> FeatureDefinition:
    values = {key: json.dumps(value) for key, value in sorted(definition_values(config).items())}
    digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]
    return FeatureDefinition(fingerprint=digest, values=values)
