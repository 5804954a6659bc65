"""One `winback cycle` for 1M users as a whole process: validate the day's new events,
materialize the store, score every user (with reasons, into the ledger), decide the recall
list, deliver it to the outbox files. Wall time, CPU time and peak RSS from
`benchmarks.launch`; the share of each step from the cycle's own `timings.json`.

The reference, measured in the same run, is what those steps cost as the existing commands:
`winback materialize` and `winback score` of the same users as processes of their own (the
day before, so the cycle materializes its own day). The cycle's cost is given as a multiple
of the two together.

Setup (timed, judged on nothing): a synthetic log of N users over DAYS days, cached, written
as monthly files and validated file by file (the way the log grows); the day before the
last is published last, so the cycle validates only it. The champion is trained on a small
log of the same generator with the same feature definition (one booster setting) and read
from its registry (MLFLOW_TRACKING_URI): training on 1M users is the training benchmark's
subject, not this one's.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml
from rich.console import Console

from benchmarks import bench_cli, data, results_file
from benchmarks.machine import machine, machine_line
from features import synthetic

RESULTS = Path(__file__).resolve().parent / "results"
POLICY = data.ROOT / "configs" / "recall.yaml"
PACKAGES = ("lightgbm", "mlflow")  # besides the machine module's base ones (DuckDB, Ibis, ...)
STEPS = ("validate", "materialize", "score", "decide", "deliver", "review")
GROW = (
    "from core.config import load_config; from features.engine import DuckDBEngine; "
    "from features.loading import prepare; prepare(load_config({config!r}), DuckDBEngine())"
)
console = Console()


@dataclass(frozen=True)
class Plan:
    users: int
    days: int
    train_users: int


FULL = Plan(users=1_000_000, days=120, train_users=20_000)
SMALL = Plan(users=50_000, days=120, train_users=10_000)
START = dt.date(2025, 1, 1)


def config(name: str, events: str, workdir: Path, cutoffs: dict[str, Any]) -> dict[str, Any]:
    """The demo's churn and features on a log without a users table."""
    return {
        "name": name,
        "workdir": str(workdir),
        "events": {
            "path": events,
            "format": "parquet",
            "columns": {name: name for name in ("user_id", "ts", "event", "value", "session_id")},
            "event_types": list(data.EVENT_TYPES),
        },
        "churn": {
            "mode": "inactivity",
            "horizon_days": 30,
            "active_window_days": 60,
            "lapsed_after_days": 60,
            "qualifying_events": ["visit", "view", "add_to_cart", "purchase"],
            "churn_events": ["cancel"],
        },
        "cutoffs": cutoffs,
        # The gate's calibration check is off: a 120-day log leaves the model two months of
        # history, too little to calibrate for the test cutoff (ECE 0.21 measured), and what
        # is timed here is the cycle around whatever champion there is, not the model.
        "model": {"name": "bench-cycle", "search": {"trials": 1}, "promotion": {"max_ece": 1.0}},
    }


def training_log(users: int, days: int, folder: Path) -> dict[str, Any]:
    synthetic.write(synthetic.generate(synthetic.SyntheticSpec(users, days, seed=7)), folder)
    return {"users": users}


CHUNK_USERS = 250_000  # generated this many users at a time: peak memory stays near 2 GB


def _month_bounds(last: dt.date) -> list[dt.date]:
    bounds, month = [], START
    while month < last:
        bounds.append(month)
        month = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return [*bounds, last]


def split_log(users: int, days: int, folder: Path) -> dict[str, Any]:
    """The log as one file per month and chunk of users before its last day, and the last
    day alone (the increment the cycle of the day after validates). Chunks are generated with
    seeds of their own and their ids prefixed, so they are different users."""
    end = START + dt.timedelta(days=days)
    last = end - dt.timedelta(days=1)
    bounds, rows = _month_bounds(last), 0
    for chunk, first in enumerate(range(0, users, CHUNK_USERS)):
        size = min(CHUNK_USERS, users - first)
        log = synthetic.generate(synthetic.SyntheticSpec(users=size, days=days, seed=42 + chunk))
        events = log.events.assign(
            user_id=f"c{chunk}" + log.events.user_id, session_id=f"c{chunk}" + log.events.session_id
        )
        del log
        table = pa.Table.from_pandas(events, preserve_index=False)
        del events
        ts, rows = table["ts"], rows + table.num_rows
        for month, (lo, hi) in enumerate(itertools.pairwise([*bounds, end])):
            part = table.filter(pc.and_(pc.greater_equal(ts, lo), pc.less(ts, hi)))
            name = "new-day" if lo == last else f"history-{month:02d}"
            pq.write_table(part, folder / f"{name}-{chunk:02d}.parquet")
    return {"n_events": rows, "months": len(bounds) - 1, "cycle_day": str(end)}


def main(small: bool = False, runs: int = 1) -> int:
    """Exit status 1 when the cycle did not do what it should (list, outbox, steps). One run
    whatever `runs` says: a day's cycle does its work once (run again, it does nothing)."""
    tracking = os.environ.get("MLFLOW_TRACKING_URI")
    try:
        return _measure(SMALL if small else FULL, small)
    finally:
        if tracking is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = tracking


def _measure(plan: Plan, small: bool) -> int:
    root = data.CACHE / "cycle" / f"u{plan.users}_d{plan.days}"
    stamp = {"generator": data.source_fingerprint(Path(synthetic.__file__))}
    with console.status(f"preparing {plan.users:,} users x {plan.days} days (cached)"):
        meta = data.cached(root / "log", stamp, lambda at: split_log(plan.users, plan.days, at))
        data.cached(
            root / "train-log", stamp, lambda at: training_log(plan.train_users, plan.days, at)
        )
    work = root / "run"
    shutil.rmtree(work, ignore_errors=True)
    feed, logs = work / "feed", work / "logs"
    feed.mkdir(parents=True)
    logs.mkdir()
    cycle_day = dt.date.fromisoformat(meta["cycle_day"])
    before = cycle_day - dt.timedelta(days=1)
    # three cutoffs: a backtest fold needs one whose label window ends by the next
    train_cutoffs = {"start": "2025-01-16", "end": "2025-03-17", "step_days": 30}
    trained = work / "train.yaml"
    small_log = str(root / "train-log" / "events.parquet")
    trained.write_text(
        yaml.safe_dump(config("bench-train", small_log, work / "train", train_cutoffs))
    )
    big = work / "big.yaml"
    big.write_text(
        yaml.safe_dump(config("bench-cycle", str(feed / "*.parquet"), work / "big", train_cutoffs))
    )
    winback = bench_cli.winback_command()

    def run(name: str, *args: str, command: list[str] | None = None) -> dict[str, float]:
        report = bench_cli.launch(command or [*winback, *args], logs, name.replace(" ", "-"))
        console.print(
            f"  {name:<28} {report['wall_s']:8.2f} s wall {report['cpu_s']:8.2f} s CPU "
            f"{report['peak_mb']:7.0f} MB peak"
        )
        return report

    load_start = os.getloadavg()[0]
    setup = {"train (small log)": run("train", "train", "-c", str(trained))["wall_s"]}
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'train' / 'mlflow.db'}"
    validations = []
    for month in range(meta["months"]):
        for path in sorted((root / "log").glob(f"history-{month:02d}-*.parquet")):
            shutil.copy(path, feed / path.name)
        # not `winback validate`, which reads everything again: the history grows by files,
        # validated by what is new, as the cycle's log does
        grow = [sys.executable, "-c", GROW.format(config=str(big))]
        validations.append(run(f"history month {month}", command=grow)["wall_s"])
    setup["validate history (per month, median)"] = sorted(validations)[len(validations) // 2]
    materialize = run(
        "materialize (reference)", "materialize", "-c", str(big), "--cutoff", str(before)
    )
    scores = str(work / "scores.parquet")
    score = run("score (reference)", "score", "-c", str(big), "--out", scores)
    for path in sorted((root / "log").glob("new-day-*.parquet")):
        shutil.copy(path, feed / path.name)
    cycles = [run("cycle", "cycle", "-c", str(big), "-p", str(POLICY), "--as-of", str(cycle_day))]
    cycle_root = work / "big" / "cycle"
    timings = json.loads((cycle_root / "days" / str(cycle_day) / "timings.json").read_text())
    summary = json.loads((cycle_root / "days" / str(cycle_day) / "summary.json").read_text())
    problems = []
    chunks = len(list((root / "log").glob("new-day-*.parquet")))
    if summary["validated"].get("new_files") != chunks:
        problems.append(f"the cycle validated {summary['validated']}, not the {chunks} new files")
    if not summary["decided"] or not any(summary["outbox"].values()):
        problems.append("the cycle decided or delivered nothing")
    missing = [step for step in STEPS[:5] if step not in timings]
    if missing:
        problems.append(f"steps without a time: {missing}")
    cycle = cycles[0]
    steps = sum(timings.values())
    result = {
        "users": plan.users,
        "days": plan.days,
        "n_events": meta["n_events"],
        "new_rows": summary["validated"].get("new_rows"),
        "listed": sum(c["treatment"] + c["control"] for c in summary["decided"]),
        "outbox": summary["outbox"],
        "cycle": {k: round(v, 2) for k, v in cycle.items()},
        "steps_s": {k: round(v, 2) for k, v in timings.items()},
        "steps_share": {k: round(v / cycle["wall_s"], 3) for k, v in timings.items()},
        "outside_steps_s": round(cycle["wall_s"] - steps, 2),
        "reference": {
            "materialize": {k: round(v, 2) for k, v in materialize.items()},
            "score": {k: round(v, 2) for k, v in score.items()},
        },
        "cycle_vs_materialize_plus_score": round(
            cycle["wall_s"] / (materialize["wall_s"] + score["wall_s"]), 2
        ),
        "setup_wall_s": {k: round(v, 1) for k, v in setup.items()},
        "load_average": {"start": load_start, "end": os.getloadavg()[0]},
        "machine": machine(*PACKAGES),
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks cycle" + (" --small" if small else ""),
    }
    console.print(markdown(result))
    stem = "cycle-small" if small else "cycle"
    return results_file.save(RESULTS, stem, result, markdown, problems, console)


def markdown(result: dict[str, Any]) -> str:
    cycle, ref = result["cycle"], result["reference"]
    rows = [
        "| process | wall (s) | CPU (s) | peak RSS (MB) |",
        "| --- | ---: | ---: | ---: |",
        f"| `winback cycle`, {result['users']:,} users | {cycle['wall_s']} | {cycle['cpu_s']} "
        f"| {cycle['peak_mb']:,.0f} |",
        f"| `winback materialize` (reference) | {ref['materialize']['wall_s']} "
        f"| {ref['materialize']['cpu_s']} | {ref['materialize']['peak_mb']:,.0f} |",
        f"| `winback score` (reference) | {ref['score']['wall_s']} | {ref['score']['cpu_s']} "
        f"| {ref['score']['peak_mb']:,.0f} |",
    ]
    steps = ", ".join(
        f"{name} {seconds} s ({result['steps_share'][name]:.0%})"
        for name, seconds in result["steps_s"].items()
    )
    return (
        "# `winback cycle` benchmark\n\n"
        + "\n".join(rows)
        + f"\n\nSteps of the cycle (its own clock): {steps}; outside the steps (start, imports, "
        f"summary, exit) {result['outside_steps_s']} s. Cycle / (materialize + score): "
        f"{result['cycle_vs_materialize_plus_score']}x wall. {result['n_events']:,} events over "
        f"{result['days']} days; the cycle validated {result['new_rows']:,} new rows (a day), "
        f"listed {result['listed']:,} users, outbox {result['outbox']}. Setup: "
        + ", ".join(f"{k} {v} s" for k, v in result["setup_wall_s"].items())
        + f".\n\n{machine_line(result, PACKAGES)}\n"
    )
