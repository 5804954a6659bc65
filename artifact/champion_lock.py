"""One champion decision at a time per model, across processes and hosts (the churn model's,
in `training.registry`, and each uplift model's, in `uplift.registry`).

Moving `champion` is read-then-write (compare with the current champion, then move the alias),
and MLflow's aliases have no compare-and-set, so two trainings finishing together would both
compare with the old champion and the later write would win without having been compared with
the earlier one. The decision runs under this lock instead.

- SQLite store (one machine): an flock on a file beside the database.
- Tracking server (any backend): the one atomic thing MLflow's API offers is a unique name.
  Lock generation g is the experiment `.winback-locks/<model>/champion/<g>`: creating it
  succeeds for exactly one caller (the database's unique constraint answers
  RESOURCE_ALREADY_EXISTS to the others), and its holder deletes it when done. Deleted
  experiments keep their name, so a generation is never handed out twice; the next one is
  g + 1. A holder that died leaves its generation undeleted: past its lease (tagged
  `expires`, wall-clock seconds) the next generation may be taken, and a holder that
  outlived its own lease does not move the alias. A registered-model tag
  (`winback.champion_lock`) remembers the last released generation so finding the newest
  one takes a call or two. This needs nothing but MLFLOW_TRACKING_URI: no database
  credentials on the training hosts (a PostgreSQL advisory lock would).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from artifact.tracking import SQLITE_PREFIX, TrackingStore, exclusive
from core.config import WinbackError

LEASE_SECONDS = 300.0  # longest a decision may hold the lock: loading and re-scoring the champion
POLL_SECONDS = 0.5
HINT_TAG = "winback.champion_lock"


class LockHeld(WinbackError):
    """Another decision held the champion lock past two leases."""


@dataclass(frozen=True)
class Lease:
    """The lock, held until `deadline` (monotonic seconds; never for a file lock)."""

    generation: int
    deadline: float = float("inf")

    @property
    def expired(self) -> bool:
        return time.monotonic() > self.deadline


def claim_name(name: str, generation: int) -> str:
    return f".winback-locks/{name}/champion/{generation}"


@contextmanager
def champion_lock(
    store: TrackingStore, name: str, lease_seconds: float = LEASE_SECONDS
) -> Iterator[Lease]:
    """Held for the body; waits (polling) while another decision holds it."""
    if store.uri.startswith(SQLITE_PREFIX):
        with exclusive(Path(store.uri.removeprefix(SQLITE_PREFIX) + ".aliases.lock")):
            yield Lease(0)
        return
    client = store.client()
    lease = acquire(client, name, lease_seconds)
    try:
        yield lease
    finally:
        release(client, name, lease.generation)


def _newest(client: MlflowClient, name: str) -> int:
    """The newest generation ever taken (0: none), walking on from the released hint."""
    tags = client.get_registered_model(name).tags
    generation = int(tags.get(HINT_TAG, "0") or 0)
    while client.get_experiment_by_name(claim_name(name, generation + 1)) is not None:
        generation += 1
    return generation


def _held(client: MlflowClient, name: str, generation: int) -> bool:
    if generation == 0:
        return False
    claim = client.get_experiment_by_name(claim_name(name, generation))
    if claim is None or claim.lifecycle_stage != "active":
        return False
    return float(claim.tags.get("expires", "0")) > time.time()


def acquire(client: MlflowClient, name: str, lease_seconds: float) -> Lease:
    """The next generation, once no live lease holds the newest one."""
    give_up = time.monotonic() + 2 * lease_seconds
    holder = f"{socket.gethostname()}:{os.getpid()}"
    while True:
        newest = _newest(client, name)
        if not _held(client, name, newest):
            started = time.monotonic()
            tags = {"holder": holder, "expires": f"{time.time() + lease_seconds:.3f}"}
            try:
                client.create_experiment(claim_name(name, newest + 1), tags=tags)
            except MlflowException as error:
                if error.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
                continue  # another decision took it first: look again
            return Lease(newest + 1, started + lease_seconds)
        if time.monotonic() > give_up:
            raise LockHeld(
                f"the champion lock of {name} ({claim_name(name, newest)}) stayed held for "
                f"{2 * lease_seconds:.0f} s; is another training or uplift fit deciding?"
            )
        time.sleep(POLL_SECONDS)


def release(client: MlflowClient, name: str, generation: int) -> None:
    claim = client.get_experiment_by_name(claim_name(name, generation))
    if claim is not None and claim.lifecycle_stage == "active":
        client.delete_experiment(claim.experiment_id)
    client.set_registered_model_tag(name, HINT_TAG, str(generation))
