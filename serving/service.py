"""Winback's scoring service (BentoML 1.4): `winback serve` starts it with WINBACK_CONFIG set
and the process settings (workers, access log) as BentoML overrides (`serving.launch`).

The champion model and the online store are loaded at start; a poller (and POST
/admin/reload) swaps in a new champion or store without dropping requests. /readyz is 503
until a model is loaded. Client mistakes are 400 with a message, never 500.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import anyio
import bentoml
from bentoml.exceptions import InvalidArgument, ServiceUnavailable
from bentoml.validators import ContentType
from fastapi import FastAPI

from artifact.tracking import resolve_store
from core.config import WinbackError, load_config
from serving import heap
from serving.auth import BearerToken
from serving.launch import CONFIG_ENV, NO_PICKLES, SERVICE_NAME
from serving.model_source import Serving, ServingSource
from serving.online_store import store_root
from serving.responses import (
    RecallCache,
    RequestError,
    Result,
    check_batch,
    model_info,
    recall_list,
    score_features,
    score_users,
)

# A JSON object answer. The explicit content type matters for speed: without it BentoML 1.4
# derives the media type from the return type's JSON schema, building a pydantic
# TypeAdapter and schema twice per response (about a third of a 1-user /score here).
Json = Annotated[dict[str, Any], ContentType("application/json")]
log = logging.getLogger(__name__)
T = TypeVar("T")


RELOAD_FILE = "RELOAD"  # in the online store's folder, beside CURRENT
RELOAD_TICK_SECONDS = 1.0
INLINE_ROWS = 8  # requests of up to this many rows are scored without a thread hop


class ReloadRequests:
    """POST /admin/reload reaches one worker process; the file tells the others."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen = self._stamp()

    def _stamp(self) -> int | None:
        try:
            return self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def ask(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(str(time.time_ns()))
        self._seen = self._stamp()

    def arrived(self) -> bool:
        """True once per request made since the last look (by any worker but this one)."""
        stamp = self._stamp()
        if stamp == self._seen:
            return False
        self._seen = stamp
        return True


info_app = FastAPI(title="winback-info")


@contextmanager
def client_errors() -> Iterator[None]:
    """Our RequestError becomes BentoML's 400; a known server-side problem a 503 with its text."""
    try:
        yield
    except RequestError as error:
        raise InvalidArgument(str(error)) from None
    except WinbackError as error:
        raise ServiceUnavailable(str(error)) from None


@bentoml.asgi_app(info_app, path="/")
@bentoml.service(name=SERVICE_NAME, traffic={"timeout": 30})
class WinbackService:
    def __init__(self) -> None:
        os.environ.update(NO_PICKLES)  # also when started by `bentoml serve` directly
        self.config = load_config(Path(os.environ[CONFIG_ENV]))
        self.source = ServingSource(
            resolve_store(self.config), self.config.model.name, store_root(self.config)
        )
        policy = self.config.serving.recall_policy
        self.recall_cache = RecallCache(Path(policy) if policy else None)
        self._stop = threading.Event()
        self.reload_requests = ReloadRequests(store_root(self.config) / RELOAD_FILE)
        self._try_refresh()
        threading.Thread(target=self._poll, name="winback-poll", daemon=True).start()

    def _refresh(self) -> bool:
        changed = self.source.refresh()
        if changed:
            heap.settle()
        return changed

    def _try_refresh(self) -> bool:
        try:
            return self._refresh()
        except WinbackError as error:
            log.warning("still serving the previous model/store: %s", error)
            return False

    def _poll(self) -> None:
        """Every `poll_seconds` (if set), and within a second of a reload asked of any worker."""
        every = self.config.serving.poll_seconds
        tick = min(every, RELOAD_TICK_SECONDS) if every > 0 else RELOAD_TICK_SECONDS
        due = time.monotonic() + every
        while not self._stop.wait(tick):
            asked = self.reload_requests.arrived()
            if asked or (every > 0 and time.monotonic() >= due):
                due = time.monotonic() + every
                self._try_refresh()

    @bentoml.on_shutdown
    def _shutdown(self) -> None:
        self._stop.set()

    def __is_ready__(self) -> bool:
        return self.source.current is not None

    def _serving(self) -> Serving:
        current = self.source.current
        if current is None:
            raise ServiceUnavailable("no champion model loaded yet; see the server log")
        return current

    async def _results(
        self, items: Sequence[T], field: str, score: Callable[[Serving, Sequence[T]], list[Result]]
    ) -> Json:
        """`score` on a checked batch. A few rows are scored on the event loop: their ~2 ms
        cost less than the hand-off to a worker thread and the GIL going back and forth.
        Bigger requests go to a thread, so the loop keeps taking other requests while
        LightGBM (which releases the GIL) works."""

        def answer() -> Json:
            with client_errors():
                check_batch(len(items), self.config.serving.max_batch, field)
                return {"results": score(self._serving(), items)}

        if len(items) <= INLINE_ROWS:
            return answer()
        return await anyio.to_thread.run_sync(answer)

    @bentoml.api(route="/score")
    async def score(self, user_ids: list[str]) -> Json:
        """Churn risk, band, reasons for users by id (unknown ids are reported, not errors)."""
        return await self._results(user_ids, "user_ids", score_users)

    @bentoml.api(route="/score_features")
    async def score_features(self, rows: list[dict[str, Any]]) -> Json:
        """The same answer for posted feature rows (missing features may be null)."""
        return await self._results(rows, "rows", score_features)

    @bentoml.api(route="/recall_list")
    def recall_list(self, limit: int = 100) -> Json:
        """The campaign list (strategy, group, why) with a recall policy configured, the users
        most at risk first without one."""
        with client_errors():
            if not 1 <= limit <= self.config.serving.max_recall_list:
                raise RequestError(
                    f"limit: must be between 1 and {self.config.serving.max_recall_list}"
                )
            return recall_list(self._serving(), self.recall_cache, limit)

    @bentoml.api(route="/admin/reload")
    def reload(self) -> Json:
        """Look for a new champion or store now instead of at the next poll: this worker at
        once, the service's other workers within a second."""
        with client_errors():
            self.reload_requests.ask()
            changed = self._refresh()
            current = self._serving()
            return {"reloaded": changed, "version": current.version}

    @info_app.get("/model")
    def model(self) -> dict[str, Any]:
        """Name, version, aliases, training cutoffs and test metrics of the model in use."""
        return model_info(self._serving(), self.source.aliases())


cast(Any, WinbackService).add_asgi_middleware(BearerToken)
