"""The training benchmark's input: about 1M labelled snapshot rows, and the booster matrices.

Snapshots come from the synthetic log through our own feature pipeline, as `winback train`
would build them, but building them is the feature benchmark's subject, not this one's: they
are built once and cached as Parquet under `.winback/bench/`, keyed by size and seed and
stamped with the feature code's source and the config, so a change to either rebuilds them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import features
from benchmarks import data
from core.config import DatasetConfig, parse_config
from features.engine import DuckDBEngine
from features.labels import LABEL
from features.pipeline import snapshots
from features.snapshots import catalog
from features.spec import feature_set
from features.synthetic import EVENT_COLUMNS
from training.dataset import assemble

# 11 monthly cutoffs over a year, about 62% of users active at each: about 1M labelled rows.
FULL = data.Size(users=150_000, days=365)
SMALL = data.SMALL
SNAPSHOT_FILE = "snapshots.parquet"
MATRICES_FILE = "matrices.npz"
INPUTS_FILE = "inputs.json"
STEP_DAYS = 30


def _config_data(log: data.BenchData, workdir: Path) -> dict[str, Any]:
    """configs/demo.yaml on the benchmark's log: plan, channel and region as categoricals,
    cutoffs every 30 days from the first with 30 days of history to the last labelled one."""
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


@dataclass(frozen=True)
class Snapshots:
    """The cached snapshot table and what it was built from."""

    path: Path
    log: data.BenchData
    rows: int
    labelled: int

    def config(self, workdir: Path) -> DatasetConfig:
        """The dataset config the snapshots were built with, writing under `workdir`."""
        return read_config(_config_data(self.log, workdir), workdir)

    def frame(self) -> pd.DataFrame:
        return pd.read_parquet(self.path)


def prepare(size: data.Size, cache: Path = data.CACHE) -> Snapshots:
    """The snapshot table for `size`, built (log first, if need be) only when not cached."""
    log = data.prepare(size, cache)
    config = json.dumps(_config_data(log, Path("-")), sort_keys=True).encode()
    stamp = {
        "features": data.source_fingerprint(Path(features.__file__).parent),
        "config": hashlib.sha1(config).hexdigest()[:12],
    }

    def build(staging: Path) -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as workdir:  # the validated copies of the log
            config = read_config(_config_data(log, Path(workdir)), Path(workdir))
            table, _ = snapshots(config, DuckDBEngine(), config.cutoffs.dates())
            frame = table.to_pandas()
        frame.to_parquet(staging / SNAPSHOT_FILE, index=False)
        return {"rows": len(frame), "labelled": int(frame[LABEL].notna().sum())}

    folder = cache / f"snapshots_{log.events.parent.name}"
    meta = data.cached(folder, stamp, build)
    return Snapshots(folder / SNAPSHOT_FILE, log, int(meta["rows"]), int(meta["labelled"]))


def write_inputs(snap: Snapshots, config: DatasetConfig, folder: Path) -> Path:
    """What a measuring process needs, as `inputs.json`: the snapshots, `config` with every
    default filled in, and the exact float matrices `training.fitting.fit_model` hands
    LightGBM (as .npz), so the bare baseline trains on the same numbers without paying for
    assembling them (the config leaves rows unweighted, as `fit_model` then does too).
    Processes read these as they are: a source edit during a run (a new LightGBM default,
    a feature change) cannot give one approach other settings or input than another."""
    horizon = config.churn.horizon_days
    split = assemble(snap.frame(), catalog(feature_set(config)), horizon, config.model)
    train, validation = split.design(split.train), split.design(split.validation)
    folder.mkdir(parents=True, exist_ok=True)
    matrices = folder / MATRICES_FILE
    np.savez(
        matrices,
        x_train=train.x,
        y_train=train.y,
        x_validation=validation.x,
        y_validation=validation.y,
        categorical=np.asarray(split.categorical, dtype="int64"),
    )
    inputs = {
        "snapshots": str(snap.path),
        "matrices": str(matrices),
        "config": config.model_dump(mode="json"),
    }
    path = folder / INPUTS_FILE
    path.write_text(json.dumps(inputs, indent=1))
    return path


def read_config(config_data: dict[str, Any], workdir: Path) -> DatasetConfig:
    """The config of `write_inputs`, writing under `workdir` instead."""
    return parse_config({**config_data, "workdir": str(workdir)}, workdir / "bench.yaml")
