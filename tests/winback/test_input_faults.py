"""Bad input through the real CLI: one line naming file, line, key or path, exit code 2, no
traceback; the same for a workdir that cannot be written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

from winback.cli.main import app

runner = CliRunner()
GOOD = b"uid,when,amount\nu1,2024-01-01,1\nu2,2024-01-02,2\n"


def write_config(folder: Path, events: Path, fmt: str = "csv", cutoffs: str = "") -> Path:
    cutoffs = cutoffs or "{start: 2024-01-01, end: 2024-03-01, step_days: 30}"
    path = folder / "config.yaml"
    path.write_text(
        f"name: t\nworkdir: {folder / 'work'}\n"
        f"events: {{path: '{events}', format: {fmt}, "
        "columns: {user_id: uid, ts: when, value: amount}}\n"
        "churn: {mode: inactivity, horizon_days: 30, active_window_days: 60, "
        "lapsed_after_days: 60}\n"
        f"cutoffs: {cutoffs}\nmodel: {{name: t}}\n"
    )
    return path


def one_line_error(result: Result) -> str:
    """The whole output of a failed command: exactly one line, and exit code 2."""
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def validate(config: Path) -> Result:
    return runner.invoke(app, ["validate", "-c", str(config), "--as-of", "2025-01-01"])


def parquet_bytes(tmp_path: Path) -> bytes:
    pq.write_table(pa.table({"uid": ["u1"]}), tmp_path / "real.parquet")
    return (tmp_path / "real.parquet").read_bytes()


@pytest.mark.parametrize(
    ("name", "fmt", "content", "message"),
    [
        ("short.csv", "csv", GOOD + b"u3,2024-01-03\n", "line 4: expected 3 fields, found 2"),
        ("long.csv", "csv", GOOD + b"u3,2024-01-03,1,9\n", "line 4: expected 3 fields, found 4"),
        (
            "crlf.csv",
            "csv",
            GOOD + b"u3,2024-01-03,3\r\n",
            "line 4 ends in CRLF, line 1 in LF (use one line ending)",
        ),
        (
            "huge.csv",
            "csv",
            GOOD + b"u3,2024-01-03," + b"9" * 2_100_000 + b"\n",
            "line 4: line longer than the limit of 2000000 bytes",
        ),
        ("open.csv", "csv", GOOD + b'u3,"2024-01-03,3\n', "line 4: a quoted field is never closed"),
        ("latin1.csv", "csv", GOOD + b"u\xe9,2024-01-03,3\n", "line 4: not UTF-8 text"),
        ("random.csv", "csv", bytes(range(256)) * 8, "binary data (NUL bytes), not csv text"),
        ("text.parquet", "parquet", GOOD, "not a Parquet file (it does not start with PAR1)"),
        ("twice.csv", "csv", b"uid,uid,amount\nu1,u2,3\n", "line 1: column 'uid' appears more"),
        (
            "crlf.txt",
            "whitespace",
            b"uid when amount\nu1 2024-01-01 1\r\nu2 2024-01-02 2\n",
            "line 2 ends in CRLF, line 1 in LF",
        ),
    ],
)
def test_a_malformed_file_is_one_line_naming_file_and_line(
    tmp_path: Path, name: str, fmt: str, content: bytes, message: str
) -> None:
    events = tmp_path / name
    events.write_bytes(content)
    line = one_line_error(validate(write_config(tmp_path, events, fmt)))
    assert line == f"error: {events}: {message}" or line.startswith(f"error: {events}: {message}")


def test_a_parquet_file_named_csv_is_named_as_parquet(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_bytes(parquet_bytes(tmp_path))
    line = one_line_error(validate(write_config(tmp_path, events)))
    assert line == f"error: {events}: this is a Parquet file, but format is csv"


def test_a_truncated_parquet_file_is_one_line(tmp_path: Path) -> None:
    events = tmp_path / "events.parquet"
    events.write_bytes(parquet_bytes(tmp_path)[:-12])
    line = one_line_error(validate(write_config(tmp_path, events, "parquet")))
    assert f"error: {events}: cannot be read:" in line


def test_the_sniffer_no_longer_drops_a_file_with_one_wide_row(tmp_path: Path) -> None:
    """DuckDB's dialect sniffer read zero rows from this file; now line 3 is named."""
    events = tmp_path / "events.csv"
    events.write_bytes(b"uid,when,amount\nu1,2024-01-01,1\nu2,2024-01-02,2,7\n")
    assert "line 3: expected 3 fields, found 4" in one_line_error(
        validate(write_config(tmp_path, events))
    )


def test_an_impossible_date_in_the_config_names_the_key(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_bytes(GOOD)
    cutoffs = "{start: 2025-13-45, end: 2026-01-01, step_days: 30}"
    line = one_line_error(validate(write_config(tmp_path, events, cutoffs=cutoffs)))
    assert "config.yaml: cutoffs.start:" in line and "(got '2025-13-45')" in line


def test_markup_in_paths_and_columns_is_printed_as_written(tmp_path: Path) -> None:
    folder = tmp_path / "[red]logs[/bold]"
    folder.mkdir(parents=True)
    events = folder / "events.csv"
    events.write_bytes(b"uid,[/bold]when,amount\nu1,2024-01-01,1\n")
    line = one_line_error(validate(write_config(folder, events)))
    assert line == (
        f"error: {events}: column 'when' (mapped as ts) not found; "
        "the file has: uid, [/bold]when, amount"
    )


def test_a_long_path_with_markup_and_glob_characters_is_read_and_printed_whole(
    tmp_path: Path,
) -> None:
    """Rich takes `[red]` for no style, and a path longer than the line (120 columns here)
    folds onto the next lines instead of ending in "…": with the table's rules and the
    spaces taken out, the whole path is there."""
    folder = tmp_path / "[red]logs[/bold]" / ("a-folder-with-a-long-name-" * 4)
    folder.mkdir(parents=True)
    (folder / "events.csv").write_bytes(GOOD)
    result = validate(write_config(folder, folder / "events.csv"))
    assert result.exit_code == 0, result.output
    assert "…" not in result.output
    assert str(folder / "events.csv") in "".join(result.output.replace("│", " ").split())


def test_too_many_cutoffs_in_the_config_is_refused_with_count_and_limit(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_bytes(GOOD)
    cutoffs = "{start: 1990-01-01, end: 2089-12-31, step_days: 1}"
    line = one_line_error(validate(write_config(tmp_path, events, cutoffs=cutoffs)))
    assert "cutoffs: Value error, 36,525 cutoffs" in line and "max_count 400" in line


def test_too_many_cutoffs_on_the_command_line_is_refused(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_bytes(GOOD)
    args = ["features", "build", "-c", str(write_config(tmp_path, events))]
    result = runner.invoke(
        app, [*args, "--out", str(tmp_path / "s.parquet"), "--cutoffs", "1990-01-01:2089-12-31:1"]
    )
    assert result.exit_code == 2
    assert "36,525 cutoffs" in " ".join(result.output.split())
    assert not (tmp_path / "s.parquet").exists()


COMMANDS = [  # the config goes in after the command's name
    ["validate"],
    ["features list"],
    ["features build", "--out", "snap.parquet"],
    ["train"],
    ["models"],
    ["promote", "--version", "1"],
    ["materialize"],
    ["score", "--out", "scores.parquet"],
    ["review", "--campaign", "recall.csv", "--window-days", "7"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_workdir_that_cannot_be_created_is_one_line_naming_it(
    tmp_path: Path, command: list[str]
) -> None:
    """The workdir's parent is a regular file: mkdir fails with NotADirectoryError."""
    events = tmp_path / "events.csv"
    events.write_bytes(GOOD)
    (tmp_path / "work").write_text("not a folder")
    config = write_config(tmp_path, events)
    config.write_text(config.read_text().replace("/work\n", "/work/sub\n"))
    args = [*command[0].split(), "-c", str(config), *command[1:]]
    line = one_line_error(runner.invoke(app, args))
    assert line == f"error: cannot write {tmp_path / 'work' / 'sub'}: Not a directory"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a chmod 0o555 folder anyway")
def test_a_read_only_workdir_is_one_line_naming_it(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_bytes(GOOD)
    (tmp_path / "work").mkdir(mode=0o555)
    line = one_line_error(validate(write_config(tmp_path, events)))
    assert line == f"error: cannot write {tmp_path / 'work'}: Permission denied"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (GOOD + b"u3\n", "line 4: expected 3 fields, found 1"),
        (b"\x00\x01PAR", "binary data (NUL bytes), not csv text"),
    ],
)
def test_the_installed_command_prints_one_line_and_exits_2(
    tmp_path: Path, content: bytes, message: str
) -> None:
    events = tmp_path / "events.csv"
    events.write_bytes(content)
    winback = Path(sys.executable).with_name("winback")
    done = subprocess.run(
        [str(winback), "validate", "-c", str(write_config(tmp_path, events))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip() == f"error: {events}: {message}"
