"""Generated malformed sources through `winback validate`: every run either accounts for
every row (kept + quarantined = read, and the files hold those counts) or ends in one line
with exit code 2. Never a traceback."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.winback.test_input_faults import write_config
from winback.cli.main import app

runner = CliRunner()
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
TOKENS = [
    "u1", "u2", "", " ", "2024-01-01", "2024-01-01T10:00:00+02:00", "20240101", "2025-13-45",
    "notadate", "1.5", "-3", "nan", "inf", "1e400", "abc", '"q"', '"a,b"', '"open', 'x"y',
    "ü", "\t",
]  # fmt: skip
ENDINGS = st.sampled_from(["\n", "\r\n", "\r"])


def check_run(folder: Path, events: Path, fmt: str) -> None:
    result = runner.invoke(
        app, ["validate", "-c", str(write_config(folder, events, fmt)), "--as-of", "2025-01-01"]
    )
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.output
        return
    report = json.loads((folder / "work" / "validation.json").read_text())["events"]
    quarantined = sum(report["quarantined"].values())
    assert report["rows_good"] + quarantined == report["rows_read"]
    assert pq.read_metadata(report["output"]).num_rows == report["rows_good"]
    if quarantined:
        assert pq.read_metadata(report["quarantine"]).num_rows == quarantined


@st.composite
def csv_text(draw: st.DrawFn) -> bytes:
    rows = draw(st.lists(st.lists(st.sampled_from(TOKENS), max_size=5), max_size=6))
    lines = ["uid,when,amount", *(",".join(fields) for fields in rows)]
    return "".join(line + draw(ENDINGS) for line in lines).encode()


@st.composite
def whitespace_text(draw: st.DrawFn) -> bytes:
    plain = [token for token in TOKENS if token.strip() and " " not in token]
    rows = draw(st.lists(st.lists(st.sampled_from(plain), max_size=5), max_size=6))
    gaps = st.sampled_from([" ", "  ", "\t", " \t "])
    lines = ["uid when amount", *(draw(gaps).join(fields) for fields in rows)]
    return "".join(line + draw(ENDINGS) for line in lines).encode()


@given(csv_text())
@FUZZ
def test_generated_csv_is_accounted_for_or_one_line(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as name:
        (Path(name) / "events.csv").write_bytes(content)
        check_run(Path(name), Path(name) / "events.csv", "csv")


@given(whitespace_text())
@FUZZ
def test_generated_whitespace_text_is_accounted_for_or_one_line(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as name:
        (Path(name) / "events.txt").write_bytes(content)
        check_run(Path(name), Path(name) / "events.txt", "whitespace")


COLUMNS = {
    "uid": st.sampled_from([pa.string(), pa.int64()]),
    "when": st.sampled_from([pa.string(), pa.int64(), pa.timestamp("us"), pa.date32()]),
    "amount": st.sampled_from([pa.float64(), pa.string(), pa.int32()]),
}
VALUES = {
    pa.string(): st.sampled_from(TOKENS),
    pa.int64(): st.integers(-5, 10**6),
    pa.int32(): st.integers(-5, 100),
    pa.float64(): st.floats(allow_nan=True, allow_infinity=True),
    pa.timestamp("us"): st.datetimes(),
    pa.date32(): st.dates(),
}


@st.composite
def parquet_table(draw: st.DrawFn) -> pa.Table:
    names = draw(st.lists(st.sampled_from(list(COLUMNS)), unique=True, min_size=1))
    rows = draw(st.integers(0, 6))
    columns = {}
    for name in names:
        kind = draw(COLUMNS[name])
        values = draw(st.lists(st.none() | VALUES[kind], min_size=rows, max_size=rows))
        columns[name] = pa.array(values, type=kind)
    return pa.table(columns)


@given(parquet_table())
@FUZZ
def test_generated_parquet_is_accounted_for_or_one_line(table: pa.Table) -> None:
    with tempfile.TemporaryDirectory() as name:
        pq.write_table(table, Path(name) / "events.parquet")
        check_run(Path(name), Path(name) / "events.parquet", "parquet")
