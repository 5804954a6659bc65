"""Run one way of training in this (fresh) process and report its time, memory and boosting.

As in `benchmarks.measure`: one process per run, so peak RSS is this run's alone, and
imports and reading the input happen before the clock starts.

- bare: plain `lightgbm.train` calls doing the pipeline's boosting and nothing else: per
  backtest fold, a train on the fold's training rows with early stopping on its held-out
  cutoff; the rounds with the lowest log loss pooled over the folds; then the evaluated fit
  and the refit for exactly those rounds. On the matrices the pipeline builds: the floor.
- fit: `assemble` + `fit_model`: from the snapshot table to the evaluated and registered
  models (backtest, family and calibration choice, both final fits).
- pipeline: `train_on`: everything `winback train` does once the snapshots exist, into a
  fresh MLflow SQLite store (created before the clock: that is a one-off, not training).

Every approach reports the rounds it boosted (each fold's, the chosen, each final fit's) and
checksums of its final boosters, so the parent can tell that all did the same work. For fit
and pipeline the rounds come from a thin wrapper around `training.lgbm.fit` and `fit_rounds`
(two clock reads per booster), which also times the boosting inside them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import lightgbm as lgb
import numpy as np
import pandas as pd
import psutil

from benchmarks import training_data
from core.config import DatasetConfig
from features.snapshots import catalog
from features.spec import feature_set
from features.timeline import CUTOFF
from training import lgbm
from training.dataset import TrainingData, assemble
from training.fitting import FittedModel, fit_model

APPROACHES = ("bare", "fit", "pipeline")
# Each progress message starts a step, named by the first pattern that matches it; the
# pipeline's step 2 (`fit_model`) is split by its own messages. Consecutive messages of one
# step (a search's "setting k of n") stay one step.
STEP_NAMES = (
    (r"^\[1/\d+\]", "assemble: split, labels, categorical levels"),
    (r"^\[2/\d+\] backtest on", "backtest: fold rows"),
    (r"^\[2/\d+\] backtest: \d+ folds, setting", "backtest: boost each fold (early stopping)"),
    (r"^\[2/\d+\] backtest: comparing", "backtest: families and calibration"),
    (r"^\[2/\d+\] fitting", "evaluated fit"),
    (r"^\[2/\d+\] refitting", "refit: calibration and fit"),
    (r"^\[3/\d+\]", "baselines, test scoring, bootstrap intervals"),
    (r"^\[4/\d+\]", "plots"),
    (r"^\[5/\d+\]", "log params, metrics, curve, plots"),
    (r"^\[6/\d+\]", "log and register the model"),
    (r"^\[7/\d+\]", "champion decision"),
)
FIT_STEPS = 7  # as training.pipeline.STEPS, which the fit approach does not import

Progress = Callable[[str], None]  # as in training.pipeline
T = TypeVar("T")


@dataclass
class Boosting:
    """The rounds each booster boosted, and the time spent inside LightGBM's fits."""

    folds: list[int] = field(default_factory=list)  # rounds per fold, early stopping included
    fold_losses: list[float] = field(default_factory=list)  # each fold's best held-out loss
    finals: list[int] = field(default_factory=list)  # the evaluated fit's, then the refit's
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def timed(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        wall, cpu = time.perf_counter(), time.process_time()
        result = call(*args, **kwargs)
        self.seconds += time.perf_counter() - wall
        self.cpu_seconds += time.process_time() - cpu
        return result

    def fold(self, losses: list[float]) -> None:
        self.folds.append(len(losses))
        self.fold_losses.append(min(losses))

    def report(self, chosen: int, pooled_log_loss: float) -> dict[str, Any]:
        evaluated, refit = [*self.finals, 0, 0][:2]
        return {
            "folds": self.folds,
            "fold_best_log_loss": self.fold_losses,
            "chosen": chosen,
            "evaluated": evaluated,
            "refit": refit,
            "total": sum(self.folds) + sum(self.finals),
            "pooled_log_loss": pooled_log_loss,
            "seconds": round(self.seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
        }


@dataclass
class Trained:
    """What a run did: its boosting, the final boosters (checksummed after the clock)."""

    boosting: Boosting
    chosen: int
    pooled_log_loss: float
    boosters: dict[str, lgb.Booster]  # evaluated, and refit when the config refits
    extra: dict[str, Any] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        return {
            "boosting": self.boosting.report(self.chosen, self.pooled_log_loss),
            "checksums": {name: checksum(booster) for name, booster in self.boosters.items()},
            **self.extra,
        }


Work = Callable[[Progress], Trained]  # the timed part


def checksum(booster: lgb.Booster) -> float:
    """Total split gain over every tree: equal for equal trees, and moved by any change."""
    return float(np.sum(booster.feature_importance(importance_type="gain")))


@dataclass(frozen=True)
class Inputs:
    """What `training_data.write_inputs` wrote, with a config writing under `workdir`."""

    config: DatasetConfig
    snapshots: Path
    matrices: Path
    folds: int
    refit: bool

    @classmethod
    def read(cls, path: Path, workdir: Path) -> Inputs:
        raw = json.loads(path.read_text())
        config = training_data.read_config(raw["config"], workdir)
        matrices = Path(raw["matrices"])
        return cls(config, Path(raw["snapshots"]), matrices, int(raw["folds"]), raw["refit"])


class Steps:
    """Wall and CPU clocks at each progress message, so a run's time splits into the
    pipeline's steps (CPU shows which steps use more than one core)."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float, float]] = []

    def __call__(self, message: str) -> None:
        name = _name(message)
        if not self.marks or self.marks[-1][0] != name:
            self.marks.append((name, time.perf_counter(), time.process_time()))

    def seconds(self, end: float, cpu_end: float) -> list[dict[str, Any]]:
        """Each step's name and the time until the next message (the last one: until the end)."""
        ends = [(wall, cpu) for _, wall, cpu in self.marks[1:]] + [(end, cpu_end)]
        return [
            {
                "step": name,
                "seconds": round(stop - start, 3),
                "cpu_seconds": round(cpu_stop - cpu_start, 3),
            }
            for (name, start, cpu_start), (stop, cpu_stop) in zip(self.marks, ends, strict=True)
        ]


def _peak_mb() -> float:
    """This process's peak RSS. Not `getrusage`: its high-water mark survives exec, so a
    child would inherit the benchmark's own peak (the assembled matrices) as its floor."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status: peak memory needs Linux")


def _name(message: str) -> str:
    return next((name for pattern, name in STEP_NAMES if re.match(pattern, message)), message)


def _rows(data: TrainingData, refit: bool) -> dict[str, Any]:
    split, cutoffs = data.split, data.labelled[CUTOFF]

    def size(chosen: Sequence[dt.date]) -> int:
        return int(cutoffs.isin(chosen).sum())

    return {
        "folds": [{"train": size(f.train), "held_out": size([f.cutoff])} for f in split.folds],
        "evaluated": size(split.train),
        "test": size([split.test]),
        "refit": size(split.refit) if refit else 0,
    }


def _pooled(curves: list[list[float]], sizes: list[int]) -> np.ndarray:
    """Log loss per round over every fold's held-out rows, as `training.backtest` pools it."""
    usable = min(len(curve) for curve in curves)
    stacked = np.array([curve[:usable] for curve in curves], dtype="float64")
    weights = np.asarray(sizes, dtype="float64")[:, None]
    return np.asarray((weights * stacked).sum(axis=0) / weights.sum(), dtype="float64")


def bare(inputs: Inputs) -> Work:
    """The floor: the `lightgbm.train` calls the pipeline's boosting amounts to, no more."""
    arrays = dict(np.load(inputs.matrices))
    settings, seed = inputs.config.model.lightgbm, inputs.config.model.seed
    params = lgbm.params(settings, seed)
    categorical = arrays["categorical"].tolist()

    def dataset(prefix: str, reference: lgb.Dataset | None = None) -> lgb.Dataset:
        return lgb.Dataset(
            arrays[f"{prefix}_x"],
            arrays[f"{prefix}_y"],
            weight=arrays.get(f"{prefix}_w"),
            categorical_feature=categorical if reference is None else "auto",
            reference=reference,
        )

    def work(say: Progress) -> Trained:
        boosting = Boosting()
        say("folds: lightgbm.train with early stopping")
        curves, sizes = [], []
        for number in range(inputs.folds):
            train_set = dataset(f"fold{number}")
            held_out = dataset(f"fold{number}_held", reference=train_set)
            history: dict[str, Any] = {}
            boosting.timed(
                lgb.train,
                params,
                train_set,
                num_boost_round=settings.max_rounds,
                valid_sets=[held_out],
                valid_names=["held_out"],
                keep_training_booster=True,  # no model-string round trip at the end
                callbacks=[
                    lgb.early_stopping(settings.early_stopping_rounds, verbose=False),
                    lgb.record_evaluation(history),
                ],
            )
            curve = [float(value) for value in history["held_out"]["binary_logloss"]]
            boosting.fold(curve)
            curves.append(curve)
            sizes.append(len(arrays[f"fold{number}_held_y"]))
        pooled = _pooled(curves, sizes)
        rounds = int(np.argmin(pooled)) + 1
        boosters = {}
        for name in ("evaluated", "refit") if inputs.refit else ("evaluated",):
            say(f"{name} fit: lightgbm.train for the chosen rounds")
            booster = boosting.timed(lgb.train, params, dataset(name), num_boost_round=rounds)
            boosting.finals.append(booster.current_iteration())
            boosters[name] = booster
        return Trained(boosting, rounds, float(pooled[rounds - 1]), boosters)

    return work


def _instrument(boosting: Boosting) -> None:
    """Wrap `training.lgbm`'s two fits (looked up on the module by their callers) to count
    the rounds each boosts and time the boosting."""
    fit, fit_rounds = lgbm.fit, lgbm.fit_rounds

    def counted_fit(*args: Any, **kwargs: Any) -> lgbm.Fitted:
        fitted = boosting.timed(fit, *args, **kwargs)
        boosting.fold(fitted.validation_loss)
        return fitted

    def counted_fit_rounds(*args: Any, **kwargs: Any) -> lgb.Booster:
        booster = boosting.timed(fit_rounds, *args, **kwargs)
        boosting.finals.append(booster.current_iteration())
        return booster

    setattr(lgbm, "fit", counted_fit)  # noqa: B010 (mypy: assigning to a module function)
    setattr(lgbm, "fit_rounds", counted_fit_rounds)  # noqa: B010


def _trained(boosting: Boosting, fitted: FittedModel, data: TrainingData) -> Trained:
    boosters = {"evaluated": fitted.model.booster}
    refit = fitted.registered.metadata.refit
    if refit:
        boosters["refit"] = fitted.registered.booster
    best = fitted.backtest.search.best
    return Trained(
        boosting,
        fitted.rounds,
        best.log_loss,
        boosters,
        {"rows": _rows(data, refit), "features": len(data.features)},
    )


def fit(inputs: Inputs) -> Work:
    """The models `winback train` evaluates and registers, without baselines, plots or MLflow."""
    config, snapshot = inputs.config, pd.read_parquet(inputs.snapshots)
    features = catalog(feature_set(config))
    boosting = Boosting()
    _instrument(boosting)

    def work(say: Progress) -> Trained:
        say(f"[1/{FIT_STEPS}] assemble")
        data = assemble(snapshot, features, config.churn.horizon_days, config.model)
        say(f"[2/{FIT_STEPS}] backtest on {len(data.split.folds)} folds")
        fitted = fit_model(config, data, lambda message: say(f"[2/{FIT_STEPS}] {message}"))
        return _trained(boosting, fitted, data)

    return work


def pipeline(inputs: Inputs) -> Work:
    """All of `winback train` after the snapshot build; the store exists, with no champion."""
    # Imported here, as MLflow takes seconds to import and the other two never load it.
    from artifact.tracking import resolve_store
    from training.pipeline import train_on

    config, snapshot = inputs.config, pd.read_parquet(inputs.snapshots)
    store = resolve_store(config, environ={})
    boosting = Boosting()
    _instrument(boosting)

    def work(say: Progress) -> Trained:
        say("tracking set-up")
        result = train_on(config, snapshot, store, progress=say)
        trained = _trained(boosting, result.fitted, result.data)
        trained.extra["version"] = result.version
        return trained

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
            **trained.report(),
        }
    print(json.dumps(report), file=sys.stdout, flush=True)


if __name__ == "__main__":
    main()
