"""Training on about 1M snapshot rows: our pipeline against bare `lightgbm.train`, same fits.

Three ways to train on one snapshot table, each run in a fresh process
(`benchmarks.training_measure`) and taken in turns, so drift on a shared machine hits all
alike. The floor ("bare") is the plain `lightgbm.train` calls the pipeline's boosting amounts
to, on the matrices the pipeline builds: per backtest fold, a train on the fold's training
rows with early stopping on its held-out cutoff; then the evaluated fit and the refit for the
rounds with the lowest pooled held-out log loss. Against it: the fit step (`assemble` +
`fit_model`) and the whole pipeline (`train_on`: also baselines, evaluation with bootstrap
intervals, plots, MLflow logging, registration and the champion checks). The issue's target
(at most 1.3x bare) is judged on each, by the worse of its wall and CPU time ratios: on a
shared machine either alone can flatter it (wall time swings with other work, CPU time misses
waiting on disk). Every approach must boost the same rounds (each fold's, and each final
fit's) and reach the same losses and trees, else the times compare different work and the
tables are not written.

The config searches one setting (`model.search.trials: 1`, see `training_data`): a search of N
settings repeats the folds' boosting N times on both sides alike.

Then `winback train` on CDNOW (configs/cdnow.yaml as it is, in a temporary workdir), timed as
a whole process from spawn to exit by `benchmarks.launch` after an untimed `winback validate`:
what a user waits for on the real purchase log, snapshot build and search included.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from artifact.tracking import TRACKING_ENV
from benchmarks import data, results_file, training_data
from benchmarks.child import launched, report_of
from benchmarks.machine import load_before, machine, machine_line
from benchmarks.training_measure import APPROACHES
from core.config import DatasetConfig, load_config

LABELS = {
    "bare": "Bare lightgbm.train (same matrices, parameters, early stopping, rounds)",
    "fit": "Fit: assemble + fit_model (backtest, evaluated fit, refit)",
    "pipeline": "Full pipeline: train_on, up to a registered model",
}
JUDGED = ("fit", "pipeline")
RESULTS = Path(__file__).resolve().parent / "results"
MAX_VS_BARE = 1.3  # the target
SAME = 1e-9  # relative: losses and tree checksums must match bare's
ROUNDS = ("folds", "chosen", "evaluated", "refit", "total")
CDNOW_CONFIG = data.ROOT / "configs" / "cdnow.yaml"

console = Console()


@dataclass
class Runs:
    """Every run of one approach: the best time and CPU time and the highest peak are
    reported, with the fastest run's step breakdown."""

    approach: str
    reports: list[dict[str, Any]] = field(default_factory=list)

    @property
    def fastest(self) -> dict[str, Any]:
        return min(self.reports, key=lambda report: report["seconds"])

    @property
    def seconds(self) -> float:
        return float(self.fastest["seconds"])

    @property
    def cpu_seconds(self) -> float:
        return min(float(report["cpu_seconds"]) for report in self.reports)

    @property
    def peak_mb(self) -> float:
        return max(float(report["peak_mb"]) for report in self.reports)

    def each(self, key: str) -> list[float]:
        return [round(report[key], 3) for report in self.reports]


def measure(approach: str, inputs: Path) -> dict[str, Any]:
    """One run of `approach` in a child process; its own report, plus the process's time."""
    command = [sys.executable, "-m", "benchmarks.training_measure", approach, str(inputs)]
    return report_of(command, approach)


def run_all(inputs: Path, runs: int) -> dict[str, Runs]:
    measured = {name: Runs(name) for name in APPROACHES}
    for round_number in range(runs):
        console.print(f"[bold]run {round_number + 1}/{runs}[/bold]")
        for name in APPROACHES:
            report = measure(name, inputs)
            measured[name].reports.append(report)
            rounds = report["boosting"]
            console.print(
                f"  {name:<8} {report['seconds']:8.2f} s  {report['cpu_seconds']:8.2f} s CPU"
                f"  {report['peak_mb']:8.0f} MB peak  {rounds['total']:,} rounds "
                f"(folds {rounds['folds']}, chosen {rounds['chosen']})"
            )
    return measured


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=SAME)


def problems(measured: dict[str, Runs]) -> list[str]:
    """Why the runs did not all do the same boosting, if they did not."""
    first = measured["bare"].reports[0]
    floor = first["boosting"]
    found = []
    for runs in measured.values():
        for number, report in enumerate(runs.reports, start=1):
            run = f"{runs.approach} run {number}"
            boosting = report["boosting"]
            found += [
                f"{run} boosted {key} {boosting[key]}, bare run 1 {floor[key]}"
                for key in ROUNDS
                if boosting[key] != floor[key]
            ]
            if not _close(boosting["pooled_log_loss"], floor["pooled_log_loss"]):
                found.append(
                    f"{run} pooled log loss {boosting['pooled_log_loss']}, "
                    f"bare {floor['pooled_log_loss']}"
                )
            losses = zip(boosting["fold_best_log_loss"], floor["fold_best_log_loss"], strict=False)
            if not all(_close(a, b) for a, b in losses):
                found.append(
                    f"{run} fold losses {boosting['fold_best_log_loss']}, "
                    f"bare {floor['fold_best_log_loss']}"
                )
            if report["checksums"].keys() != first["checksums"].keys() or not all(
                _close(value, first["checksums"][name])
                for name, value in report["checksums"].items()
            ):
                found.append(f"{run} trees {report['checksums']}, bare {first['checksums']}")
    return found


PACKAGES = ("lightgbm", "mlflow", "scikit-learn", "matplotlib")


def _target(approach: Runs, bare: Runs, small: bool) -> dict[str, Any]:
    wall = approach.seconds / bare.seconds
    cpu = approach.cpu_seconds / bare.cpu_seconds
    return {
        "value": round(max(wall, cpu), 3),
        "wall": round(wall, 3),
        "cpu": round(cpu, 3),
        "max": MAX_VS_BARE,
        "met": max(wall, cpu) <= MAX_VS_BARE,
        # at the small size fixed costs (plots, MLflow) dwarf a few seconds of boosting
        "judged": not small,
    }


def _row(name: str, approach: Runs, bare: Runs) -> dict[str, Any]:
    fastest = approach.fastest
    return {
        "approach": name,
        "label": LABELS[name],
        "seconds": round(approach.seconds, 3),
        "cpu_seconds": round(approach.cpu_seconds, 3),
        "peak_mb": round(approach.peak_mb, 1),
        "baseline_mb": round(fastest["baseline_mb"], 1),
        "rounds": {key: fastest["boosting"][key] for key in ROUNDS},
        "pooled_log_loss": fastest["boosting"]["pooled_log_loss"],
        "boosting_seconds": fastest["boosting"]["seconds"],  # inside lightgbm.train
        "boosting_cpu_seconds": fastest["boosting"]["cpu_seconds"],
        "checksums": fastest["checksums"],
        "vs_bare": round(approach.seconds / bare.seconds, 3),
        "cpu_vs_bare": round(approach.cpu_seconds / bare.cpu_seconds, 3),
        "steps": fastest["steps"],
        "seconds_runs": approach.each("seconds"),
        "cpu_seconds_runs": approach.each("cpu_seconds"),
        "peak_mb_runs": approach.each("peak_mb"),
        "process_seconds_runs": approach.each("process_seconds"),
    }


def summary(
    snap: training_data.Snapshots,
    config: DatasetConfig,
    measured: dict[str, Runs],
    runs: int,
    small: bool,
) -> dict[str, Any]:
    bare, pipeline = measured["bare"], measured["pipeline"]
    return {
        "benchmark": "training",
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "data": {
            "users": snap.log.size.users,
            "days": snap.log.size.days,
            "seed": snap.log.size.seed,
            "events": snap.log.n_events,
            "cutoffs": [day.isoformat() for day in config.cutoffs.dates()],
            "snapshot_rows": snap.rows,
            "labelled_rows": snap.labelled,
            "rows": pipeline.fastest["rows"],
            "features": pipeline.fastest["features"],
        },
        "lightgbm": config.model.lightgbm.model_dump(),
        "search_trials": config.model.search.trials,
        "machine": machine(*PACKAGES),
        "runs": runs,
        "results": [_row(name, approach, bare) for name, approach in measured.items()],
        "targets": {f"{name}_vs_bare": _target(measured[name], bare, small) for name in JUDGED},
    }


def _launch(command: list[str], logs: Path, name: str) -> dict[str, float]:
    """One whole process through `benchmarks.launch`, without MLFLOW_TRACKING_URI in its
    environment: the store is the workdir's SQLite one, `winback train`'s default."""
    environment = {key: value for key, value in os.environ.items() if key != TRACKING_ENV}
    return launched(command, logs, name, environment=environment)


def cdnow_config(folder: Path) -> Path:
    """configs/cdnow.yaml writing under `folder`, its relative data path made absolute."""
    config = yaml.safe_load(CDNOW_CONFIG.read_text())
    config["workdir"] = str(folder / "work")
    config["events"]["path"] = str((CDNOW_CONFIG.parent / config["events"]["path"]).resolve())
    path = folder / "cdnow.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _process(report: dict[str, float]) -> dict[str, float]:
    return {key: round(report[key], 3) for key in ("wall_s", "cpu_s", "peak_mb")}


def cdnow(runs: int) -> dict[str, Any]:
    """`winback train -c configs/cdnow.yaml` as a user runs it, each run in a fresh workdir
    (so each registers version 1, with no champion to beat) after `winback validate`."""
    script = Path(sys.executable).with_name("winback")
    winback = [str(script)] if script.exists() else [sys.executable, "-m", "winback.cli"]
    validations, trains, trials = [], [], 0
    for number in range(runs):
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            config = cdnow_config(folder)
            trials = load_config(config).model.search.trials
            validations.append(_launch([*winback, "validate", "-c", str(config)], folder, "v"))
            trains.append(_launch([*winback, "train", "-c", str(config)], folder, "train"))
        console.print(
            f"  cdnow train {number + 1}/{runs}  {trains[-1]['wall_s']:8.2f} s  "
            f"{trains[-1]['cpu_s']:8.2f} s CPU  {trains[-1]['peak_mb']:8.0f} MB peak"
        )
    fastest = min(trains, key=lambda report: report["wall_s"])
    return {
        "command": "winback train -c configs/cdnow.yaml",
        "search_trials": trials,
        "runs": runs,
        "train": {
            **_process(fastest),
            "cpu_s": round(min(report["cpu_s"] for report in trains), 3),
            "peak_mb": round(max(report["peak_mb"] for report in trains), 1),
            "wall_s_runs": [round(report["wall_s"], 3) for report in trains],
            "cpu_s_runs": [round(report["cpu_s"], 3) for report in trains],
            "peak_mb_runs": [round(report["peak_mb"], 1) for report in trains],
        },
        "validate": _process(min(validations, key=lambda report: report["wall_s"])),
    }


def _rows(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["approach"]: row for row in result["results"]}


def _steps_lines(result: dict[str, Any]) -> list[str]:
    rows = _rows(result)
    pipeline, bare = rows["pipeline"], rows["bare"]
    lines = [
        "| Full pipeline step | Wall time (s) | CPU time (s) | Share of wall |",
        "|---|---:|---:|---:|",
    ]
    for step in pipeline["steps"]:
        share = step["seconds"] / pipeline["seconds"]
        lines.append(
            f"| {step['step']} | {step['seconds']:.1f} | {step['cpu_seconds']:.1f} | {share:.0%} |"
        )
    lines += [
        f"| **total** (bare lightgbm.train: {bare['seconds']:.1f}) "
        f"| **{pipeline['seconds']:.1f}** | **{pipeline['cpu_seconds']:.1f}** | 100% |",
        f"| of which inside LightGBM's fits (bare: {bare['boosting_seconds']:.1f}) "
        f"| {pipeline['boosting_seconds']:.1f} | {pipeline['boosting_cpu_seconds']:.1f} "
        f"| {pipeline['boosting_seconds'] / pipeline['seconds']:.0%} |",
    ]
    return lines


def _rounds_line(rounds: dict[str, Any]) -> str:
    folds = " + ".join(str(count) for count in rounds["folds"])
    return (
        f"{len(rounds['folds'])} backtest folds boosted {folds} rounds (early stopping); "
        f"{rounds['chosen']} rounds chosen on the pooled held-out log loss; evaluated fit "
        f"{rounds['evaluated']} and refit {rounds['refit']} rounds: {rounds['total']:,} in all"
    )


def _settings(lightgbm: dict[str, Any]) -> str:
    return ", ".join(f"{key} {value}" for key, value in lightgbm.items())


def _cdnow_lines(result: dict[str, Any]) -> list[str]:
    found = result["cdnow"]
    train, validate = found["train"], found["validate"]
    best = f"best of {found['runs']} runs" if found["runs"] > 1 else "one run"
    return [
        "| CDNOW, whole process | Wall time (s) | CPU time (s) | Peak memory (MB) |",
        "|---|---:|---:|---:|",
        f"| `{found['command']}` | {train['wall_s']:.1f} | {train['cpu_s']:.1f} "
        f"| {train['peak_mb']:,.0f} |",
        f"| `winback validate` before it (not in the train time) | {validate['wall_s']:.1f} "
        f"| {validate['cpu_s']:.1f} | {validate['peak_mb']:,.0f} |",
        "",
        f"configs/cdnow.yaml as shipped ({found['search_trials']} settings searched on the "
        f"backtest), in a fresh temporary workdir; {best}, timed from spawn to exit "
        "(interpreter start, imports, snapshot build, training, MLflow, summary). CPU time is "
        "the process's own, summed over threads.",
    ]


def markdown(result: dict[str, Any]) -> str:
    """The README's tables, with what they were measured on, so nobody quotes them bare."""
    spec = result["data"]
    lines = [
        "| Approach | Wall time (s) | CPU time (s) | Peak memory (MB) | Boosting rounds "
        "| Wall vs bare | CPU vs bare |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["results"]:
        lines.append(
            f"| {row['label']} | {row['seconds']:.1f} | {row['cpu_seconds']:.1f} "
            f"| {row['peak_mb']:,.0f} | {row['rounds']['total']:,} | {row['vs_bare']:.2f}x "
            f"| {row['cpu_vs_bare']:.2f}x |"
        )
    rows = spec["rows"]
    folds = ", ".join(f"{fold['train']:,}/{fold['held_out']:,}" for fold in rows["folds"])
    best = f"best of {result['runs']} runs" if result["runs"] > 1 else "one run"
    verdicts = []
    for name, target in result["targets"].items():
        verdict = "met" if target["met"] else "NOT met"
        if not target["judged"]:
            verdict += ", not judged at this size"
        verdicts.append(
            f"{name.removesuffix('_vs_bare')} {target['value']:.2f}x (wall {target['wall']:.2f}x, "
            f"CPU {target['cpu']:.2f}x; {verdict})"
        )
    lines += [
        "",
        *_steps_lines(result),
        "",
        f"Every approach boosted the same rounds: {_rounds_line(_rows(result)['bare']['rounds'])}; "
        "each reached the same held-out losses and trees (split gains) as the bare calls.",
        "",
        f"{spec['labelled_rows']:,} labelled snapshot rows x {spec['features']} features, from "
        f"{spec['events']:,} synthetic events of {spec['users']:,} users over {spec['days']} "
        f"days and {len(spec['cutoffs'])} cutoffs (folds' training/held-out rows {folds}; "
        f"evaluated fit {rows['evaluated']:,}, test {rows['test']:,}, refit {rows['refit']:,}); "
        f"snapshots built beforehand, not timed. One setting on the backtest "
        f"(`model.search.trials: {result['search_trials']}`): a search repeats the folds' "
        "boosting per setting on both sides alike. Each approach "
        f"{best}, each run in a fresh process with imports and input loading before the "
        "clock. CPU time is summed over threads; peak memory is the process's peak RSS, input "
        "included (every matrix for bare, else the snapshot table).",
        "",
        f"Target: ≤ {MAX_VS_BARE}x bare lightgbm.train, judged on the worse of wall and CPU "
        f"time: {'; '.join(verdicts)}.",
        "",
        *_cdnow_lines(result),
        "",
        machine_line(
            result,
            ("lightgbm", "mlflow"),
            f"; LightGBM with the config's defaults ({_settings(result['lightgbm'])})",
        ),
    ]
    return "\n".join(lines) + "\n"


def show(result: dict[str, Any]) -> None:
    table = Table(title=f"Training, {result['data']['labelled_rows']:,} labelled rows")
    headings = ("Approach", "Seconds", "CPU s", "Peak MB", "Rounds", "x bare", "x bare CPU")
    for heading in headings:
        table.add_column(heading, justify="left" if heading == "Approach" else "right")
    for row in result["results"]:
        table.add_row(
            row["approach"],
            f"{row['seconds']:.2f}",
            f"{row['cpu_seconds']:.2f}",
            f"{row['peak_mb']:,.0f}",
            f"{row['rounds']['total']:,}",
            f"{row['vs_bare']:.2f}x",
            f"{row['cpu_vs_bare']:.2f}x",
        )
    console.print(table)
    steps = Table(title="Where the full pipeline's time goes")
    steps.add_column("Step")
    steps.add_column("Seconds", justify="right")
    steps.add_column("CPU seconds", justify="right")
    pipeline = _rows(result)["pipeline"]
    for step in pipeline["steps"]:
        steps.add_row(step["step"], f"{step['seconds']:.2f}", f"{step['cpu_seconds']:.2f}")
    steps.add_row(
        "of which inside LightGBM's fits",
        f"{pipeline['boosting_seconds']:.2f}",
        f"{pipeline['boosting_cpu_seconds']:.2f}",
    )
    console.print(steps)
    for name, target in result["targets"].items():
        colour = "green" if target["met"] else "yellow"
        console.print(
            f"[{colour}]{name.replace('_', ' ')}: {target['value']:.2f}x "
            f"(wall {target['wall']:.2f}x, CPU {target['cpu']:.2f}x; target ≤ {target['max']})"
            f"{'' if target['judged'] else ', not judged at this size'}[/{colour}]"
        )
    train = result["cdnow"]["train"]
    console.print(
        f"CDNOW winback train: {train['wall_s']:.1f} s wall, {train['cpu_s']:.1f} s CPU, "
        f"{train['peak_mb']:,.0f} MB peak"
    )


def main(small: bool = False, runs: int = 2) -> int:
    """Exit status 1 if the approaches boosted differently, or a judged target is missed."""
    size = training_data.SMALL if small else training_data.FULL
    with console.status(f"preparing snapshots of {size.users:,} users x {size.days} days"):
        snap = training_data.prepare(size)
        folder = data.CACHE / "out" / snap.path.parent.name
        config = snap.config(folder)
        inputs = training_data.write_inputs(snap, config, folder)
    console.print(f"{snap.rows:,} snapshot rows, {snap.labelled:,} labelled")
    load_start = load_before(console)
    measured = run_all(inputs, runs)
    console.print("[bold]CDNOW: winback train as a whole process[/bold]")
    trained_cdnow = cdnow(runs)
    load_end = os.getloadavg()[0]

    result = summary(snap, config, measured, runs, small)
    result["cdnow"] = trained_cdnow
    result["load_average"] = {"start": load_start, "end": load_end}
    result["command"] = "python -m benchmarks training" + (" --small" if small else "")
    result["differences"] = problems(measured)
    show(result)

    stem = "training-small" if small else "training"
    if results_file.save(RESULTS, stem, result, markdown, result["differences"], console):
        return 1
    judged = [target for target in result["targets"].values() if target["judged"]]
    return 0 if all(target["met"] for target in judged) else 1
