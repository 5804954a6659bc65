"""A stable control group: hash(campaign id, user id) -> uniform [0, 1).

The same campaign always holds out the same users (reruns give the same split), different
campaigns hold out different ones, and no random state needs to be stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

_SCALE = 2.0**-64


def uniform_draw(campaign_id: str, user_ids: Iterable[str]) -> npt.NDArray[np.float64]:
    """The first 8 bytes of sha256("<campaign>:<user>") as a fraction of 2**64."""
    prefix = f"{campaign_id}:".encode()
    return np.array(
        [
            int.from_bytes(hashlib.sha256(prefix + user.encode()).digest()[:8], "big") * _SCALE
            for user in user_ids
        ],
        dtype=np.float64,
    )


def in_control(campaign_id: str, user_ids: Iterable[str], fraction: float) -> npt.NDArray[np.bool_]:
    return uniform_draw(campaign_id, user_ids) < fraction
