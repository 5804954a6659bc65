"""The online store returns exactly the materialized features, by id, from the live version."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from features.definition import FeatureDefinition
from features.spec import Feature
from serving.online_store import (
    OnlineStore,
    StoreError,
    current_version,
    discard,
    feature_set_version,
    make_current,
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


def test_a_moved_store_reads_its_own_files_not_the_ones_where_it_was_written(
    tmp_path: Path,
) -> None:
    write_version(tmp_path / "here", table(["a"], [1.0]), dt.date(2024, 3, 1), CATALOG)
    shutil.copytree(tmp_path / "here", tmp_path / "there")
    write_version(tmp_path / "here", table(["a"], [9.0]), dt.date(2024, 3, 1), CATALOG)
    shutil.rmtree(tmp_path / "here")
    moved = current_version(tmp_path / "there")
    assert Path(moved.folder).parent == tmp_path / "there"
    assert OnlineStore(moved).lookup(["a"])["recency_days"].tolist() == [1.0]


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


DEFINITION = FeatureDefinition(fingerprint="abc", values={"churn.active_window_days": "60"})


def test_the_manifest_records_the_definition_and_users_per_status(tmp_path: Path) -> None:
    statuses = table(["a", "b", "c"], [1.0, 2.0, 3.0]).set_column(
        2, "status", pa.array(["active", "lapsed", "active"])
    )
    written = write_version(tmp_path, statuses, dt.date(2024, 3, 1), CATALOG, DEFINITION)
    read = current_version(tmp_path)
    assert read == written and read.definition == DEFINITION
    assert read.statuses == {"active": 2, "lapsed": 1} and read.active == 2


def test_an_unpublished_version_leaves_current_alone_until_published(tmp_path: Path) -> None:
    live = write_version(tmp_path, table(["a"], [1.0]), dt.date(2024, 3, 1), CATALOG)
    held = write_version(
        tmp_path, table(["b"], [2.0]), dt.date(2024, 3, 2), CATALOG, DEFINITION, publish=False
    )
    assert current_version(tmp_path) == live
    make_current(tmp_path, held)
    assert current_version(tmp_path) == held
    discard(live)
    assert not Path(live.folder).exists()


def test_a_manifest_written_before_definitions_still_loads(tmp_path: Path) -> None:
    written = write_version(tmp_path, table(["a"], [1.0]), dt.date(2024, 3, 1), CATALOG)
    manifest = Path(written.folder) / "manifest.json"
    old = {
        key: value
        for key, value in json.loads(manifest.read_text()).items()
        if key not in ("definition", "statuses")
    }
    manifest.write_text(json.dumps(old))
    read = current_version(tmp_path)
    assert read.definition is None and read.statuses is None and read.active is None
