"""The registry's read side: which version is champion, and that version as a `ChurnModel`.

Training moves the aliases (`training.registry`); serving only reads them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException

from artifact.model import METADATA_FILE, ChurnModel
from artifact.tracking import TrackingStore

CHAMPION = "champion"
CHALLENGER = "challenger"


def champion_version(store: TrackingStore, name: str) -> str | None:
    try:
        return str(store.client().get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        return None


def _model_dir(root: Path) -> Path:
    """The folder holding the two model files inside a downloaded MLflow model."""
    found = next(root.rglob(METADATA_FILE), None)
    if found is None:
        raise FileNotFoundError(f"no {METADATA_FILE} in the downloaded model at {root}")
    return found.parent


def load_version(store: TrackingStore, name: str, version: str) -> ChurnModel:
    """Resolved through this store's client, so no process-wide registry URI is needed."""
    source = store.client().get_model_version_download_uri(name, version)
    with tempfile.TemporaryDirectory() as folder:
        mlflow.artifacts.download_artifacts(
            artifact_uri=source, dst_path=folder, tracking_uri=store.uri
        )
        return ChurnModel.load(_model_dir(Path(folder)))
