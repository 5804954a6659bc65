"""What every worker needs at start, checked once by `winback serve` before BentoML starts.

A worker whose start fails is restarted by BentoML for ever while the port already accepts
connections; an unwritable workdir or a champion that cannot be loaded would crash-loop that
way. Checked here, each is one line and a non-zero exit instead.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from artifact.tracking import resolve_store
from core.config import DatasetConfig, WinbackError
from serving.model_source import Serving, ServingSource
from serving.online_store import open_store, store_root


class CannotServeError(WinbackError):
    """The service would not start, or would start with nothing to serve."""


def check_writable(folder: Path, why: str) -> None:
    probe = folder / f".winback-write-check-{uuid.uuid4().hex}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise CannotServeError(
            f"{folder} is not writable ({error.strerror or error}); the service needs it for {why}"
        ) from None


def check_can_serve(config: DatasetConfig) -> Serving:
    """The pair a worker would start with, loaded and checked as a worker checks it."""
    root = store_root(config)
    check_writable(config.workdir_path, "the registry's lock file")
    check_writable(root, "the reload requests all workers watch")
    try:
        tracking = resolve_store(config)
    except WinbackError:
        raise
    except Exception as error:
        raise CannotServeError(f"the registry cannot be opened: {error}") from None
    source = ServingSource(tracking, config.model.name, open_store(config))
    try:
        source.refresh()
    except WinbackError as error:
        raise CannotServeError(f"no champion and store it can serve: {error}") from None
    assert source.current is not None
    return source.current
