"""Pieces are computed once per (piece, inputs): shared through the workdir by every process
(service workers, `winback report`), recomputed when an input changes, and a first
computation that takes long does not hold a request past its wait."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import cast

from ops.cache import PieceCache
from ops.page import Inputs, Pages, Piece


class Counter:
    def __init__(self, seconds: float = 0.0) -> None:
        self.calls = 0
        self.seconds = seconds
        self._lock = threading.Lock()

    def __call__(self, *_: object) -> str:
        with self._lock:
            self.calls += 1
            calls = self.calls
        time.sleep(self.seconds)
        return f"<p>render {calls}</p>"


def test_a_piece_is_computed_once_for_every_process_on_the_workdir(tmp_path: Path) -> None:
    render = Counter(seconds=0.3)
    workers = [PieceCache(tmp_path), PieceCache(tmp_path)]
    found: list[str] = []
    threads = [
        threading.Thread(
            target=lambda c=cache: found.append(c.compute("now", ("v1", "s1"), render))
        )
        for cache in workers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert render.calls == 1 and found == ["<p>render 1</p>"] * 2
    restarted = PieceCache(tmp_path)
    assert restarted.get("now", ("v1", "s1")) == "<p>render 1</p>"
    assert restarted.get("now", ("v2", "s1")) is None  # a new model version: not that piece
    restarted.compute("now", ("v2", "s1"), render)
    assert render.calls == 2


def test_only_the_newest_files_of_a_piece_are_kept(tmp_path: Path) -> None:
    cache = PieceCache(tmp_path)
    for version in range(6):
        cache.compute("now", version, Counter())
    assert len(list(tmp_path.glob("now-*.html"))) == 3
    assert PieceCache(tmp_path).get("now", 5) is not None


def test_a_slow_first_computation_answers_later_not_never(tmp_path: Path) -> None:
    render = Counter(seconds=1.0)
    key = {"version": "v1"}
    pieces = {"now": (Piece("now", lambda _inputs: key["version"], render),)}
    pages = Pages(tmp_path, pieces)
    inputs = cast(Inputs, SimpleNamespace(pair=("m", "1")))  # the pieces read nothing more
    assert pages.body("now", inputs, wait=0.05) is None  # still computing: come back
    assert pages.body("now", inputs, wait=0.05) is None  # the same job, not a second one
    assert pages.body("now", inputs, wait=5) == "<p>render 1</p>"
    assert pages.body("now", inputs, wait=0) == "<p>render 1</p>"  # from the cache at once
    key["version"] = "v2"
    assert pages.body("now", inputs) == "<p>render 2</p>"
    assert render.calls == 2
