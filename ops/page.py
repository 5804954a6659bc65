"""The four sections of the page, the pieces each is made of, and what each piece's numbers
depend on; `Pages` renders a section from cached pieces, computing only what changed.

The service (serving.ui, at /ui) and `winback report` build the same `Inputs` from the
served pair and call the same `Pages`, so a page and its static copy show the same numbers.
In the service the first computation runs in a background thread: a request waits for it a
bounded time and otherwise gets a page that reloads itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as StillRunning
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from core.config import DatasetConfig, WinbackError
from features.spec import Feature
from ops import html, sections
from ops.cache import PieceCache
from ops.campaigns import Stamp, stamp, summary_path
from ops.sections import Figures
from recall.policy import RecallPolicy
from recall.report import reviews_root

log = logging.getLogger(__name__)
SECTIONS: tuple[tuple[str, str], ...] = (
    ("now", "Now"),
    ("why", "Why"),
    ("retention", "Retention"),
    ("campaigns", "Campaigns"),
)
CACHE_FOLDER = "ui-cache"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Inputs:
    """What the page is computed from. The heavy parts (scores of every user, the store's
    table, the recall list, the event log) are callables, read only when a piece needs them."""

    config: DatasetConfig
    model_name: str
    model_version: str
    store_version: str
    cutoff: str
    users: int
    catalog: Sequence[Feature]
    policy: RecallPolicy | None
    policy_stamp: Stamp  # the policy and the files it names; () without a policy
    scores: Callable[[], pd.DataFrame]  # serving.scoring's scores table, every store user
    store: Callable[[], pa.Table]
    listed: Callable[[], pd.DataFrame]  # the current recall list (recall.selection)
    events: Callable[[], ir.Table | None]  # the validated log; None before `validate`
    events_stamp: object

    @property
    def pair(self) -> tuple[object, ...]:
        return (self.model_name, self.model_version, self.store_version, self.policy_stamp)

    def describe(self) -> str:
        return (
            f"model {self.model_name} v{self.model_version} · online store {self.store_version} "
            f"(features as of {self.cutoff}, {self.users:,} users)"
        )


def _reviews_key(inputs: Inputs) -> object:
    return stamp(sorted(reviews_root(inputs.config).glob("*/*")))


def _health_key(inputs: Inputs) -> object:
    return stamp([summary_path(inputs.config)])


@dataclass(frozen=True)
class Piece:
    name: str
    key: Callable[[Inputs], object]  # changes whenever the piece's numbers may
    render: Callable[[Figures], str]


PIECES: dict[str, tuple[Piece, ...]] = {
    "now": (Piece("now", lambda i: i.pair, sections.now),),
    "why": (Piece("why", lambda i: i.pair, sections.why),),
    "retention": (
        Piece("retention", lambda i: i.events_stamp, lambda f: sections.retention(f.inputs)),
    ),
    "campaigns": (
        Piece("recall", lambda i: i.pair, lambda f: sections.recall(f.inputs)),
        Piece("reviews", _reviews_key, lambda f: sections.reviewed(f.inputs)),
        Piece("health", _health_key, lambda f: sections.model_health(f.inputs)),
    ),
}
LABELS = dict(SECTIONS)


def cache_folder(config: DatasetConfig) -> Path:
    return config.workdir_path / CACHE_FOLDER


def _quiet(_message: str) -> None:
    pass


class Pages:
    """Sections from cached pieces; one background thread computes what is missing."""

    def __init__(
        self, folder: Path | None, pieces: dict[str, tuple[Piece, ...]] | None = None
    ) -> None:
        self.cache = PieceCache(folder)
        self.pieces = pieces or PIECES
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="winback-page")
        self._running: dict[tuple[object, ...], Future[dict[str, str]]] = {}
        self._lock = threading.Lock()
        self._figures: Figures | None = None

    def _shared(self, inputs: Inputs) -> Figures:
        """Figures of the same pair are shared by the pieces of every section."""
        with self._lock:
            if self._figures is None or self._figures.inputs.pair != inputs.pair:
                self._figures = Figures(inputs)
            return self._figures

    def _compute(
        self, missing: list[tuple[Piece, object]], inputs: Inputs, progress: Progress
    ) -> dict[str, str]:
        figures = self._shared(inputs)
        done = {}
        for piece, key in missing:
            progress(f"computing {piece.name}")
            try:
                done[piece.name] = self.cache.compute(
                    piece.name, key, partial(piece.render, figures)
                )
            except WinbackError as error:  # the inputs' fault: shown until they change
                done[piece.name] = html.problem(str(error))
                self.cache.remember(piece.name, key, done[piece.name])
            except Exception as error:
                log.exception("the page's %s piece failed", piece.name)
                done[piece.name] = html.problem(
                    f"{piece.name} could not be computed: {type(error).__name__}: "
                    f"{str(error)[:300]}"
                )
        return done

    def _submit(
        self, missing: list[tuple[Piece, object]], inputs: Inputs, progress: Progress
    ) -> Future[dict[str, str]]:
        job = tuple((piece.name, repr(key)) for piece, key in missing)
        with self._lock:
            running = self._running.get(job)
            if running is None or running.done():
                running = self._executor.submit(self._compute, missing, inputs, progress)
                self._running = {k: f for k, f in self._running.items() if not f.done()}
                self._running[job] = running
            return running

    def body(
        self,
        section: str,
        inputs: Inputs,
        wait: float | None = None,
        progress: Progress = _quiet,
    ) -> str | None:
        """The section's pieces, computing missing ones; None if that takes over `wait` s."""
        pieces = [(piece, piece.key(inputs)) for piece in self.pieces[section]]
        found = {piece.name: self.cache.get(piece.name, key) for piece, key in pieces}
        missing = [(piece, key) for piece, key in pieces if found[piece.name] is None]
        if missing:
            try:
                found.update(self._submit(missing, inputs, progress).result(timeout=wait))
            except StillRunning:
                return None
        return "".join(found[piece.name] or "" for piece, _ in pieces)

    def page(
        self,
        section: str,
        inputs: Inputs,
        link: Callable[[str], str],
        wait: float | None = None,
        progress: Progress = _quiet,
    ) -> str | None:
        body = self.body(section, inputs, wait, progress)
        if body is None:
            return None
        return html.document(LABELS[section], SECTIONS, section, link, inputs.describe(), body)
