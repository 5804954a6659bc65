"""Run one way of training in this (fresh) process and report its time, memory and model.

As in `benchmarks.measure`: one process per run, so peak RSS is this run's alone, and
imports and reading the input happen before the clock starts.

- bare: `lightgbm.train` with the pipeline's parameters and early stopping on the matrices
  the pipeline hands LightGBM: the floor.
- fit: `assemble` + `fit_model`: from the snapshot table to booster, calibration, metadata.
- pipeline: `train_on`: everything `winback train` does once the snapshots exist, into a
  fresh MLflow SQLite store (created before the clock: that is a one-off, not training).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import psutil

from benchmarks import training_data
from core.config import DatasetConfig
from features.snapshots import catalog
from features.spec import feature_set
from training import lgbm
from training.dataset import TrainingData, assemble
from training.fitting import fit_model

APPROACHES = ("bare", "fit", "pipeline")
# What each of the pipeline's numbered progress messages starts.
STEP_NAMES = {
    1: "assemble: split, labels, categorical levels",
    2: "fit: booster + calibration",
    3: "baselines and test scoring",
    4: "plots",
    5: "log params, metrics, curve, plots",
    6: "log and register the model",
    7: "champion decision",
}
STEP_NUMBER = re.compile(r"^\[(\d+)/\d+\]")

Progress = Callable[[str], None]  # as in training.pipeline
Work = Callable[[Progress], dict[str, Any]]  # the timed part; returns what it trained


@dataclass(frozen=True)
class Inputs:
    """What `training_data.write_inputs` wrote, with a config writing under `workdir`."""

    config: DatasetConfig
    snapshots: Path
    matrices: Path

    @classmethod
    def read(cls, path: Path, workdir: Path) -> Inputs:
        raw = json.loads(path.read_text())
        config = training_data.read_config(raw["config"], workdir)
        return cls(config, Path(raw["snapshots"]), Path(raw["matrices"]))


class Steps:
    """Wall and CPU clocks at each progress message, so a run's time splits into the
    pipeline's steps (CPU shows which steps use more than one core)."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float, float]] = []

    def __call__(self, message: str) -> None:
        self.marks.append((message, time.perf_counter(), time.process_time()))

    def seconds(self, end: float, cpu_end: float) -> list[dict[str, Any]]:
        """Each step's name and the time until the next message (the last one: until the end)."""
        ends = [(wall, cpu) for _, wall, cpu in self.marks[1:]] + [(end, cpu_end)]
        return [
            {
                "step": _name(message),
                "seconds": round(stop - start, 3),
                "cpu_seconds": round(cpu_stop - cpu_start, 3),
            }
            for (message, start, cpu_start), (stop, cpu_stop) in zip(self.marks, ends, strict=True)
        ]


def _peak_mb() -> float:
    """This process's peak RSS. Not `getrusage`: its high-water mark survives exec, so a
    child would inherit the benchmark's own peak (the assembled matrices) as its floor."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status: peak memory needs Linux")


def _name(message: str) -> str:
    number = STEP_NUMBER.match(message)
    return STEP_NAMES.get(int(number.group(1)), message) if number else message


def _rows(split: TrainingData) -> dict[str, int]:
    return {"train": len(split.train), "validation": len(split.validation), "test": len(split.test)}


def bare(inputs: Inputs) -> Work:
    """The floor: only what any LightGBM user must run to get an early-stopped booster."""
    arrays = dict(np.load(inputs.matrices))
    settings = inputs.config.model.lightgbm
    params = lgbm.params(settings, inputs.config.model.seed)

    def work(say: Progress) -> dict[str, Any]:
        say("lightgbm.train")
        train_set = lgb.Dataset(
            arrays["x_train"],
            arrays["y_train"],
            categorical_feature=arrays["categorical"].tolist(),
        )
        valid_set = lgb.Dataset(arrays["x_validation"], arrays["y_validation"], reference=train_set)
        booster = lgb.train(
            params,
            train_set,
            num_boost_round=settings.max_rounds,
            valid_sets=[valid_set],
            valid_names=["validation"],
            callbacks=[lgb.early_stopping(settings.early_stopping_rounds, verbose=False)],
        )
        return {
            "best_iteration": booster.best_iteration or booster.current_iteration(),
            "validation_log_loss": booster.best_score["validation"]["binary_logloss"],
            "rows": {"train": len(arrays["y_train"]), "validation": len(arrays["y_validation"])},
            "features": int(arrays["x_train"].shape[1]),
        }

    return work


def fit(inputs: Inputs) -> Work:
    """The model `winback train` registers, without baselines, plots or MLflow."""
    config, snapshot = inputs.config, pd.read_parquet(inputs.snapshots)
    features = catalog(feature_set(config))

    def work(say: Progress) -> dict[str, Any]:
        say(STEP_NAMES[1])
        split = assemble(snapshot, features, config.churn.horizon_days, config.model)
        say(STEP_NAMES[2])
        fitted = fit_model(config, split)
        best = fitted.boosting.best_iteration
        return {
            "best_iteration": best,
            "validation_log_loss": fitted.boosting.validation_loss[best - 1],
            "rows": _rows(split),
            "features": len(split.features),
        }

    return work


def pipeline(inputs: Inputs) -> Work:
    """All of `winback train` after the snapshot build; the store exists, with no champion."""
    # Imported here, as MLflow takes seconds to import and the other two never load it.
    from artifact.tracking import resolve_store
    from training.pipeline import train_on

    config, snapshot = inputs.config, pd.read_parquet(inputs.snapshots)
    store = resolve_store(config, environ={})

    def work(say: Progress) -> dict[str, Any]:
        say("tracking set-up")
        result = train_on(config, snapshot, store, progress=say)
        return {
            "best_iteration": result.best_iteration,
            "rows": _rows(result.data),
            "features": len(result.data.features),
            "version": result.version,
        }

    return work


PREPARE = {"bare": bare, "fit": fit, "pipeline": pipeline}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("approach", choices=APPROACHES)
    parser.add_argument("inputs", type=Path, help="inputs.json from write_inputs")
    args = parser.parse_args(argv)
    logging.getLogger("mlflow").setLevel(logging.WARNING)

    with tempfile.TemporaryDirectory() as workdir:
        work = PREPARE[args.approach](Inputs.read(args.inputs, Path(workdir)))
        baseline_mb = psutil.Process().memory_info().rss / 2**20
        steps = Steps()
        cpu_start, start = time.process_time(), time.perf_counter()
        trained = work(steps)
        end, cpu_end = time.perf_counter(), time.process_time()
        cpu_seconds = cpu_end - cpu_start  # all threads
    report = {
        "seconds": end - start,
        "cpu_seconds": cpu_seconds,
        "peak_mb": _peak_mb(),
        "baseline_mb": baseline_mb,
        "steps": steps.seconds(end, cpu_end),
        **trained,
    }
    print(json.dumps(report), file=sys.stdout, flush=True)


if __name__ == "__main__":
    main()
