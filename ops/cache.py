"""Rendered pieces of the page, kept per (piece, what it was computed from).

In memory for this process, and as files under <workdir>/ui-cache/ so that the service's
other workers, a restarted service and `winback report` on the same workdir reuse a piece
instead of scoring a million users again. A file lock per piece lets one process compute it
while the others wait and then read its file. The key includes a hash of this package's
code, so a new release never shows a page an older one rendered.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import cache
from pathlib import Path

from artifact.tracking import exclusive

log = logging.getLogger(__name__)
KEEP_FILES = 3  # per piece: the newest few (a swap back to the previous store stays cheap)


@cache
def code_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def digest(name: str, key: object) -> str:
    return hashlib.sha256(repr((code_version(), name, key)).encode()).hexdigest()[:20]


class PieceCache:
    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._memory: dict[str, tuple[str, str]] = {}  # name -> (digest, html)
        self._lock = threading.Lock()

    def _path(self, name: str, key: object) -> Path | None:
        return None if self.folder is None else self.folder / f"{name}-{digest(name, key)}.html"

    def get(self, name: str, key: object) -> str | None:
        wanted = digest(name, key)
        with self._lock:
            found = self._memory.get(name)
        if found is not None and found[0] == wanted:
            return found[1]
        path = self._path(name, key)
        try:
            text = path.read_text() if path is not None else None
        except OSError:
            return None
        if text is not None:
            self._remember(name, wanted, text)
        return text

    def _remember(self, name: str, wanted: str, text: str) -> None:
        with self._lock:
            self._memory[name] = (wanted, text)

    def compute(self, name: str, key: object, render: Callable[[], str]) -> str:
        """The cached piece, or `render()` once across processes, kept for the next caller."""
        with self._exclusive(name):
            found = self.get(name, key)
            if found is not None:
                return found
            text = render()
            self._remember(name, digest(name, key), text)
            self._write(name, key, text)
            return text

    def remember(self, name: str, key: object, text: str) -> None:
        """Keep a piece in memory only (a problem worth showing, not worth a file)."""
        self._remember(name, digest(name, key), text)

    @contextmanager
    def _exclusive(self, name: str) -> Iterator[None]:
        with ExitStack() as stack:
            if self.folder is not None:
                try:
                    self.folder.mkdir(parents=True, exist_ok=True)
                    stack.enter_context(exclusive(self.folder / f".{name}.lock"))
                except OSError as error:
                    log.warning("page cache %s not usable (%s): no lock", self.folder, error)
            yield

    def _write(self, name: str, key: object, text: str) -> None:
        path = self._path(name, key)
        if path is None:
            return
        try:
            partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
            partial.write_text(text)
            os.replace(partial, path)
            older = sorted(
                path.parent.glob(f"{name}-*.html"), key=lambda p: p.stat().st_mtime_ns, reverse=True
            )
            for stale in older[KEEP_FILES:]:
                stale.unlink(missing_ok=True)
        except OSError as error:
            log.warning("page cache: cannot write %s (%s)", path, error)
