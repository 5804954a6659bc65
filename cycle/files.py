"""Files a crash can never leave half-written: written beside the target, flushed to disk,
then renamed over it (and the folder flushed, so the rename itself survives a power cut)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def _sync_folder(folder: Path) -> None:
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def write_atomic(path: Path, write: Callable[[Path], object]) -> Path:
    """`write(partial)` writes the content to a temporary path; it then replaces `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    write(partial)
    with partial.open("rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, path)
    _sync_folder(path.parent)
    return path


def write_text_atomic(path: Path, text: str) -> Path:
    return write_atomic(path, lambda partial: partial.write_text(text))
