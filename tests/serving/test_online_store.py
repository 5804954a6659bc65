"""The online store returns exactly the materialized features, by id, from the live version."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from features.spec import Feature
from serving.online_store import (
    OnlineStore,
    StoreError,
    current_version,
    feature_set_version,
    read_all,
    write_version,
)

CATALOG = [Feature("recency_days", "days", "Days since the last event", "recency")]


def table(users: list[str], recency: list[float | None]) -> pa.Table:
    return pa.table(
        {
            "user_id": users,
            "cutoff": pa.array([dt.date(2024, 3, 1)] * len(users)),
            "status": ["active"] * len(users),
            "label": pa.array([None] * len(users), pa.int8()),
            "recency_days": recency,
        }
    )


def test_lookup_returns_known_users_and_omits_unknown_ones(tmp_path: Path) -> None:
    write_version(tmp_path, table(["a", "b", "c"], [1.5, None, 30.0]), dt.date(2024, 3, 1), CATALOG)
    store = OnlineStore(current_version(tmp_path))
    rows = pd.DataFrame(store.lookup(["c", "zzz", "b"])).set_index("user_id")
    assert sorted(rows.index) == ["b", "c"]
    assert rows.loc["c", "recency_days"] == 30.0 and pd.isna(rows.loc["b", "recency_days"])
    assert "label" not in rows.columns and rows.loc["c", "cutoff"] == "2024-03-01"
    nobody = store.lookup([])
    assert "recency_days" in nobody and all(len(values) == 0 for values in nobody.values())


def test_a_new_version_becomes_current_and_the_old_one_stays_readable(tmp_path: Path) -> None:
    first = write_version(tmp_path, table(["a"], [1.0]), dt.date(2024, 3, 1), CATALOG)
    old = OnlineStore(first)
    second = write_version(tmp_path, table(["a", "b"], [2.0, 3.0]), dt.date(2024, 3, 2), CATALOG)
    assert current_version(tmp_path) == second
    assert old.lookup(["a"])["recency_days"].tolist() == [1.0]
    assert read_all(second).num_rows == 2 and second.feature_set == feature_set_version(CATALOG)


def test_a_missing_store_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="run `winback materialize"):
        current_version(tmp_path)


def test_feature_set_version_changes_with_a_feature_definition() -> None:
    renamed = [Feature("recency_days", "hours", "Hours since the last event", "recency")]
    assert feature_set_version(CATALOG) != feature_set_version(renamed)
