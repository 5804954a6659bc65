"""Batch scoring's read ahead gives exactly the rows of the version it is asked for."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from serving.online_store import SqliteStore, StoreError, all_rows, write_version
from serving.store_read import ReadAhead
from tests.serving.test_online_store import CATALOG, table

CUTOFF = dt.date(2024, 3, 1)


def test_rows_read_ahead_are_the_live_versions_rows(tmp_path: Path) -> None:
    version = write_version(tmp_path, table(["a", "b"], [1.0, None]), CUTOFF, CATALOG)
    rows = ReadAhead(SqliteStore(tmp_path)).rows(version)
    pd.testing.assert_frame_equal(rows, all_rows(version))


def test_a_version_published_after_the_read_began_is_read_itself(tmp_path: Path) -> None:
    write_version(tmp_path, table(["a"], [1.0]), CUTOFF, CATALOG)
    ahead = ReadAhead(SqliteStore(tmp_path))
    newer = write_version(tmp_path, table(["a", "b"], [2.0, 3.0]), CUTOFF, CATALOG)
    assert ahead.rows(newer)["recency_days"].tolist() == [2.0, 3.0]


def test_rows_are_handed_over_once_and_read_again_when_asked_again(tmp_path: Path) -> None:
    version = write_version(tmp_path, table(["a"], [1.0]), CUTOFF, CATALOG)
    ahead = ReadAhead(SqliteStore(tmp_path))
    first, second = ahead.rows(version), ahead.rows(version)
    assert first is not second
    pd.testing.assert_frame_equal(first, second)


def test_without_a_live_version_nothing_is_read_until_one_is_asked_for(tmp_path: Path) -> None:
    ahead = ReadAhead(SqliteStore(tmp_path))  # no store yet: loading the pair says so
    with pytest.raises(StoreError):
        SqliteStore(tmp_path).current()
    version = write_version(tmp_path, table(["a"], [4.0]), CUTOFF, CATALOG)
    assert ahead.rows(version)["recency_days"].tolist() == [4.0]


def test_a_failed_read_is_raised_where_the_rows_are_asked_for(tmp_path: Path) -> None:
    version = write_version(tmp_path, table(["a"], [1.0]), CUTOFF, CATALOG)
    version.parquet_path.write_bytes(b"not parquet")
    ahead = ReadAhead(SqliteStore(tmp_path))
    with pytest.raises(Exception, match="Parquet"):
        ahead.rows(version)
