"""An empty MLflow SQLite database, migrated once per test process and copied into the
workdirs of tests that would otherwise each create one: a fresh SQLite store runs MLflow's
alembic migrations (3 s on an idle core here, 12 s on a busy machine), and about twenty
workdirs in the suite start empty. What a copy skips is only the migration; the store is
MLflow's own schema, so every read and write is as on a fresh database. Tests about creating
a store (two first trainings racing on a new database) never seed theirs.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

from mlflow.tracking import MlflowClient

from artifact.tracking import DATABASE_FILE, SQLITE_PREFIX


@cache
def _migrated() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="winback-tests-mlflow-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / DATABASE_FILE
    MlflowClient(tracking_uri=f"{SQLITE_PREFIX}{path}").search_experiments(max_results=1)
    return path


def seeded(workdir: Path) -> Path:
    """`workdir`, created, with a migrated empty tracking database unless it has one."""
    workdir.mkdir(parents=True, exist_ok=True)
    target = workdir / DATABASE_FILE
    if not target.exists():
        shutil.copyfile(_migrated(), target)
    return workdir
