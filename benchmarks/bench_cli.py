"""The CLI as users run it: each command a whole process, timed from start to exit.

Quick commands (`winback --help`, `winback features list`, an argument error) run after a
warm-up, several times each, and are judged on their median wall time. `winback features
build` on the feature benchmark's log and cutoffs is timed against the hand-written DuckDB
SQL (`benchmarks.features_sql`) run as a process of its own on the same canonical events
Parquet, writing the same snapshot Parquet: the two alternate (A B A B ...) so drift on a
shared machine hits both alike, and the target is judged on the median of the pair ratios.
Every process is spawned and reaped by `benchmarks.launch`, which reports its wall time,
CPU time and peak RSS (`os.wait4`). The timings count only if the two outputs are the same
table.

`winback validate` runs once before any timing: `features build` reuses the validated
canonical Parquet while the sources are unchanged, as it does for a user who validated first.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from benchmarks import data, results_file
from benchmarks.child import launched
from benchmarks.machine import load_before, machine, machine_line

RESULTS = Path(__file__).resolve().parent / "results"
QUICK_MAX_S = 0.5  # targets from the issue: medians of whole processes
MAX_VS_SQL = 1.3
MAX_PEAK_MB = 2048.0  # 2 GiB, in MiB like every peak here
QUICK_RUNS = 9  # after one warm-up
MIN_PAIRS = 5
ARGUMENT_ERROR_EXIT = 2
BUSY_LOAD = 1.0  # 1-minute load average above which the results say other work ran

console = Console()


@dataclass
class Series:
    """Every timed run of one command (the warm-up is kept apart)."""

    name: str
    command: list[str]
    runs: list[dict[str, float]] = field(default_factory=list)
    warmup: dict[str, float] | None = None

    def values(self, key: str) -> list[float]:
        return [run[key] for run in self.runs]

    def median(self, key: str) -> float:
        return statistics.median(self.values(key))

    def stats(self) -> dict[str, Any]:
        wall = self.values("wall_s")
        return {
            "runs": len(self.runs),
            "wall_s": {
                "min": round(min(wall), 3),
                "median": round(statistics.median(wall), 3),
                "max": round(max(wall), 3),
            },
            "cpu_s_median": round(self.median("cpu_s"), 3),
            "peak_mb": round(max(self.values("peak_mb")), 1),
            "wall_s_runs": [round(value, 3) for value in wall],
            "cpu_s_runs": [round(value, 3) for value in self.values("cpu_s")],
            "peak_mb_runs": [round(value, 1) for value in self.values("peak_mb")],
            "warmup_wall_s": None if self.warmup is None else round(self.warmup["wall_s"], 3),
            "command": " ".join(self.command),
        }


def winback_command() -> list[str]:
    """The `winback` script next to this interpreter (what `make install` puts on PATH)."""
    script = Path(sys.executable).with_name("winback")
    return [str(script)] if script.exists() else [sys.executable, "-m", "winback.cli"]


def launch(
    command: list[str], logs: Path, name: str, expect_exit: int | None = 0
) -> dict[str, float]:
    """One run of `command` as a whole process, through the small launcher (any exit code
    is accepted when `expect_exit` is None)."""
    return launched(command, logs, name, expect_exit)


def workspace(small: bool, room: str) -> tuple[data.BenchData, Path, Path]:
    """The benchmark's log (generated once, then cached) and a folder of the benchmark's own
    beside it: (log, folder, folder for each process's output)."""
    size = data.SMALL if small else data.FULL
    with console.status(f"preparing {size.users:,} users x {size.days} days of events"):
        bench = data.prepare(size)
    folder = data.CACHE / room / bench.events.parent.name
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return bench, folder, logs


def write_config(bench: data.BenchData, folder: Path) -> Path:
    """A dataset config for the benchmark's log, spelling out the feature benchmark's spec."""
    spec, churn = data.SPEC, data.CHURN
    config = {
        "name": "bench-cli",
        "workdir": str(folder / "work"),
        "events": {
            "path": str(bench.events),
            "format": "parquet",
            "columns": {name: name for name in ("user_id", "ts", "event", "value", "session_id")},
            "event_types": list(spec.event_types),
        },
        "churn": churn.model_dump(exclude_none=True),
        "cutoffs": {
            "start": bench.cutoffs[0].isoformat(),
            "end": bench.cutoffs[-1].isoformat(),
            "step_days": 30,
        },
        "features": {
            "windows_days": list(spec.windows_days),
            "trend_window_days": spec.trend_window_days,
        },
        "model": {"name": "bench-cli"},
    }
    path = folder / "bench.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    _check_spec(path)
    return path


def _check_spec(path: Path) -> None:
    """The config must describe the same features as the SQL, or the race is not fair."""
    from core.config import load_config
    from features.spec import feature_set

    config = load_config(path)
    if feature_set(config) != data.SPEC or config.churn != data.CHURN:
        raise RuntimeError(f"{path} does not give the feature benchmark's spec and churn rules")


def _show_run(label: str, report: dict[str, float]) -> None:
    console.print(
        f"  {label:<22} {report['wall_s']:7.3f} s wall {report['cpu_s']:7.3f} s CPU "
        f"{report['peak_mb']:7.0f} MB peak"
    )


def quick(name: str, command: list[str], logs: Path, runs: int, expect_exit: int = 0) -> Series:
    series = Series(name, command)
    series.warmup = launch(command, logs, name, expect_exit)
    for _ in range(runs):
        series.runs.append(launch(command, logs, name, expect_exit))
    console.print(
        f"  {name:<22} median {series.median('wall_s'):.3f} s "
        f"(min {min(series.values('wall_s')):.3f}, max {max(series.values('wall_s')):.3f}), "
        f"{max(series.values('peak_mb')):.0f} MB peak"
    )
    return series


def build_pairs(
    ours: Series, sql: Series, outputs: dict[str, Path], logs: Path, pairs: int
) -> None:
    """A warm-up of each, then `pairs` rounds of winback then SQL; outputs rewritten each time."""
    for series in (ours, sql):
        outputs[series.name].unlink(missing_ok=True)
        series.warmup = launch(series.command, logs, series.name)
        _show_run(f"{series.name} (warm-up)", series.warmup)
    for number in range(pairs):
        console.print(f"[bold]pair {number + 1}/{pairs}[/bold]")
        for series in (ours, sql):
            outputs[series.name].unlink(missing_ok=True)
            report = launch(series.command, logs, series.name)
            series.runs.append(report)
            _show_run(series.name, report)


def _target(value: float, bound: float, unit: str = "") -> dict[str, Any]:
    return {"value": round(value, 3), "max": bound, "unit": unit, "met": value <= bound}


def summary(
    bench: data.BenchData,
    validation: dict[str, float],
    quicks: list[Series],
    ours: Series,
    sql: Series,
) -> dict[str, Any]:
    wall_ratios = [a / b for a, b in zip(ours.values("wall_s"), sql.values("wall_s"), strict=True)]
    cpu_ratios = [a / b for a, b in zip(ours.values("cpu_s"), sql.values("cpu_s"), strict=True)]
    vs_sql = statistics.median(wall_ratios)
    peak = max(ours.values("peak_mb"))
    targets = {
        f"{series.name}_median_s": _target(series.median("wall_s"), QUICK_MAX_S, "s")
        for series in quicks
    }
    targets["build_vs_sql"] = _target(vs_sql, MAX_VS_SQL, "x")
    targets["build_peak_mb"] = _target(peak, MAX_PEAK_MB, "MB")
    return {
        "benchmark": "cli",
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "data": bench.facts(),
        "machine": machine(),
        "validation": {
            "wall_s": round(validation["wall_s"], 3),
            "cpu_s": round(validation["cpu_s"], 3),
            "peak_mb": round(validation["peak_mb"], 1),
            "note": "winback validate, run once before any timing; not part of the comparison",
        },
        "quick": {series.name: series.stats() for series in quicks},
        "build": {
            "winback": ours.stats(),
            "sql": sql.stats(),
            "pairs": len(wall_ratios),
            "wall_ratios": [round(value, 3) for value in wall_ratios],
            "cpu_ratios": [round(value, 3) for value in cpu_ratios],
            "median_wall_ratio": round(vs_sql, 3),
            "median_cpu_ratio": round(statistics.median(cpu_ratios), 3),
            "ratio_of_median_walls": round(ours.median("wall_s") / sql.median("wall_s"), 3),
        },
        "targets": targets,
    }


QUICK_LABELS = {
    "help": "`winback --help`",
    "features_list": "`winback features list --config C`",
    "argument_error": "`winback features build ... --cutoffs nonsense` (exit 2)",
}


def markdown(result: dict[str, Any]) -> str:
    spec, box, build = result["data"], result["machine"], result["build"]
    lines = [
        "| Command (whole process) | Runs | Wall min (s) | Wall median (s) | Wall max (s) "
        "| CPU median (s) | Peak RSS (MB) | Target |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, row in result["quick"].items():
        target = result["targets"][f"{name}_median_s"]
        lines.append(
            f"| {QUICK_LABELS[name]} | {row['runs']} | {row['wall_s']['min']:.3f} "
            f"| {row['wall_s']['median']:.3f} | {row['wall_s']['max']:.3f} "
            f"| {row['cpu_s_median']:.3f} | {row['peak_mb']:,.0f} "
            f"| ≤ {target['max']} s: {'met' if target['met'] else 'NOT met'} |"
        )
    lines += [
        "",
        "| Feature build (whole process) | Runs | Wall min (s) | Wall median (s) | Wall max (s) "
        "| CPU median (s) | Peak RSS (MB) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label in (
        ("winback", "`winback features build` (4 `--cutoff`)"),
        ("sql", "Hand-written DuckDB SQL (`python -m benchmarks.features_sql`)"),
    ):
        row = build[key]
        lines.append(
            f"| {label} | {row['runs']} | {row['wall_s']['min']:.2f} "
            f"| {row['wall_s']['median']:.2f} | {row['wall_s']['max']:.2f} "
            f"| {row['cpu_s_median']:.2f} | {row['peak_mb']:,.0f} |"
        )
    targets = result["targets"]
    vs_sql, peak = targets["build_vs_sql"], targets["build_peak_mb"]
    validation = result["validation"]
    load = result["load_average"]
    busy = max(load["start"], load["end"])
    quick_met = all(targets[f"{name}_median_s"]["met"] for name in result["quick"])
    ratios = ", ".join(f"{value:.2f}" for value in build["wall_ratios"])
    lines += [
        "",
        f"Pairs, winback then SQL, wall-time ratios: {ratios}; median "
        f"{build['median_wall_ratio']:.2f}x (ratio of the median walls "
        f"{build['ratio_of_median_walls']:.2f}x; median CPU-time ratio "
        f"{build['median_cpu_ratio']:.2f}x).",
        "",
        f"Targets: quick commands ≤ {QUICK_MAX_S} s median wall "
        f"({'all met' if quick_met else 'NOT all met'}); "
        f"`features build` ≤ {vs_sql['max']}x the SQL process: {vs_sql['value']:.2f}x "
        f"({'met' if vs_sql['met'] else 'NOT met'}); its peak RSS ≤ 2 GiB: "
        f"{peak['value']:,.0f} MB ({'met' if peak['met'] else 'NOT met'}).",
        "",
        f"{spec['events']:,} events, {spec['users']:,} users over {spec['days']} days, cutoffs "
        f"{', '.join(spec['cutoffs'])}: the feature benchmark's log. Each command is a whole "
        "process, spawned and reaped by `benchmarks.launch` (`os.wait4`): wall time from spawn "
        "to exit, CPU time summed over threads, peak RSS of the process itself. Every command "
        "ran once as a warm-up first. The workdir was validated beforehand with `winback "
        f"validate` ({validation['wall_s']:.1f} s, {validation['peak_mb']:,.0f} MB peak, not "
        "timed here), so `features build` reuses the canonical events Parquet, as it does "
        "while the sources are unchanged; the SQL process reads that same file and writes "
        "the same snapshot Parquet (checked identical: "
        f"{'yes' if result['outputs_match'] else 'NO'}). `features build` works out the "
        "label horizon from the data (`--until` not given), the SQL gets it as a constant. "
        "Output goes to files, not a terminal.",
        "",
        *(
            [
                f"**Other work shared the machine** (load average up to {busy:.1f} on "
                f"{box['cpus']} CPUs): wall-time ratios of single pairs ranged "
                f"{min(build['wall_ratios']):.2f}-{max(build['wall_ratios']):.2f}x; the "
                "CPU-time ratio is the steadier figure.",
                "",
            ]
            if busy > BUSY_LOAD
            else []
        ),
        machine_line(result, ("duckdb", "ibis-framework")),
    ]
    return "\n".join(lines) + "\n"


def show(result: dict[str, Any]) -> None:
    table = Table(title="CLI commands, whole processes")
    for heading in ("Command", "Runs", "Min s", "Median s", "Max s", "CPU s", "Peak MB"):
        table.add_column(heading, justify="left" if heading == "Command" else "right")
    rows = [(name, row) for name, row in result["quick"].items()]
    rows += [(f"build: {key}", result["build"][key]) for key in ("winback", "sql")]
    for name, row in rows:
        table.add_row(
            name,
            str(row["runs"]),
            f"{row['wall_s']['min']:.3f}",
            f"{row['wall_s']['median']:.3f}",
            f"{row['wall_s']['max']:.3f}",
            f"{row['cpu_s_median']:.3f}",
            f"{row['peak_mb']:,.0f}",
        )
    console.print(table)
    build = result["build"]
    console.print(
        "pair ratios (wall): " + ", ".join(f"{value:.2f}" for value in build["wall_ratios"])
    )
    for name, target in result["targets"].items():
        colour = "green" if target["met"] else "yellow"
        console.print(
            f"[{colour}]{name}: {target['value']:.3f} {target['unit']} "
            f"(target ≤ {target['max']})[/{colour}]"
        )


def main(small: bool = False, runs: int = 2) -> int:
    """Exit status 1 if the two builds differ: then the timings compare different work."""
    bench, folder, logs = workspace(small, "cli")
    config = write_config(bench, folder)
    winback = winback_command()
    console.print(f"{bench.n_events:,} events; config {config}")

    load_start = load_before(console)
    console.print("[bold]winback validate[/bold] (once, before timing)")
    validation = launch([*winback, "validate", "--config", str(config)], logs, "validate")
    _show_run("validate", validation)
    report = json.loads((folder / "work" / "validation.json").read_text())
    canonical = Path(report["events"]["output"])

    console.print(f"[bold]quick commands[/bold]: warm-up + {QUICK_RUNS} runs each")
    never = folder / "never-written.parquet"
    never.unlink(missing_ok=True)
    listing = [*winback, "features", "list", "--config", str(config)]
    build = [*winback, "features", "build", "--config", str(config)]
    mistake = [*build, "--out", str(never), "--cutoffs", "nonsense"]
    quicks = [
        quick("help", [*winback, "--help"], logs, QUICK_RUNS),
        quick("features_list", listing, logs, QUICK_RUNS),
        quick("argument_error", mistake, logs, QUICK_RUNS, expect_exit=ARGUMENT_ERROR_EXIT),
    ]
    if never.exists():
        raise RuntimeError(f"an argument error still wrote {never}")

    outputs = {"winback": folder / "out" / "winback.parquet", "sql": folder / "out" / "sql.parquet"}
    outputs["winback"].parent.mkdir(parents=True, exist_ok=True)
    cutoff_flags = [flag for day in bench.cutoffs for flag in ("--cutoff", day.isoformat())]
    ours = Series("winback", [*build, "--out", str(outputs["winback"]), *cutoff_flags])
    baseline = [sys.executable, "-m", "benchmarks.features_sql", str(canonical)]
    until = ["--observed-until", bench.observed_until.isoformat()]
    sql = Series("sql", [*baseline, str(outputs["sql"]), *cutoff_flags, *until])
    pairs = max(MIN_PAIRS, runs)
    console.print(f"[bold]features build vs SQL[/bold]: warm-up + {pairs} pairs")
    build_pairs(ours, sql, outputs, logs, pairs)
    load_end = os.getloadavg()[0]
    if "snapshots written to" not in (logs / "winback.out").read_text():
        raise RuntimeError("winback features build printed no summary")

    import pyarrow.parquet as pq

    from benchmarks.compare import differences

    problems = differences(pq.read_table(outputs["winback"]), pq.read_table(outputs["sql"]), "sql")
    result = summary(bench, validation, quicks, ours, sql)
    result["load_average"] = {"start": load_start, "end": load_end}
    result["command"] = "python -m benchmarks cli" + (" --small" if small else "")
    result["outputs_match"] = not problems
    result["differences"] = problems
    show(result)

    stem = "cli-small" if small else "cli"
    return results_file.save(RESULTS, stem, result, markdown, problems, console)
