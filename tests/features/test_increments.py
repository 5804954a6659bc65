"""A log that grows by files is validated by what is new, and ends up exactly as if every
file had been validated at once."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.config import DatasetConfig, parse_config
from features.engine import DuckDBEngine
from features.loading import Prepared, canonical_events, prepare

RUN_TIME = dt.datetime(2024, 6, 1)
HEADER = "uid,when,kind,amount"
# Each field has one spelling, so rows equal as text are exactly the rows equal as canonical
# values (an increment compares canonical values, see `features.loading`).
USERS = ("u1", "u2", "u3")
TIMES = ("2024-01-01T10:00:00", "2024-01-02T10:00:00", "2099-01-01T00:00:00", "nope")
KINDS = ("visit", "purchase", "teleport")
AMOUNTS = ("0", "5", "-1", "")
ROW = st.tuples(
    st.sampled_from(USERS), st.sampled_from(TIMES), st.sampled_from(KINDS), st.sampled_from(AMOUNTS)
)


def config(folder: Path, workdir: str, duplicates: str = "quarantine") -> DatasetConfig:
    data: dict[str, Any] = {
        "name": "t",
        "workdir": workdir,
        "events": {
            "path": str(folder / "day-*.csv"),
            "format": "csv",
            "columns": {"user_id": "uid", "ts": "when", "event": "kind", "value": "amount"},
            "event_types": ["visit", "purchase"],
            "duplicates": duplicates,
        },
        "churn": {
            "mode": "inactivity",
            "horizon_days": 30,
            "active_window_days": 60,
            "lapsed_after_days": 60,
        },
        "cutoffs": {"start": "2024-01-01", "end": "2024-03-01", "step_days": 30},
        "model": {"name": "t"},
    }
    return parse_config(data, folder / "config.yaml")


def write_day(folder: Path, number: int, rows: list[tuple[str, ...]]) -> Path:
    path = folder / f"day-{number:03d}.csv"
    path.write_text("\n".join([HEADER, *(",".join(row) for row in rows)]) + "\n")
    return path


def canonical(prepared: Prepared) -> pd.DataFrame:
    frame = canonical_events(DuckDBEngine(), prepared).to_pandas()
    return frame.sort_values(list(frame.columns), ignore_index=True)


def summary(prepared: Prepared) -> tuple[Any, ...]:
    report = prepared.events
    return (
        report.rows_read,
        report.rows_good,
        report.quarantined,
        report.users,
        report.first_ts,
        report.last_ts,
        report.repeats_kept,
    )


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    days=st.lists(st.lists(ROW, min_size=1, max_size=6), min_size=2, max_size=4),
    duplicates=st.sampled_from(["quarantine", "keep"]),
)
def test_adding_files_one_at_a_time_equals_validating_them_all_at_once(
    tmp_path_factory: Any, days: list[list[tuple[str, ...]]], duplicates: str
) -> None:
    folder = tmp_path_factory.mktemp("days")
    engine = DuckDBEngine()
    step = config(folder, "step", duplicates)
    write_day(folder, 0, [("u1", TIMES[0], "visit", "0"), *days[0]])  # one usable row at least
    prepare(step, engine, run_time=RUN_TIME)
    for number, rows in enumerate(days[1:], start=1):
        added = write_day(folder, number, rows)
        grown = prepare(step, engine, run_time=RUN_TIME)
        assert grown.increment is not None and grown.increment.source == str(added)
    once = prepare(config(folder, "once", duplicates), engine, run_time=RUN_TIME)
    assert once.increment is None and not once.events.parts
    assert len(grown.events.parts) == len(days) - 1
    assert summary(grown) == summary(once)
    pd.testing.assert_frame_equal(canonical(grown), canonical(once))
    quarantined = pd.concat(
        pd.read_parquet(path) for path in [grown.events.quarantine, *grown.events.quarantine_parts]
    )
    assert len(quarantined) == sum(once.events.quarantined.values())


def test_a_repeat_of_an_earlier_days_row_is_quarantined_as_a_duplicate(tmp_path: Path) -> None:
    engine = DuckDBEngine()
    cfg = config(tmp_path, "work")
    write_day(tmp_path, 0, [("u1", TIMES[0], "visit", "0"), ("u2", TIMES[1], "purchase", "5")])
    first = prepare(cfg, engine, run_time=RUN_TIME)
    write_day(tmp_path, 1, [("u2", TIMES[1], "purchase", "5"), ("u3", TIMES[1], "visit", "0")])
    second = prepare(cfg, engine, run_time=RUN_TIME)
    assert second.increment is not None
    assert second.increment.rows_read == 2 and second.increment.quarantined == {"duplicate": 1}
    assert second.events.rows_good == first.events.rows_good + 1
    assert second.events.users == 3 and prepare(cfg, engine, run_time=RUN_TIME).reused
    bad = pd.read_parquet(second.events.quarantine_parts[0])
    assert bad[["source_row", "reason", "uid"]].values.tolist() == [[2, "duplicate", "u2"]]


def test_a_changed_or_removed_file_validates_everything_again(tmp_path: Path) -> None:
    engine = DuckDBEngine()
    cfg = config(tmp_path, "work")
    first_day = write_day(tmp_path, 0, [("u1", TIMES[0], "visit", "0")])
    write_day(tmp_path, 1, [("u2", TIMES[1], "visit", "0")])
    prepare(cfg, engine, run_time=RUN_TIME)
    write_day(tmp_path, 2, [("u3", TIMES[1], "visit", "0")])
    assert prepare(cfg, engine, run_time=RUN_TIME).events.parts
    first_day.write_text(f"{HEADER}\nu1,{TIMES[0]},purchase,7\n")
    stamp = first_day.stat().st_mtime_ns + 1_000_000_000
    os.utime(first_day, ns=(stamp, stamp))
    again = prepare(cfg, engine, run_time=RUN_TIME)
    assert again.increment is None and not again.events.parts and not again.reused
    assert canonical(again).value.tolist() == [7.0, 0.0, 0.0]
    assert not (tmp_path / "work" / "data" / "events-parts").exists()
    first_day.unlink()
    gone = prepare(cfg, engine, run_time=RUN_TIME)
    assert gone.events.rows_read == 2 and not gone.events.parts
