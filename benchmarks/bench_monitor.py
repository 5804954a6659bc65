"""`winback monitor` over 12 ledger snapshots of every user of the benchmark's log (100k users
x 365 days), as a whole process: wall time, CPU time and peak RSS from `benchmarks.launch`.

The reference, measured in the same run, is `winback score` of those same snapshots, the
command whose output the monitor reads: each of the 12 scorings is one process, and the
monitor's cost is given as a multiple of one. Setup (validate, train on cutoffs before the
snapshots with one booster setting, materialize) is timed too but judged on nothing. The
snapshots are 14 days apart and end 24 days before the log does, so with the 30-day horizon
the first 11 are matured (labelled from the log, bootstrap intervals) and the last is open
(drift and CBPE): both paths are in the time.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import statistics
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from benchmarks import bench_cli, data, results_file
from benchmarks.machine import load_before, machine, machine_line

RESULTS = Path(__file__).resolve().parent / "results"
SNAPSHOTS = 12
STEP_DAYS = 14
LAST_BEFORE_END_DAYS = 24  # < the 30-day horizon: the last snapshot is still open
TRAINING_CUTOFFS = {"start": "2025-04-01", "end": "2025-07-01", "step_days": 30}

console = Console()


def snapshot_cutoffs(observed_until: dt.date) -> list[dt.date]:
    last = observed_until - dt.timedelta(days=LAST_BEFORE_END_DAYS)
    return [last - dt.timedelta(days=STEP_DAYS * k) for k in reversed(range(SNAPSHOTS))]


def write_config(bench: data.BenchData, folder: Path) -> Path:
    """The CLI benchmark's config with a fresh workdir (so the ledger holds only this run's
    snapshots), training cutoffs before the snapshots and one booster setting."""
    shutil.rmtree(folder / "work", ignore_errors=True)
    path = bench_cli.write_config(bench, folder)
    config = yaml.safe_load(path.read_text())
    config["name"] = "bench-monitor"
    config["cutoffs"] = TRAINING_CUTOFFS
    config["model"] = {"name": "bench-monitor", "search": {"trials": 1}}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _stats(runs: list[dict[str, float]]) -> dict[str, Any]:
    wall = [run["wall_s"] for run in runs]
    return {
        "runs": len(runs),
        "wall_s_median": round(statistics.median(wall), 2),
        "wall_s_runs": [round(value, 2) for value in wall],
        "cpu_s_median": round(statistics.median(run["cpu_s"] for run in runs), 2),
        "peak_mb": round(max(run["peak_mb"] for run in runs), 1),
    }


def markdown(result: dict[str, Any]) -> str:
    monitor, score = result["monitor"], result["score"]
    rows = [
        "| process | runs | wall median (s) | CPU median (s) | peak RSS (MB) |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| `winback monitor`, {result['snapshots']} snapshots x {result['users']:,} users "
        f"| {monitor['runs']} | {monitor['wall_s_median']} | {monitor['cpu_s_median']} "
        f"| {monitor['peak_mb']:,.0f} |",
        f"| `winback score`, one snapshot (reference) | {score['runs']} "
        f"| {score['wall_s_median']} | {score['cpu_s_median']} | {score['peak_mb']:,.0f} |",
    ]
    setup = ", ".join(f"{k} {v} s" for k, v in result["setup_wall_s"].items())
    return (
        "# `winback monitor` benchmark\n\n"
        + "\n".join(rows)
        + f"\n\nMonitor / one score: {result['monitor_vs_one_score']}x wall; "
        f"monitor / all {result['snapshots']} scores: {result['monitor_vs_all_scores']}x. "
        f"{result['matured']} matured and {result['snapshots'] - result['matured']} open "
        f"snapshots; {result['n_events']:,} events; monitor exit {result['monitor_exit']}. "
        f"Setup: {setup}.\n\n" + machine_line(result, ("lightgbm", "mlflow")) + "\n"
    )


def main(small: bool = False, runs: int = 2) -> int:
    """Exit status 1 when the monitor did not judge the snapshots it should have."""
    bench, folder, logs = bench_cli.workspace(small, "monitor")
    config = str(write_config(bench, folder))
    winback = bench_cli.winback_command()
    load_start = load_before(console)

    def run(name: str, *args: str, expect_exit: int | None = 0) -> dict[str, float]:
        report = bench_cli.launch([*winback, *args], logs, name, expect_exit)
        console.print(
            f"  {name:<24} {report['wall_s']:8.2f} s wall {report['cpu_s']:8.2f} s CPU "
            f"{report['peak_mb']:7.0f} MB peak"
        )
        return report

    setup = {name: run(name, name, "-c", config)["wall_s"] for name in ("validate", "train")}
    scores, materialize = [], []
    for cutoff in snapshot_cutoffs(bench.observed_until):
        day = cutoff.isoformat()
        materialize.append(
            run(f"materialize {day}", "materialize", "-c", config, "--cutoff", day, "--force")
        )
        out = str(folder / "scores.parquet")
        scores.append(run(f"score {day}", "score", "-c", config, "--out", out))
    setup["materialize (median)"] = round(statistics.median(r["wall_s"] for r in materialize), 1)
    setup = {k: round(v, 1) for k, v in setup.items()}
    monitors = [run("monitor", "monitor", "-c", config, expect_exit=None) for _ in range(runs)]

    summary = json.loads((folder / "work" / "monitor" / "summary.json").read_text())
    judged = summary["snapshots"]
    matured = sum(s["matured"] for s in judged)
    problems = []
    if len(judged) != SNAPSHOTS or matured != SNAPSHOTS - 1:
        problems.append(
            f"expected {SNAPSHOTS} snapshots, {SNAPSHOTS - 1} matured; got {len(judged)}, {matured}"
        )
    monitor, score = _stats(monitors), _stats(scores)
    result = {
        "users": bench.size.users,
        "n_events": bench.n_events,
        "snapshots": len(judged),
        "matured": matured,
        "monitor": monitor,
        "score": score,
        "monitor_vs_one_score": round(monitor["wall_s_median"] / score["wall_s_median"], 2),
        "monitor_vs_all_scores": round(
            monitor["wall_s_median"] / sum(r["wall_s"] for r in scores), 3
        ),
        "monitor_exit": int(monitors[-1]["exit_code"]),
        "verdict": summary["verdict"],
        "setup_wall_s": setup,
        "load_average": {"start": load_start, "end": os.getloadavg()[0]},
        "machine": machine("lightgbm", "mlflow"),
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks monitor" + (" --small" if small else ""),
    }
    console.print(markdown(result))
    stem = "monitor-small" if small else "monitor"
    return results_file.save(RESULTS, stem, result, markdown, problems, console)
