"""Winback's scoring service (BentoML 1.4): `winback serve` starts it with WINBACK_CONFIG set
and the process settings (workers, access log, body limit) in its environment
(`serving.launch`).

The champion model and the online store are loaded at start; each worker's poller
(`serving.refresher`) swaps in a checked new champion or store without dropping requests
and is the only caller of the registry, so requests never wait on it. POST /admin/reload
asks every worker's poller. /readyz is 200 only while the served pair reads and scores a
stored row. Client mistakes are 4xx with a message (logged at INFO), never 500.
"""

from __future__ import annotations

import logging
import os
import sqlite3
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
from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, Response

from artifact.tracking import resolve_store
from core.config import WinbackError, load_config
from serving import client_logs, heap
from serving.auth import BearerToken
from serving.guard import RequestGuard
from serving.launch import CONFIG_ENV, NO_PICKLES, SERVICE_NAME
from serving.metrics import observe
from serving.model_source import Serving, ServingSource
from serving.online_store import open_store, store_root
from serving.refresher import Refresher, ReloadRequests
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
from serving.ui import UI_PATH, UiPages, ui_app
from uplift.registry import prefix_of

# A JSON object answer. The explicit content type matters for speed: without it BentoML 1.4
# derives the media type from the return type's JSON schema, building a pydantic
# TypeAdapter and schema twice per response (about a third of a 1-user /score here).
Json = Annotated[dict[str, Any], ContentType("application/json")]
log = logging.getLogger(__name__)
T = TypeVar("T")


RELOAD_FILE = "RELOAD"  # in the online store's folder, beside CURRENT
RELOAD_WAIT_SECONDS = 10.0  # /admin/reload waits this long for this worker's poller
INLINE_ROWS = 8  # requests of up to this many rows are scored without a thread hop


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
    except sqlite3.DatabaseError as error:  # the live store's file damaged under us
        raise ServiceUnavailable(f"the online store is unreadable: {error}") from None


@bentoml.asgi_app(info_app, path="/")
@bentoml.asgi_app(ui_app, path=UI_PATH)
@bentoml.service(name=SERVICE_NAME, traffic={"timeout": 30})
class WinbackService:
    def __init__(self) -> None:
        os.environ.update(NO_PICKLES)  # also when started by `bentoml serve` directly
        client_logs.install()
        self.config = load_config(Path(os.environ[CONFIG_ENV]))
        root = store_root(self.config)
        store = open_store(self.config)
        policy = self.config.serving.recall_policy
        self.source = ServingSource(
            resolve_store(self.config),
            self.config.model.name,
            store,
            uplift_prefix=prefix_of(self.config) if policy else None,
        )
        self.recall_cache = RecallCache(Path(policy) if policy else None)
        self.pages = UiPages(self.config)
        self._stop = threading.Event()
        self.refresher = Refresher(
            self.source, ReloadRequests(root / RELOAD_FILE), self.config.serving.poll_seconds
        )
        self.refresher.on_change = heap.settle
        self.refresher.attempt()
        poller = threading.Thread(
            target=self.refresher.run, args=(self._stop,), name="winback-poll", daemon=True
        )
        poller.start()
        self._ready: bool | None = None

    @bentoml.on_shutdown
    def _shutdown(self) -> None:
        self._stop.set()
        self.refresher.wake()

    def __is_ready__(self) -> bool:
        """The served pair still reads and scores a stored row (a second at most)."""
        problem = self.source.damaged
        current = self.source.current
        if current is None:
            problem = problem or f"no model loaded: {self.refresher.status.last_error}"
        elif problem is None:
            try:
                current.probe()
            except Exception as error:
                problem = str(error)
        ready = problem is None
        if ready != self._ready:  # log changes only: probes come every few seconds
            log.log(logging.INFO if ready else logging.WARNING, "ready: %s", problem or "yes")
            self._ready = ready
        return ready

    def _serving(self) -> Serving:
        damaged, current = self.source.damaged, self.source.current
        if damaged is not None:
            raise ServiceUnavailable(f"{damaged}; GET /model shows the refresh status")
        if current is None:
            raise ServiceUnavailable(
                f"no champion model loaded yet: {self.refresher.status.last_error or 'loading'}"
            )
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
                results = score(self._serving(), items)
                observe(results)
                return {"results": results}

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
    async def reload(self, ctx: bentoml.Context) -> Json:
        """Ask every worker's poller to look for a new champion or store now, and wait (a
        bounded time) for this worker's: 200 with what it serves, 503 with why it keeps the
        old pair, 202 if its refresh is still running."""
        reloads = self.refresher.reloads
        try:
            generation = await anyio.to_thread.run_sync(reloads.ask)
        except OSError as error:
            ctx.response.status_code = 503
            return {"error": f"cannot write the reload request {reloads.path}: {error}"}
        self.refresher.wake()
        status = self.refresher.status
        deadline = time.monotonic() + RELOAD_WAIT_SECONDS
        while status.handled_generation < generation and time.monotonic() < deadline:
            await anyio.sleep(0.05)
        current = self.source.current
        answer: dict[str, Any] = {
            "version": current.version if current else None,
            "online_store": current.store.version.version if current else None,
        }
        if status.handled_generation < generation:
            ctx.response.status_code = 202
            return {**answer, "pending": True, "message": "still refreshing; see GET /model"}
        if not status.ok:
            ctx.response.status_code = 503
            return {**answer, "error": f"still serving the previous pair: {status.last_error}"}
        return {**answer, "reloaded": status.last_changed}

    @info_app.get("/model")
    def model(self) -> dict[str, Any]:
        """Name, version, aliases, training cutoffs and test metrics of the model in use, and
        how the last refresh went; answered from memory, never from the registry."""
        refresh = {**self.refresher.status.report(), "damaged": self.source.damaged}
        current = self.source.current
        if current is None:
            detail = {"error": "no champion model loaded yet", "refresh": refresh}
            raise HTTPException(status_code=503, detail=detail)
        return {**model_info(current, self.source.aliases), "refresh": refresh}

    @ui_app.get("/", response_class=HTMLResponse)
    def ui_index(self) -> Response:
        return self.pages.index()

    @ui_app.get("/{section}", response_class=HTMLResponse)
    def ui_section(self, section: str) -> Response:
        """The operations page (read-only): /ui/now, /ui/why, /ui/retention, /ui/campaigns."""
        return self.pages.respond(section, self.source, self.recall_cache)


cast(Any, WinbackService).add_asgi_middleware(BearerToken)
cast(Any, WinbackService).add_asgi_middleware(RequestGuard)
