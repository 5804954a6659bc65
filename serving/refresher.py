"""Background refresh: each worker process's poller thread, the only place that calls the
registry or opens a new store, so a slow or broken registry never reaches a request.

It survives any exception (the pair it has keeps serving), retries with backoff until the
cause is gone, and reports the failure (log, Prometheus counter, `status` for /model). All
workers converge: each retries on its own, and a reload asked of any worker is a generation
number in a file every poller watches.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.config import WinbackError
from serving.metrics import refresh_failures
from serving.model_source import ServingSource
from serving.probe import PairError

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0  # how often the reload file is looked at
RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 30.0


class ReloadRequests:
    """POST /admin/reload reaches one worker process; a generation number in a file reaches
    every worker's poller (each remembers the last generation it acted on)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def generation(self) -> int:
        try:
            return int(self.path.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

    def ask(self) -> int:
        """The next generation, written atomically; two workers asking at once both get a
        generation newer than what every poller has seen, which is all that matters."""
        wanted = self.generation() + 1
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}")
        partial.write_text(str(wanted))
        os.replace(partial, self.path)
        return wanted


@dataclass
class RefreshStatus:
    """What /model reports about the poller, and what /admin/reload waits on."""

    ok: bool = False
    last_error: str | None = None
    consecutive_failures: int = 0
    failing_since: float | None = None  # epoch seconds
    last_success: float | None = None
    last_changed: bool = False  # the last attempt put a new pair live
    handled_generation: int = -1  # the reload generation the last finished attempt covered

    def report(self) -> dict[str, Any]:
        internal = {"handled_generation", "last_changed"}
        return {k: v for k, v in asdict(self).items() if k not in internal}


def backoff(failures: int) -> float:
    return min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2 ** max(failures - 1, 0))


class Refresher:
    def __init__(
        self,
        source: ServingSource,
        reloads: ReloadRequests,
        poll_seconds: float,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.source = source
        self.reloads = reloads
        self.poll_seconds = poll_seconds
        self.on_change = on_change
        self.status = RefreshStatus()
        self._seen = reloads.generation()
        self._wake = threading.Event()

    def wake(self) -> None:
        """Look at the reload file now instead of at the next tick (this worker's reload)."""
        self._wake.set()

    def attempt(self, generation: int | None = None) -> bool:
        """One refresh; never raises. True if a new pair went live."""
        covered = self.reloads.generation() if generation is None else generation
        try:
            changed = self.source.refresh()
        except Exception as error:  # anything: the old pair keeps serving either way
            self._failed(error)
            changed = False
        else:
            self.status.ok, self.status.last_error = True, None
            self.status.consecutive_failures, self.status.failing_since = 0, None
            self.status.last_success = time.time()
            if changed:
                self.on_change()
        self.status.last_changed = changed
        self.status.handled_generation = covered
        return changed

    def _failed(self, error: Exception) -> None:
        status = self.status
        status.ok = False
        status.last_error = f"{type(error).__name__}: {error}"
        status.consecutive_failures += 1
        status.failing_since = status.failing_since or time.time()
        refresh_failures().labels(kind=type(error).__name__).inc()
        current = self.source.current
        keeping = (
            f"v{current.version} with store {current.store.version.version}"
            if current
            else "nothing"
        )
        retry = backoff(status.consecutive_failures)
        log.warning(
            "refresh failed (%d in a row), still serving %s, retrying in %.0f s: %s",
            status.consecutive_failures,
            keeping,
            retry,
            status.last_error,
            # a known failure is its one line; an unexpected one's traceback is logged once
            exc_info=status.consecutive_failures == 1 and not isinstance(error, WinbackError),
        )

    def _stale(self) -> bool:
        """The live store's rows were written since they were checked (cheap: one stat of a
        file, or one Redis call)."""
        current = self.source.current
        if current is None or current.stamp is None:
            return False
        try:
            return current.store.stamp() != current.stamp
        except PairError:
            return True

    def run(self, stop: threading.Event) -> None:
        """Every `poll_seconds` (if set); within a tick of a reload asked of any worker or of
        the live store's rows changing; after a failure, with backoff until it succeeds."""
        due = time.monotonic() + self.poll_seconds if self.poll_seconds > 0 else float("inf")
        tick = min(self.poll_seconds, TICK_SECONDS) if self.poll_seconds > 0 else TICK_SECONDS
        while not stop.is_set():
            self._wake.wait(tick)
            self._wake.clear()
            if stop.is_set():
                return
            generation = self.reloads.generation()
            asked = generation != self._seen
            if not (asked or time.monotonic() >= due or (self.status.ok and self._stale())):
                continue
            self._seen = generation
            self.attempt(generation)
            failures = self.status.consecutive_failures
            wait = backoff(failures) if failures else self.poll_seconds
            due = time.monotonic() + wait if failures or self.poll_seconds > 0 else float("inf")
