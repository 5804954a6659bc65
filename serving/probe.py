"""Does a (model, store) pair work? Asked of a candidate before it goes live, and cheaply of
the live pair on every readiness call.

The store version reads one stored user (a candidate: every row checked readable first) and
the model scores it. A stamp taken when the pair was checked tells later whether the version
was rewritten or removed since.
"""

from __future__ import annotations

import math

from artifact.model import ChurnModel
from serving.online_store import KEY, PairError, Stamp, StoreRows
from serving.scoring import score_rows

__all__ = ["PairError", "Stamp", "check_pair"]

QUICK_SECONDS = 1.0  # a readiness probe gives up after this long
THOROUGH_SECONDS = 60.0  # a candidate's full check


def score_one(model: ChurnModel, store: StoreRows, user_id: str) -> None:
    """The model scores the user's stored row to a probability in [0, 1]."""
    try:
        rows = store.lookup([user_id])
        probability = float(score_rows(model, rows).probability[0]) if len(rows[KEY]) else None
    except Exception as error:  # whatever breaks here breaks requests: refuse the pair
        raise PairError(f"scoring a stored row failed: {type(error).__name__}: {error}") from None
    if probability is None or not (math.isfinite(probability) and 0 <= probability <= 1):
        raise PairError(f"scoring user {user_id} from the store gave {probability}")


def check_pair(model: ChurnModel, store: StoreRows, *, thorough: bool) -> Stamp:
    """The store's stamp once the pair passed: read one user and score it."""
    stamp = store.stamp()
    seconds = THOROUGH_SECONDS if thorough else QUICK_SECONDS
    score_one(model, store, store.first_user(thorough=thorough, seconds=seconds))
    return stamp
