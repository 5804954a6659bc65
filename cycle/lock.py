"""One cycle at a time per workdir: an exclusive, non-blocking `flock` on a file.

The kernel drops the lock when the holder exits, however it exits (kill -9 included), so a
crashed cycle never leaves a stale lock behind. Nothing is written into the file.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.config import WinbackError


class CycleBusyError(WinbackError):
    """Another cycle holds the workdir's lock: try again later."""


@contextmanager
def held(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CycleBusyError(
                f"another winback cycle is running on this workdir (it holds {path}); "
                "this one did nothing"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
