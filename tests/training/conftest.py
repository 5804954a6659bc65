"""A small synthetic log with planted churn, a config for it, and its snapshots, built once.

1,000 users over 240 days with cutoffs every 30 days: test on the last labelled cutoff, one
validation cutoff before it, four training cutoffs; a full training run takes seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from features.config import DatasetConfig, parse_config
from features.engine import DuckDBEngine
from features.loading import prepare
from features.pipeline import snapshots
from features.snapshots import catalog
from features.spec import Feature, feature_set
from features.synthetic import EVENT_COLUMNS, SyntheticSpec, generate, write
from tests.training.backends import ServerProcess, launch_server
from training.dataset import TrainingData, assemble
from training.fitting import FittedModel, fit_model
from training.pipeline import TrainingResult, train
from training.tracking import TRACKING_ENV, TrackingStore, resolve_store

SPEC = SyntheticSpec(users=1_000, days=240, seed=11)
SMALL_LOG_BOOSTER = {"min_data_in_leaf": 40, "num_leaves": 3, "learning_rate": 0.05}
ConfigFactory = Callable[..., DatasetConfig]


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("synthetic")
    write(generate(SPEC), folder)
    return folder


def config_data(data: Path, workdir: Path, **model: Any) -> dict[str, Any]:
    return {
        "name": "synthetic",
        "workdir": str(workdir),
        "events": {
            "path": str(data / "events.parquet"),
            "format": "parquet",
            "columns": EVENT_COLUMNS,
            "event_types": ["visit", "view", "add_to_cart", "purchase", "cancel"],
        },
        "users": {
            "path": str(data / "users.parquet"),
            "format": "parquet",
            "columns": {
                "user_id": "user_id",
                "signup_ts": "signup_ts",
                "attributes": ["plan", "channel", "region"],
            },
        },
        "churn": {
            "mode": "inactivity",
            "horizon_days": 30,
            "active_window_days": 60,
            "lapsed_after_days": 60,
            "qualifying_events": ["visit", "view", "add_to_cart", "purchase"],
        },
        "cutoffs": {"start": "2025-03-01", "end": "2025-07-29", "step_days": 30},
        # 1,000 users: small-log booster settings, like configs/cdnow.yaml
        "model": {"name": "synthetic-churn", "lightgbm": SMALL_LOG_BOOSTER, **model},
    }


@pytest.fixture(scope="session")
def make_config(synthetic_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ConfigFactory:
    """A config for the synthetic log; each call gets a fresh workdir unless one is given."""

    def build(workdir: Path | None = None, **model: Any) -> DatasetConfig:
        folder = workdir or tmp_path_factory.mktemp("work")
        return parse_config(config_data(synthetic_dir, folder, **model), folder / "config.yaml")

    return build


@pytest.fixture(scope="session")
def snapshot(make_config: ConfigFactory) -> pd.DataFrame:
    config = make_config()
    table, _ = snapshots(config, DuckDBEngine(threads=2), config.cutoffs.dates())
    return table.to_pandas()


@pytest.fixture(scope="session")
def features(make_config: ConfigFactory) -> list[Feature]:
    return catalog(feature_set(make_config()))


@pytest.fixture(scope="session")
def training_data(
    snapshot: pd.DataFrame, features: list[Feature], make_config: ConfigFactory
) -> TrainingData:
    config = make_config()
    return assemble(snapshot, features, config.churn.horizon_days, config.model)


@pytest.fixture(scope="session")
def fitted(make_config: ConfigFactory, training_data: TrainingData) -> FittedModel:
    return fit_model(make_config(), training_data)


@pytest.fixture(scope="session", autouse=True)
def _server_process(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess | None]:
    """Launch the tracking server at session start when integration tests were collected,
    so its slow start overlaps the unit tests."""
    wanted = any(item.get_closest_marker("integration") for item in request.session.items)
    if not wanted:
        yield None
        return
    running = launch_server(tmp_path_factory.mktemp("mlflow_server"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def server(_server_process: ServerProcess | None) -> TrackingStore:
    assert _server_process is not None, "no integration test was collected"
    return _server_process.wait()


@dataclass(frozen=True)
class Scenario:
    """Two trainings at once (processes), then a worse and a better one, on one store."""

    backend: str
    store: TrackingStore
    config_path: Path  # the config the two concurrent runs used
    processes: list[subprocess.CompletedProcess[str]]
    worse: TrainingResult
    better: TrainingResult

    @property
    def name(self) -> str:
        return self.better.model_name


CONCURRENT = {"lightgbm": {"min_data_in_leaf": 40, "max_rounds": 20}}
WORSE = {"lightgbm": {"min_data_in_leaf": 40, "max_rounds": 2}}
BETTER: dict[str, Any] = {}
TRAIN_SECONDS = 600


def _train_at_once(
    config_path: Path, env: dict[str, str]
) -> list[subprocess.CompletedProcess[str]]:
    command = [str(Path(sys.executable).parent / "winback"), "train", "--config", str(config_path)]
    started = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    finished = []
    for process in started:
        out, err = process.communicate(timeout=TRAIN_SECONDS)
        finished.append(subprocess.CompletedProcess(command, process.returncode, out, err))
    return finished


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("server", marks=pytest.mark.integration)],
)
def scenario(
    request: pytest.FixtureRequest,
    synthetic_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Scenario:
    workdir = tmp_path_factory.mktemp(f"scenario_{request.param}")
    env = {key: value for key, value in os.environ.items() if key != TRACKING_ENV}
    server_store: TrackingStore | None = None
    if request.param == "server":
        server_store = request.getfixturevalue("server")
        env[TRACKING_ENV] = server_store.uri

    def config(model: dict[str, Any]) -> DatasetConfig:
        return parse_config(config_data(synthetic_dir, workdir, **model), workdir / "c.yaml")

    engine = DuckDBEngine(threads=2)
    prepare(config(BETTER), engine)  # validated once, as before any parallel trainings
    config_path = workdir / "concurrent.yaml"
    config_path.write_text(yaml.safe_dump(config_data(synthetic_dir, workdir, **CONCURRENT)))
    processes = _train_at_once(config_path, env)  # on SQLite, both find no database yet
    store = server_store or resolve_store(config(BETTER), environ={})
    worse = train(config(WORSE), engine, store)
    better = train(config(BETTER), engine, store)
    return Scenario(request.param, store, config_path, processes, worse, better)
