"""Where runs and models are recorded. Embedded default: SQLite and artifacts in the workdir;
a tracking server when MLFLOW_TRACKING_URI says so. Chosen by the caller at run time, never
on import, so tests and services decide where their runs go. Training writes through it,
serving and recall read (and log reviews) through it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from core.config import DatasetConfig

TRACKING_ENV = "MLFLOW_TRACKING_URI"
DATABASE_FILE = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"
SQLITE_PREFIX = "sqlite:///"


@dataclass(frozen=True)
class TrackingStore:
    uri: str
    artifact_location: str | None  # None: the server (or MLflow) decides

    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)


def use(store: TrackingStore) -> None:
    """Point MLflow's fluent API (runs, model logging) at the store."""
    mlflow.set_tracking_uri(store.uri)
    mlflow.set_registry_uri(store.uri)


def resolve_store(config: DatasetConfig, environ: Mapping[str, str] = os.environ) -> TrackingStore:
    """MLFLOW_TRACKING_URI wins; else SQLite in the workdir, artifacts beside it.

    A SQLite store is created (schema migrated) before it is returned, under a file lock:
    two trainings starting at once on a fresh database would otherwise both migrate it.
    """
    uri = environ.get(TRACKING_ENV)
    if uri:
        store = TrackingStore(uri=uri, artifact_location=None)
    else:
        workdir = config.workdir_path.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        store = TrackingStore(
            uri=f"{SQLITE_PREFIX}{workdir / DATABASE_FILE}",
            artifact_location=(workdir / ARTIFACTS_DIR).as_uri(),
        )
    if store.uri.startswith(SQLITE_PREFIX):
        with exclusive(Path(store.uri.removeprefix(SQLITE_PREFIX) + ".lock")):
            store.client().search_experiments(max_results=1)
    return store


@contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def experiment_id(store: TrackingStore, name: str) -> str:
    """The experiment named after the model; created on first use, also when two runs race."""
    client = store.client()
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    try:
        return str(client.create_experiment(name, artifact_location=store.artifact_location))
    except MlflowException:
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return str(found.experiment_id)
