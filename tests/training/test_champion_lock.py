"""The champion lock on a real `mlflow server` (PostgreSQL): one holder at a time across
processes, and a holder that died does not block the next decision past its lease."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest

from artifact.champion_lock import acquire, champion_lock, claim_name
from artifact.tracking import TrackingStore

pytestmark = [pytest.mark.integration, pytest.mark.fleet]

# Each worker process bumps a counter tag read-sleep-write under the lock: without mutual
# exclusion the workers overwrite each other's increments and the total comes out short.
WORKER = """
import sys, time
from artifact.tracking import TrackingStore
from artifact.champion_lock import champion_lock
store, name = TrackingStore(sys.argv[1], None), sys.argv[2]
client = store.client()
for _ in range(int(sys.argv[3])):
    with champion_lock(store, name):
        count = int(client.get_registered_model(name).tags.get("count", "0"))
        time.sleep(0.05)
        client.set_registered_model_tag(name, "count", str(count + 1))
"""


def _model(store: TrackingStore) -> str:
    name = f"lock-{uuid.uuid4().hex[:8]}"
    store.client().create_registered_model(name)
    return name


def test_decisions_from_several_processes_never_overlap(mlflow_server: TrackingStore) -> None:
    name = _model(mlflow_server)
    rounds, workers = 4, 3
    command = [sys.executable, "-c", WORKER, mlflow_server.uri, name, str(rounds)]
    started = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(workers)]
    for process in started:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-2000:]
    tags = mlflow_server.client().get_registered_model(name).tags
    assert tags["count"] == str(rounds * workers)
    assert tags["winback.champion_lock"] == str(rounds * workers)  # one generation per hold


def test_a_holder_that_died_blocks_only_until_its_lease_ends(mlflow_server: TrackingStore) -> None:
    name = _model(mlflow_server)
    dead = acquire(mlflow_server.client(), name, lease_seconds=1.5)  # never released
    start = time.monotonic()
    with champion_lock(mlflow_server, name, lease_seconds=30) as lease:
        waited = time.monotonic() - start
        assert lease.generation == dead.generation + 1 and not lease.expired
    assert 0.5 < waited < 20
    client = mlflow_server.client()
    released = client.get_experiment_by_name(claim_name(name, lease.generation))
    assert released is not None and released.lifecycle_stage == "deleted"
