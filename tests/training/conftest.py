"""Training scenarios on the small synthetic log (tests/trained.py): tracking stores, and
models trained at once in separate processes."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from artifact.registry import champion_version
from artifact.tracking import TRACKING_ENV, TrackingStore, resolve_store
from core.config import DatasetConfig, parse_config
from features.engine import DuckDBEngine
from features.loading import prepare
from tests.trained import config_data
from training.pipeline import TrainingResult, train


@dataclass(frozen=True)
class Scenario:
    """Two trainings at once (processes), then a worse and a better one, on one store."""

    backend: str
    store: TrackingStore
    config_path: Path  # the config the two concurrent runs used
    processes: list[subprocess.CompletedProcess[str]]
    first_champion: str | None  # the champion alias right after the two concurrent runs
    worse: TrainingResult
    better: TrainingResult

    @property
    def name(self) -> str:
        return self.better.model_name


# Ranked by construction, whatever log the generator makes: the first champion is three
# boosted stumps, the worse model a single stump, the better one the tuned default settings
# (their blend with the RFM regression if the backtest prefers it).
STUMPS = {"min_data_in_leaf": 40, "num_leaves": 2, "learning_rate": 0.3}
CONCURRENT = {"lightgbm": {**STUMPS, "max_rounds": 3}, "candidates": ["lightgbm"]}
WORSE = {"lightgbm": {**STUMPS, "max_rounds": 1}, "candidates": ["lightgbm"]}
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
    params=["sqlite", pytest.param("server", marks=[pytest.mark.integration, pytest.mark.fleet])],
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
        server_store = request.getfixturevalue("mlflow_server")
        env[TRACKING_ENV] = server_store.uri

    def config(model: dict[str, Any]) -> DatasetConfig:
        return parse_config(config_data(synthetic_dir, workdir, **model), workdir / "c.yaml")

    engine = DuckDBEngine(threads=2)
    prepare(config(BETTER), engine)  # validated once, as before any parallel trainings
    config_path = workdir / "concurrent.yaml"
    config_path.write_text(yaml.safe_dump(config_data(synthetic_dir, workdir, **CONCURRENT)))
    processes = _train_at_once(config_path, env)  # on SQLite, both find no database yet
    store = server_store or resolve_store(config(BETTER), environ={})
    first_champion = champion_version(store, config(BETTER).model.name)
    worse = train(config(WORSE), engine, store)
    better = train(config(BETTER), engine, store)
    return Scenario(request.param, store, config_path, processes, first_champion, worse, better)
