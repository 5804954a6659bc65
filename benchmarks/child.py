"""A benchmark's measured work runs in a child process of its own (so one run's memory and
imports cannot flatter the next), which prints its report as JSON on its last line."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks import data


def report_of(
    command: list[str], what: str, environment: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The child's report, plus `process_seconds`: its whole life as this process saw it."""
    start = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=data.ROOT,
        env=None if environment is None else dict(environment),
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    report["process_seconds"] = elapsed
    return report


def launched(
    command: list[str],
    logs: Path,
    name: str,
    expect_exit: int | None = 0,
    environment: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One run of `command` as a whole process through `benchmarks.launch` (wall, CPU, peak
    RSS); any exit code is accepted when `expect_exit` is None."""
    out, err = logs / f"{name}.out", logs / f"{name}.err"
    launcher = [sys.executable, "-m", "benchmarks.launch", str(out), str(err), "--", *command]
    report = report_of(launcher, "launcher", environment)
    if expect_exit is not None and report["exit_code"] != expect_exit:
        tail = err.read_text()[-3000:]
        raise RuntimeError(
            f"{' '.join(command)} exited {report['exit_code']}, expected {expect_exit}:\n{tail}"
        )
    return report
