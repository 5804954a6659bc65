"""Feature build on local Spark beside DuckDB: same log, cutoffs and features, same run.

The log, cutoffs and feature set are `benchmarks.features`'s (benchmarks/data.py), and the
DuckDB number is its "ours" approach, run the same way (a fresh process, imports excluded).
Spark runs in a fresh process too (`python -m benchmarks.bench_spark EVENTS OUT ...`), timed
from reading the events Parquet to the written snapshot file, as `features build --engine
spark` does it; starting the session is reported apart. On one small machine Spark is
expected to be slower: the point is the same answer, and how its work splits into tasks
that more executors would run side by side. That split is read from Spark's own status
tracker and its UI's REST API (stages, tasks per stage, task run times).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from statistics import median
from typing import TYPE_CHECKING, Any
from urllib.request import urlopen

import psutil
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from benchmarks import data, results_file
from benchmarks.bench_features import RESULTS, measure
from benchmarks.child import report_of
from benchmarks.compare import differences
from benchmarks.machine import machine, machine_line

if TYPE_CHECKING:  # pyspark is imported by the Spark run only: it is slow and optional
    from pyspark.sql import SparkSession

MASTER = "local[2]"
# Defaults otherwise (200 shuffle partitions, merged by adaptive execution): what a user
# gets. The heap is raised because local mode runs every executor inside the driver.
SPARK_CONF = {
    "spark.driver.memory": "6g",
    "spark.ui.showConsoleProgress": "false",
    "spark.log.level": "ERROR",
}
JOB_GROUP = "feature-build"
SHOWN = 10  # stages in the Markdown table, most task time first
QUANTILES = "0,0.5,1.0"

console = Console()


def _jvm(process: psutil.Process) -> psutil.Process:
    """The JVM PySpark started for this process (local mode: driver and executors)."""
    (java,) = [child for child in process.children(recursive=True) if "java" in child.name()]
    return java


def _peak_mb(pid: int) -> float:
    """Linux keeps a process's peak RSS (VmHWM) for as long as it runs."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def _get(url: str) -> Any:
    with urlopen(url, timeout=30) as response:
        return json.load(response)


def _role(attempt: dict[str, Any]) -> str:
    """What a stage reads and writes (adaptive execution names most stages alike)."""
    reads = "scan" if attempt["inputBytes"] else "shuffle" if attempt["shuffleReadBytes"] else "-"
    if attempt["shuffleWriteBytes"]:
        return f"{reads} → shuffle"
    return f"{reads} → {'file' if attempt['outputBytes'] else 'driver'}"


def stages(session: SparkSession, group: str) -> list[dict[str, Any]]:
    """Every stage the group's jobs ran: tasks, summed and quantile task run times, and bytes
    in and out. Skipped stages (shuffle output reused) are left out."""
    context = session.sparkContext
    tracker = context.statusTracker()
    jobs = (tracker.getJobInfo(job) for job in tracker.getJobIdsForGroup(group))
    ids = sorted({stage for job in jobs if job is not None for stage in job.stageIds})
    api = f"{context.uiWebUrl}/api/v1/applications/{context.applicationId}/stages"
    found = []
    for stage_id in ids:
        for attempt in _get(f"{api}/{stage_id}"):
            if attempt["status"] != "COMPLETE":
                continue
            summary = _get(
                f"{api}/{stage_id}/{attempt['attemptId']}/taskSummary?quantiles={QUANTILES}"
            )
            fastest, middle, slowest = (ms / 1000 for ms in summary["executorRunTime"])
            found.append(
                {
                    "stage": stage_id,
                    "role": _role(attempt),
                    "tasks": attempt["numTasks"],
                    "task_seconds": round(attempt["executorRunTime"] / 1000, 2),
                    "task_seconds_min_median_max": [
                        round(fastest, 2),
                        round(middle, 2),
                        round(slowest, 2),
                    ],
                    "input_mb": round(attempt["inputBytes"] / 2**20, 1),
                    "shuffle_read_mb": round(attempt["shuffleReadBytes"] / 2**20, 1),
                    "shuffle_write_mb": round(attempt["shuffleWriteBytes"] / 2**20, 1),
                }
            )
    return found


def child(argv: Sequence[str]) -> None:
    """One Spark build in this fresh process; prints its report as one JSON line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("events", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--cutoffs", required=True)
    parser.add_argument("--observed-until", required=True, type=dt.date.fromisoformat)
    args = parser.parse_args(argv)
    cutoffs = [dt.date.fromisoformat(day) for day in args.cutoffs.split(",")]

    from features.config import SparkConfig
    from features.snapshots import build_snapshots
    from features.spark_engine import SparkEngine

    start = time.perf_counter()
    engine = SparkEngine.from_config(SparkConfig(master=MASTER, conf=SPARK_CONF))
    session_seconds = time.perf_counter() - start
    me = psutil.Process()
    java = _jvm(me)
    cpu_start = _cpu_seconds(me) + _cpu_seconds(java)
    engine.session.sparkContext.setJobGroup(JOB_GROUP, "snapshots")
    start = time.perf_counter()
    events = engine.con.read_parquet(str(args.events))
    expr = build_snapshots(events, None, cutoffs, data.SPEC, data.CHURN, args.observed_until)
    engine.write_parquet(expr, args.out)
    seconds = time.perf_counter() - start
    cpu_seconds = _cpu_seconds(me) + _cpu_seconds(java) - cpu_start
    report = {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 + _peak_mb(java.pid),
        "session_seconds": session_seconds,
        "default_parallelism": engine.session.sparkContext.defaultParallelism,
        "stages": stages(engine.session, JOB_GROUP),
    }
    print(json.dumps(report), flush=True)


def measure_spark(bench: data.BenchData, out: Path) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "benchmarks.bench_spark",
        str(bench.events),
        str(out),
        "--cutoffs",
        ",".join(day.isoformat() for day in bench.cutoffs),
        "--observed-until",
        bench.observed_until.isoformat(),
    ]
    return report_of(command, "spark")


def partitioning(report: dict[str, Any]) -> dict[str, Any]:
    """How the build divides: the work in multi-task stages is what more executors share;
    single-task stages are the part that does not scale out."""
    found = report["stages"]
    total = sum(stage["task_seconds"] for stage in found) or 1.0
    serial = sum(stage["task_seconds"] for stage in found if stage["tasks"] == 1)
    scans = [stage["tasks"] for stage in found if stage["input_mb"]]
    shuffles = [stage["tasks"] for stage in found if stage["shuffle_read_mb"]]
    return {
        "stages": len(found),
        "tasks": sum(stage["tasks"] for stage in found),
        "tasks_per_stage": sorted({stage["tasks"] for stage in found}),
        "median_tasks_per_stage": median(stage["tasks"] for stage in found),
        "tasks_per_scan_stage": max(scans, default=0),
        "most_tasks_per_shuffle_stage": max(shuffles, default=0),
        "task_seconds": round(total, 1),
        "task_seconds_in_single_task_stages": round(serial, 1),
        "parallel_share": round(1 - serial / total, 3),
        "concurrency": round(total / report["seconds"], 2),
    }


def best(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest run, with every run's time kept beside it."""
    chosen = dict(min(reports, key=lambda report: report["seconds"]))
    chosen["seconds_runs"] = [round(report["seconds"], 2) for report in reports]
    return chosen


def markdown(result: dict[str, Any]) -> str:
    spec = result["data"]
    duckdb, spark, split = result["duckdb"], result["spark"], result["partitioning"]
    lines = [
        "| Engine | Wall time (s) | CPU time (s) | Peak memory (MB) | Wall time vs DuckDB |",
        "|---|---:|---:|---:|---:|",
        f"| DuckDB (embedded, all cores) | {duckdb['seconds']:.1f} | {duckdb['cpu_seconds']:.1f} "
        f"| {duckdb['peak_mb']:,.0f} | 1.00x |",
        f"| Spark {MASTER} (same Ibis expressions) | {spark['seconds']:.1f} "
        f"| {spark['cpu_seconds']:.1f} | {spark['peak_mb']:,.0f} "
        f"| {spark['seconds'] / duckdb['seconds']:.2f}x |",
        "",
        f"{spec['events']:,} events, {spec['users']:,} users over {spec['days']} days, "
        f"{len(spec['cutoffs'])} cutoffs ({', '.join(spec['cutoffs'])}) → "
        f"{spec['output_rows']:,} snapshot rows x {spec['output_columns']} columns, "
        f"{'identical' if result['outputs_match'] else 'DIFFERENT'} on both engines "
        "(integers exact, floats to 1e-9 relative, nulls in the same places). "
        "Each engine in a fresh process, timed from reading the events Parquet to the "
        "written snapshot file; "
        f"{'best of ' + str(result['runs']) + ' runs' if result['runs'] > 1 else 'one run'}. "
        f"Starting the Spark session took another {spark['session_seconds']:.1f} s. "
        "Spark's CPU time is the driver's Python plus the JVM (local mode runs the "
        "executors in it); its peak memory is both processes' peak RSS.",
        "",
        "How the Spark build divides into tasks (from the status tracker and the UI's REST API):",
        "",
        f"- {split['stages']} stages, {split['tasks']} tasks; tasks per stage: "
        f"{', '.join(str(n) for n in split['tasks_per_stage'])} "
        f"(median {split['median_tasks_per_stage']}).",
        f"- Scans: {split['tasks_per_scan_stage']} tasks, one per input split (the "
        f"{spec['events_mb']:.0f} MB events file over {spark['default_parallelism']} task "
        "slots). Parquet splits at row-group boundaries: this file has "
        f"{spec['row_groups']} row group(s), so at most {spec['row_groups']} scan task(s) "
        "read data however many slots there are; more files or row groups allow more.",
        "- Shuffles: tasks follow `spark.sql.shuffle.partitions` (200), as adaptive "
        "execution merges small partitions and splits skewed ones: up to "
        f"{split['most_tasks_per_shuffle_stage']} here; they run on every executor at once.",
        f"- {split['task_seconds']:.1f} s of task time in {spark['seconds']:.1f} s of wall time: "
        f"{split['concurrency']:.2f} tasks running on average, with "
        f"{spark['default_parallelism']} task slots.",
        f"- {split['parallel_share']:.0%} of task time is in stages of several tasks, which "
        "more executors share; "
        f"{split['task_seconds_in_single_task_stages']:.1f} s is in single-task stages.",
        "",
        "| Stage: reads → writes | Tasks | Task time (s) | Per task min / median / max (s) "
        "| Input MB | Shuffle read MB | Shuffle write MB |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    heaviest = sorted(spark["stages"], key=lambda stage: -stage["task_seconds"])[:SHOWN]
    for stage in heaviest:
        quantiles = " / ".join(f"{s:.2f}" for s in stage["task_seconds_min_median_max"])
        lines.append(
            f"| {stage['stage']}: {stage['role']} | {stage['tasks']} | {stage['task_seconds']:.1f} "
            f"| {quantiles} | {stage['input_mb']:.1f} | {stage['shuffle_read_mb']:.1f} "
            f"| {stage['shuffle_write_mb']:.1f} |"
        )
    lines += [
        "",
        f"Stages by task time ({len(heaviest)} of {split['stages']}; all with their details "
        f"in {RESULTS.name}/{result['stem']}.json).",
        "",
        machine_line(
            result,
            ("duckdb", "ibis-framework", "pyspark"),
            f"; Spark settings: {', '.join(f'{k}={v}' for k, v in result['spark_conf'].items())}",
        ),
    ]
    return "\n".join(lines) + "\n"


def show(result: dict[str, Any]) -> None:
    table = Table(title=f"Feature build, {result['data']['events']:,} events")
    for heading in ("Engine", "Seconds", "CPU s", "Peak MB"):
        table.add_column(heading, justify="left" if heading == "Engine" else "right")
    for name in ("duckdb", "spark"):
        row = result[name]
        table.add_row(
            name, f"{row['seconds']:.2f}", f"{row['cpu_seconds']:.2f}", f"{row['peak_mb']:,.0f}"
        )
    console.print(table)
    console.print(result["partitioning"])


def main(small: bool = False, runs: int = 2) -> int:
    """Exit status 1 if the two engines' tables differ."""
    size = data.SMALL if small else data.FULL
    with console.status(f"preparing {size.users:,} users x {size.days} days of events"):
        bench = data.prepare(size)
    out_dir = data.CACHE / "out" / bench.events.parent.name
    paths = {
        "duckdb": out_dir / "spark-bench-duckdb.parquet",
        "spark": out_dir / "spark-bench-spark.parquet",
    }
    load_start = os.getloadavg()[0]
    reports: dict[str, list[dict[str, Any]]] = {"duckdb": [], "spark": []}
    for round_number in range(runs):
        console.print(f"[bold]run {round_number + 1}/{runs}[/bold]")
        reports["duckdb"].append(measure("ours", bench, paths["duckdb"]))
        reports["spark"].append(measure_spark(bench, paths["spark"]))
        for name, found in reports.items():
            console.print(
                f"  {name:<7} {found[-1]['seconds']:8.2f} s  {found[-1]['cpu_seconds']:8.2f} s CPU"
            )
    load_end = os.getloadavg()[0]

    tables = {name: pq.read_table(path) for name, path in paths.items()}
    problems = differences(tables["duckdb"], tables["spark"], "spark")
    spark = best(reports["spark"])
    stem = "spark-small" if small else "spark"
    result = {
        "benchmark": "spark",
        "stem": stem,
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "data": {
            **bench.facts(),
            "events_mb": round(bench.events.stat().st_size / 2**20, 1),
            "row_groups": pq.ParquetFile(bench.events).metadata.num_row_groups,
            "output_rows": tables["duckdb"].num_rows,
            "output_columns": tables["duckdb"].num_columns,
        },
        "machine": machine("pyspark"),
        "runs": runs,
        "spark_master": MASTER,
        "spark_conf": SPARK_CONF,
        "duckdb": best(reports["duckdb"]),
        "spark": spark,
        "partitioning": partitioning(spark),
        "load_average": {"start": load_start, "end": load_end},
        "command": "python -m benchmarks spark" + (" --small" if small else "") + f" --runs {runs}",
        "outputs_match": not problems,
        "differences": problems,
    }
    show(result)
    return results_file.save(RESULTS, stem, result, markdown, problems, console)


if __name__ == "__main__":
    child(sys.argv[1:])
