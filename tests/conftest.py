"""Session fixtures for tests that need the small synthetic log, its snapshots or a fitted
model (built once, only when a test asks for them), and the fleet's real servers: Redis,
PostgreSQL and `mlflow server` on it (`tests/servers.py`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from artifact.tracking import TRACKING_ENV, TrackingStore
from core.config import DatasetConfig, parse_config
from features.engine import DuckDBEngine
from features.pipeline import snapshots
from features.snapshots import catalog
from features.spec import Feature, feature_set
from features.synthetic import generate, write
from tests.scheduling import make_scheduler
from tests.servers import MlflowServer, launch_mlflow, postgres_server, redis_server, stop_mlflow
from tests.serving.served import TEMPLATE_CUTOFFS, TEMPLATE_SPEC, prepare_service
from tests.tracking_seed import seeded
from tests.trained import SPEC, ConfigFactory, config_data
from training.dataset import TrainingData, assemble, training_cutoffs
from training.fitting import FittedModel, fit_model


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's, called in the controller
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    return make_scheduler(config, log)


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


@pytest.fixture(scope="session", autouse=True)
def _fleet_registry(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MlflowServer | Exception | None]:
    """PostgreSQL and `mlflow server` on it, launched at session start when a `fleet` test
    was collected, so the server's slow start (its migrations) overlaps other tests. A
    failure to start is the fleet tests' failure, not every test's."""
    if not any(item.get_closest_marker("fleet") for item in request.session.items):
        yield None
        return
    with ExitStack() as stack:
        try:
            database = stack.enter_context(postgres_server())
            server = launch_mlflow(database, tmp_path_factory.mktemp("mlflow_server"))
            stack.callback(stop_mlflow, server)
        except Exception as error:
            yield error
            return
        yield server


@pytest.fixture(scope="session")
def mlflow_server(_fleet_registry: MlflowServer | Exception | None) -> TrackingStore:
    """The shared registry and tracking server (PostgreSQL, artifacts on a shared path)."""
    assert _fleet_registry is not None, "a test using mlflow_server must be marked fleet"
    if isinstance(_fleet_registry, Exception):
        pytest.fail(f"PostgreSQL or mlflow server did not start: {_fleet_registry}")
    return TrackingStore(uri=_fleet_registry.wait(), artifact_location=None)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session")
def served_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained champion and a live store on a 1,500-user log, built once: each service
    test serves its own copy (`tests.serving.served.copy_service`)."""
    folder = tmp_path_factory.mktemp("served-template")
    seeded(folder / "work")
    prepare_service(folder, TEMPLATE_SPEC, cutoffs_start=TEMPLATE_CUTOFFS)
    return folder


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
