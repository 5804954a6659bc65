"""Spark runs the same Ibis features and validation as DuckDB and gets the same answers.

DuckDB is the reference here (the other feature tests check it against plain pandas), so
each Spark result is compared with DuckDB's on the same input. One local session serves the
whole file: starting Spark costs about 15 s, each query a few more.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from core.config import ConfigError, load_config
from features.config import ChurnConfig, FileSource, SparkConfig
from features.engine import SOURCE_FILE, SOURCE_ROW, DuckDBEngine, Engine
from features.loading import prepare
from features.snapshots import build_snapshots
from features.spark_engine import MASTER_ENV, SparkEngine, session_conf, spark_pattern
from features.spec import FeatureSet
from features.synthetic import EVENT_TYPES, SyntheticSpec, generate, write
from serving.online_store import current_version, store_root
from tests.features.test_validation import HEADER, ROWS, RUN_TIME, csv_events, make_config
from winback.cli.main import app

REPO = Path(__file__).resolve().parents[2]
KEYS = ["cutoff", "user_id"]
OBSERVED = dt.date(2025, 5, 1)  # the generated log covers 2025-01-01 to 2025-04-30
TEST_CONF = {
    "spark.sql.shuffle.partitions": "2",
    # Small splits, so text files are read in many blocks and line numbers must span them.
    "spark.sql.files.maxPartitionBytes": "256k",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.log.level": "ERROR",
    # The JVM's quick compiler only: starts Spark in about half the time; runs here are short.
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1",
}


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkEngine]:
    settings = SparkConfig(master="local[2]", conf=TEST_CONF)
    engine = SparkEngine.from_config(settings)
    yield engine
    engine.session.stop()


def assert_same_parquet(duckdb_file: Path, spark_file: Path) -> None:
    """Same columns and types; exact for integers, strings and labels, floats to 1e-9
    relative; nulls and NaNs in the same places. Rows are matched by (cutoff, user_id)."""
    order = [(key, "ascending") for key in KEYS]
    ours, theirs = pq.read_table(duckdb_file), pq.read_table(spark_file)
    assert theirs.select(KEYS).equals(theirs.sort_by(order).select(KEYS)), "not in key order"
    assert [(f.name, f.type) for f in theirs.schema] == [(f.name, f.type) for f in ours.schema]
    ours, theirs = ours.sort_by(order), theirs.sort_by(order)
    for name in ours.column_names:
        a, b = ours[name], theirs[name]
        assert a.is_null().equals(b.is_null()), f"{name}: nulls differ"
        if pa.types.is_floating(a.type):
            assert pc.is_nan(a).equals(pc.is_nan(b)), f"{name}: NaNs differ"
            np.testing.assert_allclose(
                a.to_numpy(), b.to_numpy(), rtol=1e-9, atol=0, equal_nan=True, err_msg=name
            )
        else:
            assert a.equals(b), f"{name}: values differ"


def synthetic_tables(engine: Engine, data: Path) -> tuple[ir.Table, ir.Table]:
    return (
        engine.con.read_parquet(str(data / "events.parquet")),
        engine.con.read_parquet(str(data / "users.parquet")),
    )


@pytest.mark.integration
def test_a_generated_log_gives_the_same_snapshots(spark: SparkEngine, tmp_path: Path) -> None:
    log = generate(SyntheticSpec(users=300, days=120, seed=11))
    # Sub-second times, so recency and tenure must keep fractions of a second on both.
    jitter = np.random.default_rng(11).integers(0, 1_000_000, len(log.events))
    events = log.events.assign(ts=log.events.ts + pd.to_timedelta(jitter, unit="us"))
    data = tmp_path / "data"
    write(type(log)(events=events, users=log.users, truth=log.truth), data)
    spec = FeatureSet(
        windows_days=(7, 30, 60),
        trend_window_days=14,
        event_types=EVENT_TYPES,
        has_values=True,
        has_sessions=True,
        attributes=("plan", "channel", "region"),
        has_signup=True,
    )
    churn = ChurnConfig(
        mode="event",
        churn_events=["cancel"],
        horizon_days=21,
        active_window_days=30,
        lapsed_after_days=45,
        min_tenure_days=14,
    )
    cutoffs = [dt.date(2025, 2, 1) + dt.timedelta(days=21 * i) for i in range(4)]
    outputs = []
    for engine in (DuckDBEngine(), spark):
        expr = build_snapshots(*synthetic_tables(engine, data), cutoffs, spec, churn, OBSERVED)
        out = tmp_path / f"{engine.name}.parquet"
        engine.write_parquet(expr, out)
        outputs.append(out)
    assert_same_parquet(*outputs)


def cdnow_config(tmp_path: Path, name: str) -> Path:
    """The shipped CDNOW config, writing under tmp_path (the raw log is read where it is)."""
    shipped = REPO / "configs" / "cdnow.yaml"
    data = yaml.safe_load(shipped.read_text())
    data["workdir"] = str(tmp_path / name)
    data["events"]["path"] = str((shipped.parent / data["events"]["path"]).resolve())
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.integration
def test_features_build_on_spark_writes_the_same_cdnow_parquet(
    spark: SparkEngine, tmp_path: Path
) -> None:
    """The command's own SparkEngine gets the session `spark` started (getOrCreate)."""
    runner = CliRunner()
    outputs = {}
    for engine in ("duckdb", "spark"):
        config = cdnow_config(tmp_path, engine)
        out = tmp_path / f"{engine}.parquet"
        args = ["features", "build", "-c", str(config), "--out", str(out), "--engine", engine]
        args += ["--cutoffs", "1997-07-01:1998-03-31:120"]  # 3 of the config's 9: quicker
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        outputs[engine] = out
    assert_same_parquet(outputs["duckdb"], outputs["spark"])
    reports = {
        engine: json.loads((tmp_path / engine / "validation.json").read_text())["events"]
        for engine in outputs
    }
    for report in reports.values():
        for where in ("output", "quarantine"):
            report.pop(where)
    assert reports["spark"] == reports["duckdb"]
    assert reports["spark"]["rows_read"] == 69_659 and reports["spark"]["repeats_kept"] == 255


@pytest.mark.integration
def test_validation_done_by_one_engine_is_not_reused_by_the_other(
    spark: SparkEngine, tmp_path: Path
) -> None:
    """The engines differ on a few loose timestamp forms, so the cache is keyed by engine."""
    config = load_config(cdnow_config(tmp_path, "cache"))
    first = prepare(config, DuckDBEngine())
    assert prepare(config, DuckDBEngine()).reused
    other = prepare(config, spark)
    assert not other.reused and other.fingerprint != first.fingerprint
    assert prepare(config, spark).reused


@pytest.mark.integration
def test_materialize_on_spark_writes_the_same_online_store(
    spark: SparkEngine, tmp_path: Path
) -> None:
    runner = CliRunner()
    stores = {}
    for engine in ("duckdb", "spark"):
        config = cdnow_config(tmp_path, engine)
        args = ["materialize", "-c", str(config), "--cutoff", "1998-01-01", "--engine", engine]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        stores[engine] = current_version(store_root(load_config(config))).parquet_path
    assert_same_parquet(stores["duckdb"], stores["spark"])


@pytest.mark.integration
def test_bad_rows_get_the_same_quarantine_reasons(spark: SparkEngine, tmp_path: Path) -> None:
    (tmp_path / "events.csv").write_text("\n".join([HEADER] + [line for line, _ in ROWS]) + "\n")
    config = make_config(tmp_path, csv_events("events.csv"))
    results: dict[str, Any] = {}
    for engine in (DuckDBEngine(), spark):
        workdir = tmp_path / engine.name
        prepared = prepare(
            config.model_copy(update={"workdir": str(workdir)}), engine, run_time=RUN_TIME
        )
        quarantine = pd.read_parquet(prepared.events.quarantine).sort_values("source_row")
        quarantine = quarantine.reset_index(drop=True)
        good = pd.read_parquet(prepared.events.output).sort_values(["user_id", "ts"])
        good = good.reset_index(drop=True)
        results[engine.name] = (prepared.events.quarantined, quarantine, good)
    expected = [(i + 2, reason) for i, (_, reason) in enumerate(ROWS) if reason is not None]
    reasons, quarantine, good = results["spark"]
    assert list(zip(quarantine.source_row, quarantine.reason, strict=True)) == expected
    assert reasons == results["duckdb"][0]
    pd.testing.assert_frame_equal(quarantine, results["duckdb"][1])
    pd.testing.assert_frame_equal(good, results["duckdb"][2])


TEXTS = [
    "2024-01-05T00:00:00+02:00",
    "2024-01-05 00:00:00",
    "2024-01-05T10:00:00Z",
    "2024-01-05 10:00:00.123456",
    "2024-02-01",
    "2024-1-5",
    "2024",
    "2024-05",
    "12:00:00",
    "notadate",
    "19970101",
    "19971231",
    "5/1/24 9:30",
    "05/01/69 09:30",
    "31/12/68 23:59",
    "32/01/24 00:00",
    "5 jan 2024 10:00:00.5",
    "05 Feb 2024 10:00:00.123456",
    "2024-06-01T12:00:00",
    "2024-03-31T02:30:00",  # not a Berlin time: clocks jump from 02:00 to 03:00
    "2024-10-27T02:30:00",  # twice a Berlin time: clocks go back from 03:00 to 02:00
]
FORMATS = [None, "%Y%m%d", "%d/%m/%y %H:%M", "%d %b %Y %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S"]
ZONES = ["UTC", "Europe/Berlin"]
# (format, text, zone) where the engines disagree: skipped here, and reported.
KNOWN_DIFFERENCES = {
    (None, "5/1/24 9:30", "UTC"): "DuckDB's cast reads 24 January of the year 5, Spark's nothing",
    (None, "5/1/24 9:30", "Europe/Berlin"): "the same",
    (None, "32/01/24 00:00", "UTC"): "DuckDB's cast reads 24 January of the year 32",
    (None, "32/01/24 00:00", "Europe/Berlin"): "the same",
    (None, "2024-10-27T02:30:00", "Europe/Berlin"): "DuckDB takes the second 02:30 (CET), "
    "Spark the first (CEST)",
    ("%Y-%m-%dT%H:%M:%S", "2024-10-27T02:30:00", "Europe/Berlin"): "the same",
}


def parsed(engine: Engine) -> dict[tuple[str | None, str, str], Any]:
    """Every text through every format, in UTC and in a zone with summer time."""
    table = ibis.memtable({"text": TEXTS})
    cases = [(fmt, zone) for fmt in FORMATS for zone in ZONES]
    columns = {f"c{i}": engine.parse_timestamp(table.text, *case) for i, case in enumerate(cases)}
    result = engine.con.to_pyarrow(table.select(**columns))
    return {
        (fmt, text, zone): value
        for i, (fmt, zone) in enumerate(cases)
        for text, value in zip(TEXTS, result.column(f"c{i}").to_pylist(), strict=True)
    }


@pytest.mark.integration
def test_text_timestamps_parse_as_on_duckdb(spark: SparkEngine) -> None:
    ours, theirs = parsed(DuckDBEngine()), parsed(spark)
    differ = {case for case, value in ours.items() if theirs[case] != value}
    assert differ == KNOWN_DIFFERENCES.keys()


@pytest.mark.integration
def test_parquet_rows_keep_their_file_and_row_number(spark: SparkEngine, tmp_path: Path) -> None:
    folder = tmp_path / "a b%20c"  # names Spark has to escape in its URIs
    folder.mkdir()
    for part in range(2):
        frame = pd.DataFrame(
            {"uid": [f"u{part}", None, "x"], "when": ["2024-01-01", "2024-01-02", None]}
        )
        frame.to_parquet(folder / f"part-{part}.parquet")
    source = FileSource(path=str(folder / "part-*.parquet"), format="parquet")
    read = [
        engine.con.to_pyarrow(engine.read(source)).sort_by(
            [(SOURCE_FILE, "ascending"), (SOURCE_ROW, "ascending")]
        )
        for engine in (DuckDBEngine(), spark)
    ]
    assert read[1].to_pylist() == read[0].to_pylist()


@pytest.mark.parametrize(
    ("fmt", "pattern"),
    [
        ("%Y%m%d", "yyyyMMdd"),
        ("%Y-%m-%d %H:%M:%S", "yyyy-M-d H:m:s"),
        ("%Y-%m-%dT%H:%M:%S.%f", "yyyy-M-d'T'H:m:s.SSSSSS"),
        ("%d %b %y", "d MMM yy"),
        ("%%Y [%Y]", "%'Y' '['yyyy']'"),
    ],
)
def test_ts_format_becomes_a_spark_pattern(fmt: str, pattern: str) -> None:
    assert spark_pattern(fmt)[0] == pattern


@pytest.mark.parametrize(
    ("fmt", "message"),
    [("%a %d", "%a is not supported on the Spark engine"), ("%Y%", "a lone % ends it")],
)
def test_an_unsupported_directive_is_a_clear_error(fmt: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        spark_pattern(fmt)


def test_session_settings_come_from_config_and_environment() -> None:
    settings = SparkConfig(master="local[2]", conf={"spark.executor.memory": "4g"})
    assert session_conf(settings, {}) == {
        "spark.executor.memory": "4g",
        "spark.master": "local[2]",
        "spark.sql.session.timeZone": "UTC",
    }
    assert session_conf(settings, {MASTER_ENV: "spark://head:7077"})["spark.master"] == (
        "spark://head:7077"
    )
    # Unset: spark-submit's --master (or PySpark's local[*]) decides.
    assert "spark.master" not in session_conf(SparkConfig(), {})


def test_the_engine_section_is_typed_and_strict(tmp_path: Path) -> None:
    events = {"path": "e.csv", "format": "csv", "columns": {"user_id": "u", "ts": "t"}}
    conf = {"spark.sql.shuffle.partitions": 8, "spark.sql.adaptive.enabled": True}
    engine = {"kind": "spark", "spark": {"master": "local[2]", "conf": conf}}
    config = make_config(tmp_path, events, engine=engine)
    assert config.engine.kind == "spark"
    assert config.engine.spark.conf == {
        "spark.sql.shuffle.partitions": "8",
        "spark.sql.adaptive.enabled": "true",
    }
    assert make_config(tmp_path, events).engine.kind == "duckdb"
    with pytest.raises(ConfigError, match=r"engine\.spark\.mastr: Extra inputs"):
        make_config(tmp_path, events, engine={"kind": "spark", "spark": {"mastr": "yarn"}})
    with pytest.raises(ConfigError, match=r"engine\.kind: Input should be 'duckdb' or 'spark'"):
        make_config(tmp_path, events, engine={"kind": "polars"})
