"""Does a (model, store) pair work? Asked of a candidate before it goes live, and cheaply of
the live pair on every readiness call.

The store's SQLite file is opened here without `immutable=1` (which the service's own
connection uses for speed), so what is checked is what is on disk now. A file stamp taken
when the pair was checked tells later whether the file was written since.
"""

from __future__ import annotations

import math
import sqlite3
import time
from pathlib import Path

from artifact.model import ChurnModel
from core.config import WinbackError
from serving.online_store import KEY, TABLE, OnlineStore
from serving.scoring import score_rows

Stamp = tuple[int, int, int]  # inode, size, mtime in ns
QUICK_SECONDS = 1.0  # a readiness probe gives up after this long
THOROUGH_SECONDS = 60.0  # a candidate's full check
SQLITE_STEPS = 1000  # progress-handler granularity (VM instructions between deadline checks)


class PairError(WinbackError):
    """A model and store that do not work together: refused, or no longer ready."""


def file_stamp(path: Path) -> Stamp:
    try:
        found = path.stat()
    except OSError as error:
        raise PairError(f"online store file {path}: {error.strerror or error}") from None
    return (found.st_ino, found.st_size, found.st_mtime_ns)


def first_user(path: Path, *, thorough: bool, seconds: float) -> str:
    """One user id from the file; `thorough` also runs SQLite's quick_check over every page
    (a candidate's one-off cost), so damage anywhere in the file is found, not only where a
    lookup happens to read."""
    deadline = time.monotonic() + seconds
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=seconds)
    except sqlite3.Error as error:
        raise PairError(f"online store file {path}: {error}") from None
    try:
        con.set_progress_handler(lambda: time.monotonic() > deadline, SQLITE_STEPS)
        if thorough:
            verdict = [row[0] for row in con.execute("PRAGMA quick_check")]
            if verdict != ["ok"]:
                raise PairError(f"online store file {path} is damaged: {'; '.join(verdict[:3])}")
        row = con.execute(f"SELECT {KEY} FROM {TABLE} LIMIT 1").fetchone()
    except sqlite3.Error as error:
        late = " (timed out)" if time.monotonic() > deadline else ""
        raise PairError(f"online store file {path} is unreadable{late}: {error}") from None
    finally:
        con.close()
    if row is None or not isinstance(row[0], str):
        raise PairError(f"online store file {path} holds no users")
    return row[0]


def score_one(model: ChurnModel, store: OnlineStore, user_id: str) -> None:
    """The model scores the user's stored row to a probability in [0, 1]."""
    try:
        rows = store.lookup([user_id])
        probability = float(score_rows(model, rows).probability[0]) if len(rows[KEY]) else None
    except Exception as error:  # whatever breaks here breaks requests: refuse the pair
        raise PairError(f"scoring a stored row failed: {type(error).__name__}: {error}") from None
    if probability is None or not (math.isfinite(probability) and 0 <= probability <= 1):
        raise PairError(f"scoring user {user_id} from the store gave {probability}")


def check_pair(model: ChurnModel, store: OnlineStore, *, thorough: bool) -> Stamp:
    """The store's stamp once the pair passed: read one user and score it."""
    path = store.version.sqlite_path
    stamp = file_stamp(path)
    seconds = THOROUGH_SECONDS if thorough else QUICK_SECONDS
    score_one(model, store, first_user(path, thorough=thorough, seconds=seconds))
    return stamp
