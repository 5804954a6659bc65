"""Per row, which contributions come first: the one rule reasons are picked by.

The largest contributions first; where nothing pushes the risk up, the largest by absolute
value. Contributions are compared rounded to `TIE_DECIMALS` decimals and equal ones go to the
earlier feature: two exact computations of the same contributions (LightGBM's `pred_contrib`
adds each leaf's share into the running sum, the tree tables add per tree) differ by about
1e-15, and without the rounding such noise would decide between features that tie.

Compiled with numba (cached beside this file): a million rows in one pass without copying
the contributions; batches use every core, a request's rows stay on the calling thread.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

TIE_DECIMALS = 9
CHUNK_ROWS = 4096


@numba.njit(cache=True, nogil=True)
def _rows(
    contributions: npt.NDArray[np.float64],
    start: int,
    stop: int,
    scale: float,
    picked: npt.NDArray[np.intp],
) -> None:
    width, count = contributions.shape[1], picked.shape[1]
    keys = np.empty(width)
    for row in range(start, stop):
        up = False
        for j in range(width):
            keys[j] = np.rint(contributions[row, j] * scale)
            up = up or keys[j] > 0
        if not up:
            for j in range(width):
                keys[j] = abs(keys[j])
        for slot in range(count):
            best = 0
            for j in range(1, width):
                if keys[j] > keys[best]:
                    best = j
            picked[row, slot] = best
            keys[best] = -np.inf


@numba.njit(cache=True, nogil=True, parallel=True)
def _parallel(
    contributions: npt.NDArray[np.float64], scale: float, picked: npt.NDArray[np.intp]
) -> None:
    rows = contributions.shape[0]
    for part in numba.prange((rows + CHUNK_ROWS - 1) // CHUNK_ROWS):
        _rows(contributions, part * CHUNK_ROWS, min(rows, (part + 1) * CHUNK_ROWS), scale, picked)


def top_positions(
    contributions: npt.NDArray[np.float64], count: int, parallel: bool = False
) -> npt.NDArray[np.intp]:
    """(rows, min(count, width)) feature positions, first reason first."""
    rows, width = contributions.shape
    picked = np.empty((rows, min(count, width)), dtype=np.intp)
    if picked.size:
        values = np.asarray(contributions, dtype=np.float64)
        scale = 10.0**TIE_DECIMALS
        if parallel and rows > CHUNK_ROWS:
            _parallel(values, scale, picked)
        else:
            _rows(values, 0, rows, scale, picked)
    return picked
