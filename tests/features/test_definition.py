"""The feature definition changes exactly when a key that changes a served value does: a
moved file, a renamed model or another search setting must not stop serving."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.config import parse_config
from features.definition import FeatureDefinition, feature_definition
from tests.trained import config_data

BASE = config_data(Path("/data"), Path("/work"))

# (dotted path, a value that differs from BASE's): each changes a feature's value or a status
VALUE_CHANGES: list[tuple[str, Any]] = [
    ("events.timezone", "America/New_York"),
    ("events.ts_format", "%Y-%m-%d %H:%M:%S"),
    ("events.event_types", ["visit", "view", "purchase", "cancel"]),
    ("events.duplicates", "keep"),
    ("events.default_event", "purchase"),
    ("events.columns.value", None),
    ("events.columns.session_id", None),
    ("users.timezone", "Asia/Tokyo"),
    ("users.ts_format", "%Y-%m-%d"),
    ("users.columns.signup_ts", None),
    ("users.columns.attributes", ["plan", "region"]),
    ("churn.active_window_days", 30),
    ("churn.lapsed_after_days", 90),
    ("churn.churn_events", ["cancel"]),
    ("churn.min_tenure_days", 14),
    ("features.windows_days", [7, 30]),
    ("features.trend_window_days", 14),
]
# ... and keys that change no value: where files are, how they are parsed, names, training
NEUTRAL_CHANGES: list[tuple[str, Any]] = [
    ("name", "moved"),
    ("workdir", "/somewhere/else"),
    ("events.path", "/archive/events.parquet"),
    ("events.format", "csv"),
    ("events.header", False),
    ("events.delimiter", ";"),
    ("events.columns.user_id", "customer_id"),
    ("events.columns.value", "revenue"),
    ("events.event_types", ["cancel", "purchase", "add_to_cart", "view", "visit", "visit"]),
    ("users.path", "/archive/users.parquet"),
    ("users.columns.attributes", ["region", "channel", "plan"]),
    ("churn.horizon_days", 60),
    ("churn.qualifying_events", ["purchase"]),
    ("cutoffs.start", "2025-04-01"),
    ("cutoffs.step_days", 7),
    ("engine.kind", "spark"),
    ("model.name", "renamed-churn"),
    ("model.seed", 7),
    ("model.search", {"trials": 16}),
    ("model.probability_alive", True),
    ("serving.max_batch", 10),
]


def changed(changes: list[tuple[str, Any]]) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    for path, value in changes:
        *parents, leaf = path.split(".")
        section = data
        for key in parents:
            section = section.setdefault(key, {})
        section[leaf] = value
    return data


def definition_of(data: dict[str, Any]) -> FeatureDefinition:
    return feature_definition(parse_config(data, Path("/work/config.yaml")))


@settings(max_examples=150, deadline=None)
@given(
    values=st.sets(st.sampled_from(range(len(VALUE_CHANGES)))),
    neutral=st.sets(st.sampled_from(range(len(NEUTRAL_CHANGES)))),
)
def test_the_definition_changes_iff_a_value_changing_key_changes(
    values: set[int], neutral: set[int]
) -> None:
    # neutral first: where both touch one key (value mapped -> unmapped), the value change wins
    applied = [NEUTRAL_CHANGES[i] for i in sorted(neutral)] + [
        VALUE_CHANGES[i] for i in sorted(values)
    ]
    base, new = definition_of(BASE), definition_of(changed(applied))
    differing = {key for key in base.values if base.values[key] != new.values[key]}
    assert differing == {VALUE_CHANGES[i][0] for i in values}
    assert (base.fingerprint != new.fingerprint) == bool(values)


def test_dropping_the_users_table_changes_the_definition() -> None:
    without = definition_of({key: value for key, value in BASE.items() if key != "users"})
    base = definition_of(BASE)
    assert without.fingerprint != base.fingerprint
    assert without.values["users"] == "false" and base.values["users"] == "true"


def test_the_definition_is_readable_json_text_per_key() -> None:
    values = definition_of(BASE).values
    assert values["events.timezone"] == '"UTC"'
    assert values["churn.active_window_days"] == "60"
    assert values["features.windows_days"] == "[7, 14, 30, 90]"
