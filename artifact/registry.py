"""The registry's read side: which version is champion, and that version as a `ChurnModel`.

Training moves the aliases (`training.registry`); serving only reads them. A registry that
cannot be asked or read is a `RegistryError`, never "no champion": the two need different
fixes, and treating an outage as an empty registry would tell operators to train.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import mlflow
from mlflow.exceptions import MlflowException

from artifact.model import METADATA_FILE, ChurnModel
from artifact.tracking import TrackingStore
from core.config import WinbackError

CHAMPION = "champion"
CHALLENGER = "challenger"
Loaded = TypeVar("Loaded")


class RegistryError(WinbackError):
    """The registry could not be reached or read; what it holds is unknown."""


def _is_corrupt(error: BaseException) -> bool:
    chain: BaseException | None = error
    while chain is not None:
        if isinstance(chain, sqlite3.DatabaseError) and not isinstance(
            chain, sqlite3.OperationalError
        ):
            return True
        text = str(chain)
        if "file is not a database" in text or "malformed" in text:
            return True
        chain = chain.__cause__ or chain.__context__
    return False


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


@contextmanager
def registry_errors(store: TrackingStore) -> Iterator[None]:
    """Anything a registry call raises becomes a `RegistryError` naming the store and saying
    whether it looks unreachable or corrupt."""
    try:
        yield
    except WinbackError:
        raise
    except Exception as error:
        how = "unreadable (corrupt?)" if _is_corrupt(error) else "unreachable"
        raise RegistryError(
            f"registry {store.uri} {how}: {type(error).__name__}: {_first_line(error)}"
        ) from error


def _alias_missing(error: MlflowException) -> bool:
    """No such model, or the model has no such alias (MLflow says INVALID_PARAMETER_VALUE)."""
    text = str(error)
    return error.error_code == "RESOURCE_DOES_NOT_EXIST" or (
        "alias" in text and "not found" in text
    )


def champion_version(store: TrackingStore, name: str) -> str | None:
    """None only when the registry answered that there is no champion."""
    with registry_errors(store):
        try:
            return str(store.client().get_model_version_by_alias(name, CHAMPION).version)
        except MlflowException as error:
            if _alias_missing(error):
                return None
            raise


def _model_dir(root: Path, marker: str) -> Path:
    """The folder holding the model files inside a downloaded MLflow model."""
    found = next(root.rglob(marker), None)
    if found is None:
        raise FileNotFoundError(f"no {marker} in the downloaded model at {root}")
    return found.parent


def download_version(
    store: TrackingStore,
    name: str,
    version: str,
    marker: str,
    load: Callable[[Path], Loaded],
) -> Loaded:
    """`load` on the folder holding `marker` in the version's artifacts, resolved through this
    store's client, so no process-wide registry URI is needed."""
    with registry_errors(store):
        source = store.client().get_model_version_download_uri(name, version)
    with tempfile.TemporaryDirectory() as folder:
        mlflow.artifacts.download_artifacts(
            artifact_uri=source, dst_path=folder, tracking_uri=store.uri
        )
        return load(_model_dir(Path(folder), marker))


def load_version(store: TrackingStore, name: str, version: str) -> ChurnModel:
    return download_version(store, name, version, METADATA_FILE, ChurnModel.load)
