"""The operations page on the service: GET /ui/now, /ui/why, /ui/retention, /ui/campaigns.

Read-only HTML behind the same bearer token as the API (the service's middleware wraps every
mounted app). Its inputs are the served pair and the service's recall cache, so the page's
scores are the ones /recall_list answers with, scored once for both; `winback report` builds
the same inputs from the same pair and writes the same pages as files.

The page's figures need matplotlib and Ibis, which the service does not otherwise load:
they are imported on the first /ui request, not when a worker starts (about 3 s of a
worker's start on a busy machine).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from core.config import DatasetConfig, InputError, WinbackError
from ops import html
from recall.campaign import input_stamp
from recall.policy import load_policy
from serving.model_source import Serving, ServingSource
from serving.online_store import read_all
from serving.responses import RecallCache

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd

    from ops.page import Inputs, Pages

UI_PATH = "/ui"
WAIT_SECONDS = 10.0  # a request waits this long for a first computation, then gets ...
RETRY_SECONDS = 5  # ... a page that reloads itself after this many seconds

ui_app = FastAPI(title="winback-ui", docs_url=None, redoc_url=None, openapi_url=None)


def page_inputs(config: DatasetConfig, serving: Serving, recall: RecallCache) -> Inputs:
    """The page's inputs for a served pair: scores and the recall list from `recall` (what
    /recall_list uses), the event log as the last `winback validate` left it."""
    from features.engine import DuckDBEngine
    from features.loading import canonical_events, last_prepared
    from ops.campaigns import stamp
    from ops.page import Inputs

    policy_path = recall.policy_path
    policy = load_policy(policy_path) if policy_path is not None else None
    prepared = last_prepared(config)
    version = serving.store.version

    def listed() -> pd.DataFrame:
        if policy_path is None:
            raise InputError("no recall policy configured: no recall list")
        return recall.campaign(serving, policy_path).listed

    def events() -> ir.Table | None:
        return None if prepared is None else canonical_events(DuckDBEngine(), prepared)

    return Inputs(
        config=config,
        model_name=serving.name,
        model_version=serving.version,
        store_version=version.version,
        cutoff=version.cutoff,
        users=version.rows,
        catalog=serving.model.catalog,
        policy=policy,
        policy_stamp=input_stamp(policy_path, policy) if policy_path and policy else (),
        scores=lambda: recall.table(serving),
        store=lambda: read_all(version),
        listed=listed,
        events=events,
        events_stamp=None
        if prepared is None
        else (prepared.fingerprint, stamp([prepared.events_path])),
    )


def _unavailable(title: str, message: str) -> Response:
    return HTMLResponse(
        html.waiting(title, message, RETRY_SECONDS),
        status_code=503,
        headers={"Retry-After": str(RETRY_SECONDS)},
    )


class UiPages:
    """One per worker; its pieces are shared with the other workers through the workdir."""

    def __init__(self, config: DatasetConfig, folder: Path | None = None) -> None:
        self.config = config
        self.folder = folder
        self._pages: Pages | None = None
        self._lock = threading.Lock()

    @property
    def pages(self) -> Pages:
        with self._lock:
            if self._pages is None:
                from ops.page import Pages, cache_folder

                self._pages = Pages(self.folder or cache_folder(self.config))
            return self._pages

    def respond(self, section: str, source: ServingSource, recall: RecallCache) -> Response:
        from ops.page import LABELS

        if section not in LABELS:
            known = ", ".join(f"{UI_PATH}/{name}" for name in LABELS)
            return HTMLResponse(html.problem(f"no page {section!r}; pages: {known}"), 404)
        current = source.current
        if source.damaged is not None or current is None:
            why = source.damaged or "no champion model loaded yet"
            return _unavailable("Not ready", f"{why}; GET /model shows the refresh status.")
        try:
            text = self.pages.page(
                section, page_inputs(self.config, current, recall), str, WAIT_SECONDS
            )
        except WinbackError as error:
            return _unavailable("Cannot show the page", str(error))
        if text is None:
            return _unavailable(
                f"Preparing {LABELS[section]}",
                f"The figures for {current.name} v{current.version} and online store "
                f"{current.store.version.version} are being computed for the first time; "
                f"this page reloads itself every {RETRY_SECONDS} s.",
            )
        return HTMLResponse(text)

    @staticmethod
    def index() -> Response:
        return RedirectResponse(f"{UI_PATH}/now")
