"""The training benchmark's input: about 1M labelled snapshot rows, and every booster matrix.

Snapshots come from the synthetic log through our own feature pipeline, as `winback train`
would build them, but building them is the feature benchmark's subject, not this one's: they
are built once and cached as Parquet under `.winback/bench/`, keyed by size and seed and
stamped with the feature code's source and the config, so a change to either rebuilds them.

The booster matrices are the exact arrays the pipeline hands LightGBM, one pair per backtest
fold (its training cutoffs, its held-out cutoff) and one for each final fit (the evaluated
model's cutoffs, and every labelled cutoff for the refit), built with the pipeline's own code
(`training.backtest.fold_data`, `TrainingData.rows` and `design`) so the bare baseline boosts
the same numbers without paying for assembling them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import features
from benchmarks import data
from core.config import DatasetConfig, parse_config
from features.engine import DuckDBEngine
from features.pipeline import snapshots
from features.snapshots import catalog
from features.spec import feature_set
from features.status import LABEL
from features.synthetic import EVENT_COLUMNS
from training.backtest import fold_data
from training.dataset import TrainingData, assemble, balanced_weights, training_cutoffs
from training.lgbm import Design

# 11 monthly cutoffs over a year, about 62% of users active at each: about 1M labelled rows.
FULL = data.Size(users=150_000, days=365)
SMALL = data.SMALL
SNAPSHOT_FILE = "snapshots.parquet"
MATRICES_FILE = "matrices.npz"
INPUTS_FILE = "inputs.json"
STEP_DAYS = 30
# One setting on the backtest: a search of N settings runs N times the folds' early-stopped
# boosting on both sides alike (the bare baseline would replay the same settings), so it
# multiplies the work without changing what the comparison measures. Optuna's own
# bookkeeping (TPE sampling, pruning) is the one cost a search adds that this leaves out.
SEARCH_TRIALS = 1


def _config_data(log: data.BenchData, workdir: Path) -> dict[str, Any]:
    """configs/demo.yaml on the benchmark's log: plan, channel and region as categoricals,
    cutoffs every 30 days from the first with 30 days of history to the last labelled one.
    What the snapshots are built from (and stamped with): training settings are added by
    `_training_config`, as they do not change the snapshots."""
    folder = log.events.parent
    start = log.observed_until - dt.timedelta(days=log.size.days)
    horizon = data.CHURN.horizon_days
    return {
        "name": "bench",
        "workdir": str(workdir),
        "events": {
            "path": str(log.events),
            "format": "parquet",
            "columns": EVENT_COLUMNS,
            "event_types": list(data.EVENT_TYPES),
        },
        "users": {
            "path": str(folder / "users.parquet"),
            "format": "parquet",
            "columns": {
                "user_id": "user_id",
                "signup_ts": "signup_ts",
                "attributes": ["plan", "channel", "region"],
            },
        },
        "churn": {
            "mode": "inactivity",
            "horizon_days": horizon,
            "active_window_days": data.CHURN.active_window_days,
            "lapsed_after_days": data.CHURN.lapsed_after_days,
            "qualifying_events": ["visit", "view", "add_to_cart", "purchase"],
            "churn_events": ["cancel"],
        },
        "cutoffs": {
            "start": (start + dt.timedelta(days=STEP_DAYS)).isoformat(),
            "end": (log.observed_until - dt.timedelta(days=horizon)).isoformat(),
            "step_days": STEP_DAYS,
        },
        "model": {"name": "bench-churn"},
    }


def _training_config(log: data.BenchData, workdir: Path) -> dict[str, Any]:
    """`_config_data` with the benchmark's model settings: the defaults but a one-setting search."""
    config = _config_data(log, workdir)
    model = {**config["model"], "search": {"trials": SEARCH_TRIALS}}
    return {**config, "model": model}


@dataclass(frozen=True)
class Snapshots:
    """The cached snapshot table and what it was built from."""

    path: Path
    log: data.BenchData
    rows: int
    labelled: int

    def config(self, workdir: Path) -> DatasetConfig:
        """The dataset config to train on these snapshots with, writing under `workdir`."""
        return read_config(_training_config(self.log, workdir), workdir)

    def frame(self) -> pd.DataFrame:
        return pd.read_parquet(self.path)


def prepare(size: data.Size, cache: Path | None = None) -> Snapshots:
    """The snapshot table for `size`, built (log first, if need be) only when not cached,
    under `cache`, else `data.CACHE` as it is when called (a test points it at tmp_path)."""
    cache = data.CACHE if cache is None else cache
    log = data.prepare(size, cache)
    config = json.dumps(_config_data(log, Path("-")), sort_keys=True).encode()
    stamp = {
        "features": data.source_fingerprint(Path(features.__file__).parent),
        "config": hashlib.sha1(config).hexdigest()[:12],
    }

    def build(staging: Path) -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as workdir:  # the validated copies of the log
            config = read_config(_config_data(log, Path(workdir)), Path(workdir))
            table, _ = snapshots(config, DuckDBEngine(), training_cutoffs(config))
            frame = table.to_pandas()
        frame.to_parquet(staging / SNAPSHOT_FILE, index=False)
        return {"rows": len(frame), "labelled": int(frame[LABEL].notna().sum())}

    folder = cache / f"snapshots_{log.events.parent.name}"
    meta = data.cached(folder, stamp, build)
    return Snapshots(folder / SNAPSHOT_FILE, log, int(meta["rows"]), int(meta["labelled"]))


def _arrays(prefix: str, design: Design) -> dict[str, np.ndarray]:
    arrays = {f"{prefix}_x": design.x, f"{prefix}_y": design.y}
    if design.weight is not None:
        arrays[f"{prefix}_w"] = design.weight
    return arrays


def _final(data: TrainingData, cutoffs: Sequence[dt.date], balanced: bool) -> Design:
    """A final fit's rows as `training.fitting` builds them: BG/NBD as of the test cutoff."""
    rows = data.rows(cutoffs, data.bgnbd_at(data.split.test))
    return data.design(rows, balanced_weights(rows) if balanced else None)


def write_inputs(snap: Snapshots, config: DatasetConfig, folder: Path) -> Path:
    """What a measuring process needs, as `inputs.json`: the snapshots, `config` with every
    default filled in, and every matrix the pipeline boosts on (as .npz): `fold{i}` (training
    rows) and `fold{i}_held` (the fold's own cutoff) per backtest fold, `evaluated` and, when
    the config refits, `refit`; `_x`, `_y` and, for weighted rows, `_w` each.
    Processes read these as they are: a source edit during a run (a new LightGBM default,
    a feature change) cannot give one approach other settings or input than another."""
    settings = config.model
    data = assemble(snap.frame(), catalog(feature_set(config)), config.churn.horizon_days, settings)
    balanced = settings.imbalance == "balanced"
    arrays: dict[str, np.ndarray] = {"categorical": np.asarray(data.categorical, dtype="int64")}
    folds = []
    for number, fold in enumerate(data.split.folds):
        rows = fold_data(data, fold, balanced)
        arrays |= _arrays(f"fold{number}", rows.train) | _arrays(f"fold{number}_held", rows.target)
        folds.append({"cutoff": str(fold.cutoff), "train": len(rows.train.y)})
    arrays |= _arrays("evaluated", _final(data, data.split.train, balanced))
    if settings.refit:
        arrays |= _arrays("refit", _final(data, data.split.refit, balanced))
    folder.mkdir(parents=True, exist_ok=True)
    matrices = folder / MATRICES_FILE
    np.savez(matrices, allow_pickle=False, **arrays)
    inputs = {
        "snapshots": str(snap.path),
        "matrices": str(matrices),
        "folds": len(folds),
        "refit": settings.refit,
        "config": config.model_dump(mode="json"),
    }
    path = folder / INPUTS_FILE
    path.write_text(json.dumps(inputs, indent=1))
    return path


def read_config(config_data: dict[str, Any], workdir: Path) -> DatasetConfig:
    """The config of `write_inputs`, writing under `workdir` instead."""
    return parse_config({**config_data, "workdir": str(workdir)}, workdir / "bench.yaml")
