"""Session fixtures for tests that need the small synthetic log, its snapshots or a fitted
model (built once, only when a test asks for them)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from artifact.tracking import TRACKING_ENV
from core.config import DatasetConfig, parse_config
from features.engine import DuckDBEngine
from features.pipeline import snapshots
from features.snapshots import catalog
from features.spec import Feature, feature_set
from features.synthetic import generate, write
from tests.trained import SPEC, ConfigFactory, config_data
from training.dataset import TrainingData, assemble, training_cutoffs
from training.fitting import FittedModel, fit_model


@pytest.fixture(scope="session", autouse=True)
def _session_tracking_uri() -> str | None:
    """MLFLOW_TRACKING_URI as the session found it (autouse session fixtures come first)."""
    return os.environ.get(TRACKING_ENV)


@pytest.fixture(autouse=True)
def _tracking_uri_stays_put(_session_tracking_uri: str | None) -> Iterator[None]:
    """`mlflow.set_tracking_uri` also sets MLFLOW_TRACKING_URI in the environment, so a
    command run in process (even in a module fixture) would point every later test's
    `resolve_store` at its store: after each test it is what the session found."""
    yield
    if _session_tracking_uri is None:
        os.environ.pop(TRACKING_ENV, None)
    else:
        os.environ[TRACKING_ENV] = _session_tracking_uri


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("synthetic")
    write(generate(SPEC), folder)
    return folder


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
    table, _ = snapshots(config, DuckDBEngine(threads=2), training_cutoffs(config))
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
