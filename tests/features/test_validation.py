"""Every kind of bad row is quarantined with its reason, and no good row is lost."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from core.config import DatasetConfig, InputError, parse_config
from features.engine import DuckDBEngine
from features.loading import prepare

RUN_TIME = dt.datetime(2024, 6, 1)

HEADER = "uid,when,kind,amount,sess"
# (line, expected reason or None for a good row)
ROWS: list[tuple[str, str | None]] = [
    ("u1,2024-01-01T10:00:00,visit,0,s1", None),
    ("u1,2024-01-01T10:00:00,visit,0,s1", "duplicate"),
    (",2024-01-02T10:00:00,visit,0,s2", "missing_user_id"),
    ("u2,,visit,0,s3", "missing_timestamp"),
    ("u2,notadate,visit,0,s3", "bad_timestamp"),
    ("u2,2099-01-01T00:00:00,visit,0,s3", "future_timestamp"),
    ("u3,2024-01-03T00:00:00,purchase,abc,s4", "bad_value"),
    ("u3,2024-01-03T00:00:00,purchase,inf,s4", "bad_value"),
    ("u3,2024-01-03T00:00:00,purchase,-5,s4", "negative_value"),
    ("u3,2024-01-03T00:00:00,teleport,1,s4", "unknown_event"),
    ("u4,2024-01-05T00:00:00+02:00,purchase,10.5,s5", None),
    ("u4,2024-01-05 00:00:00,purchase,,s5", None),
    ("u5,2024-02-01,,3,", None),
]


def make_config(tmp_path: Path, events: dict[str, Any], **extra: Any) -> DatasetConfig:
    data: dict[str, Any] = {
        "name": "t",
        "workdir": "work",
        "events": events,
        "churn": {
            "mode": "inactivity",
            "horizon_days": 30,
            "active_window_days": 60,
            "lapsed_after_days": 60,
        },
        "cutoffs": {"start": "2024-01-01", "end": "2024-03-01", "step_days": 30},
        "model": {"name": "t"},
        **extra,
    }
    return parse_config(data, tmp_path / "config.yaml")


def csv_events(path: str, **extra: Any) -> dict[str, Any]:
    return {
        "path": path,
        "format": "csv",
        "columns": {
            "user_id": "uid",
            "ts": "when",
            "event": "kind",
            "value": "amount",
            "session_id": "sess",
        },
        "event_types": ["visit", "purchase"],
        "default_event": "visit",
        **extra,
    }


@pytest.fixture
def bad_log(tmp_path: Path) -> DatasetConfig:
    (tmp_path / "events.csv").write_text("\n".join([HEADER] + [line for line, _ in ROWS]) + "\n")
    return make_config(tmp_path, csv_events("events.csv"))


def test_every_bad_row_lands_in_quarantine_with_its_reason(bad_log: DatasetConfig) -> None:
    prepared = prepare(bad_log, DuckDBEngine(), run_time=RUN_TIME)
    quarantine = pd.read_parquet(prepared.events.quarantine).sort_values("source_row")
    expected = [(i + 2, reason) for i, (_, reason) in enumerate(ROWS) if reason is not None]
    assert list(zip(quarantine.source_row, quarantine.reason, strict=True)) == expected
    assert quarantine.source_file.str.endswith("events.csv").all()
    assert quarantine.loc[quarantine.reason == "bad_value", "amount"].tolist() == ["abc", "inf"]


def test_good_plus_quarantined_equals_input(bad_log: DatasetConfig) -> None:
    prepared = prepare(bad_log, DuckDBEngine(), run_time=RUN_TIME)
    good = pd.read_parquet(prepared.events.output)
    assert prepared.events.rows_read == len(ROWS)
    assert len(good) + prepared.events.rows_quarantined == len(ROWS)
    assert len(good) == sum(reason is None for _, reason in ROWS)
    assert prepared.events.quarantined == {
        "bad_timestamp": 1,
        "bad_value": 2,
        "duplicate": 1,
        "future_timestamp": 1,
        "missing_timestamp": 1,
        "missing_user_id": 1,
        "negative_value": 1,
        "unknown_event": 1,
    }


def test_good_rows_are_canonical_and_in_utc(bad_log: DatasetConfig) -> None:
    prepared = prepare(bad_log, DuckDBEngine(), run_time=RUN_TIME)
    good = pd.read_parquet(prepared.events.output).sort_values(["user_id", "ts"])
    assert list(good.columns) == ["user_id", "ts", "event", "value", "session_id"]
    u4 = good[good.user_id == "u4"]
    assert u4.ts.tolist() == [pd.Timestamp("2024-01-04 22:00"), pd.Timestamp("2024-01-05")]
    assert u4.value.iloc[0] == 10.5 and pd.isna(u4.value.iloc[1])
    u5 = good[good.user_id == "u5"].iloc[0]
    assert u5.event == "visit" and pd.isna(u5.session_id)


def test_naive_timestamps_are_read_in_the_configured_zone(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("uid,when\nu1,2024-05-01 12:00:00\nu1,2024-05-01T12:00:00Z\n")
    events = {"path": "e.csv", "format": "csv", "columns": {"user_id": "uid", "ts": "when"}}
    config = make_config(tmp_path, {**events, "timezone": "Europe/Berlin"})
    good = pd.read_parquet(prepare(config, DuckDBEngine(), run_time=RUN_TIME).events.output)
    assert sorted(good.ts) == [pd.Timestamp("2024-05-01 10:00"), pd.Timestamp("2024-05-01 12:00")]


def test_repeats_are_kept_and_counted_when_configured(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("uid,when\nu1,2024-01-01\nu1,2024-01-01\nu2,2024-01-02\n")
    events = {"path": "e.csv", "format": "csv", "columns": {"user_id": "uid", "ts": "when"}}
    config = make_config(tmp_path, {**events, "duplicates": "keep"})
    report = prepare(config, DuckDBEngine(), run_time=RUN_TIME).events
    assert (report.rows_good, report.rows_quarantined, report.repeats_kept) == (3, 0, 1)


def test_whitespace_files_with_a_date_format_parse(tmp_path: Path) -> None:
    (tmp_path / "log.txt").write_text(" id   date  n  amount\r\n 01 19970101  1  11.77\r\n")
    events = {
        "path": "log.txt",
        "format": "whitespace",
        "columns": {"user_id": "id", "ts": "date", "value": "amount"},
        "ts_format": "%Y%m%d",
    }
    good = pd.read_parquet(
        prepare(make_config(tmp_path, events), DuckDBEngine(), run_time=RUN_TIME).events.output
    )
    assert good[["user_id", "ts", "value"]].values.tolist() == [
        ["01", pd.Timestamp("1997-01-01"), 11.77]
    ]


def test_parquet_sources_keep_their_row_numbers(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"uid": ["a", None, "b"], "when": pd.to_datetime(["2024-01-01", "2024-01-02", None])}
    )
    frame.to_parquet(tmp_path / "e.parquet")
    events = {"path": "e.parquet", "format": "parquet", "columns": {"user_id": "uid", "ts": "when"}}
    report = prepare(make_config(tmp_path, events), DuckDBEngine(), run_time=RUN_TIME).events
    quarantine = pd.read_parquet(report.quarantine).sort_values("source_row")
    assert quarantine[["source_row", "reason"]].values.tolist() == [
        [2, "missing_user_id"],
        [3, "missing_timestamp"],
    ]


@pytest.mark.parametrize(
    ("content", "events_path", "message"),
    [
        (None, "missing.csv", "missing.csv: file not found"),
        (None, "nothing-*.csv", "nothing-*.csv: no file matches"),
        ("", "e.csv", "e.csv: file is empty"),
        ("uid,when\n", "e.csv", "e.csv: no data rows"),
        ("user,when\nu1,2024-01-01\n", "e.csv", "column 'uid' (mapped as user_id) not found"),
        ("uid,when\nu1,yesterday\n", "e.csv", "no usable rows: all 1 quarantined (mostly bad_"),
    ],
)
def test_fatal_problems_name_the_file_and_column(
    tmp_path: Path, content: str | None, events_path: str, message: str
) -> None:
    if content is not None:
        (tmp_path / "e.csv").write_text(content)
    events = {"path": events_path, "format": "csv", "columns": {"user_id": "uid", "ts": "when"}}
    with pytest.raises(InputError, match=re.escape(message)):
        prepare(make_config(tmp_path, events), DuckDBEngine(), run_time=RUN_TIME)


def test_unchanged_sources_are_not_validated_twice(bad_log: DatasetConfig) -> None:
    engine = DuckDBEngine()
    first = prepare(bad_log, engine, run_time=RUN_TIME)
    again = prepare(bad_log, engine, run_time=RUN_TIME)
    assert not first.reused and again.reused and again.events == first.events


def test_users_table_quarantines_repeated_ids(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("uid,when\nu1,2024-01-01\n")
    (tmp_path / "u.csv").write_text("id,signup,plan\nu1,2023-05-01,pro\nu1,2023-06-01,free\n")
    events = {"path": "e.csv", "format": "csv", "columns": {"user_id": "uid", "ts": "when"}}
    users = {
        "path": "u.csv",
        "format": "csv",
        "columns": {"user_id": "id", "signup_ts": "signup", "attributes": ["plan"]},
    }
    prepared = prepare(make_config(tmp_path, events, users=users), DuckDBEngine(), RUN_TIME)
    assert prepared.users is not None
    assert prepared.users.quarantined == {"duplicate_user": 1}
    kept = pd.read_parquet(prepared.users.output)
    assert kept.to_dict("records") == [
        {"user_id": "u1", "signup_ts": pd.Timestamp("2023-05-01"), "plan": "pro"}
    ]
