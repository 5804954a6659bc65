"""Exact contributions at the cost of a prediction: the tree tables (`artifact.tree_tables`)
looked up.

Per row, each feature the trees split on is binned once (a binary search among its
thresholds, or a category lookup); per tree, the row's pattern is the sum of its features'
class x stride, and the pattern's stored contributions and leaf value are added. Rows go in
blocks, tree by tree, so a tree's table is read from cache by the whole block. The sums are
LightGBM's `pred_contrib` to rounding (per tree instead of per leaf: about 1e-15), and the
margin is `predict(raw_score=True)` to the bit, because the leaf values are added in tree
order as LightGBM adds them. Trees left to `pred_contrib` (tables too big) are added by
LightGBM itself, and then the margin comes from `predict`.

The loop is compiled with numba (cached on disk beside this file, so only the first process
after a change compiles); batches are split over every core, a request's few rows stay on
the calling thread, as LightGBM's `num_threads` does here.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numba
import numpy as np
import numpy.typing as npt

from artifact.tree_tables import CATEGORICAL, MAX_CELLS, NUMERIC, ZERO, StaleTables, Tables, build

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Ints32 = npt.NDArray[np.int32]
Ints8 = npt.NDArray[np.int8]
log = logging.getLogger(__name__)
# Rows per block: its bins and sums (about 2 MB) stay in cache while every tree passes.
BLOCK_ROWS = 4096
# Stored tables are checked against LightGBM on this many rows before they are used.
CHECK_ROWS = 64
# How far stored tables may be from pred_contrib on those rows (built ones: about 1e-15).
CHECK_TOLERANCE = 1e-9


@numba.njit(cache=True, nogil=True)
def _bin(
    matrix: Floats,
    start: int,
    stop: int,
    kind: Ints8,
    offset: Ints,
    length: Ints,
    thresholds: Floats,
    category_bins: Ints,
    used: Ints,
    bins: Ints32,
) -> None:
    """bins[feature, row - start]: numeric, the interval (the number of thresholds below the
    value), else missing or zero; categorical, the category's bin, else "other"."""
    for feature in used:
        size, first = length[feature], offset[feature]
        numeric = kind[feature] == NUMERIC
        for row in range(start, stop):
            value = matrix[row, feature]
            if numeric:
                if np.isnan(value):
                    found = size + 1
                elif -ZERO <= value <= ZERO:
                    found = size + 2
                else:
                    low, high = first, first + size
                    while low < high:
                        middle = (low + high) >> 1
                        if thresholds[middle] < value:
                            low = middle + 1
                        else:
                            high = middle
                    found = low - first
            elif np.isnan(value) or value <= -1.0 or value >= size:
                found = category_bins[first + size]  # the "other" bin
            else:  # LightGBM truncates a category to an int
                found = category_bins[first + np.int64(value)]
            bins[feature, row - start] = found


@numba.njit(cache=True, nogil=True)
def _block(
    matrix: Floats,
    start: int,
    stop: int,
    kind: Ints8,
    offset: Ints,
    length: Ints,
    thresholds: Floats,
    category_bins: Ints,
    used: Ints,
    tree_start: Ints,
    tree_feature: Ints,
    tree_lookup: Ints,
    lookup: Ints,
    table_start: Ints,
    table: Floats,
    leaf_start: Ints,
    leaf: Floats,
    out: Floats,
    margin: Floats,
) -> None:
    """Rows start..stop (at most BLOCK_ROWS), tree by tree: one tree's table stays in cache
    while the block's rows look it up, and every inner loop runs along rows."""
    rows, width = stop - start, matrix.shape[1]
    bins = np.zeros((width, rows), dtype=np.int32)
    _bin(matrix, start, stop, kind, offset, length, thresholds, category_bins, used, bins)
    found = np.zeros((width, rows))
    total = np.zeros(rows)
    at = np.zeros(rows, dtype=np.int64)
    for tree in range(len(tree_start) - 1):
        first, last = tree_start[tree], tree_start[tree + 1]
        at[:] = 0
        for j in range(first, last):  # the pattern: sum of class x stride
            classes, feature_bins = tree_lookup[j], bins[tree_feature[j]]
            for row in range(rows):
                at[row] += lookup[classes + feature_bins[row]]
        leaves, base, features = leaf_start[tree], table_start[tree], last - first
        for row in range(rows):  # in tree order, as LightGBM adds them: the margin to the bit
            total[row] += leaf[leaves + at[row]]
            at[row] = base + at[row] * features
        for j in range(features):
            into = found[tree_feature[first + j]]
            for row in range(rows):
                into[row] += table[at[row] + j]
    for row in range(rows):
        margin[start + row] = total[row]
        for feature in range(width):
            out[start + row, feature] = found[feature, row]


@numba.njit(cache=True, nogil=True, parallel=True)
def _parallel(
    matrix: Floats,
    kind: Ints8,
    offset: Ints,
    length: Ints,
    thresholds: Floats,
    category_bins: Ints,
    used: Ints,
    tree_start: Ints,
    tree_feature: Ints,
    tree_lookup: Ints,
    lookup: Ints,
    table_start: Ints,
    table: Floats,
    leaf_start: Ints,
    leaf: Floats,
    out: Floats,
    margin: Floats,
    threads: bool,
) -> None:
    """Every block of the matrix, over every core (`threads`) or on this thread."""
    rows = matrix.shape[0]
    blocks = (rows + BLOCK_ROWS - 1) // BLOCK_ROWS
    if threads:
        for part in numba.prange(blocks):
            _block(
                matrix, part * BLOCK_ROWS, min(rows, (part + 1) * BLOCK_ROWS), kind, offset,
                length, thresholds, category_bins, used, tree_start, tree_feature,
                tree_lookup, lookup, table_start, table, leaf_start, leaf, out, margin,
            )  # fmt: skip
    else:
        for part in range(blocks):
            _block(
                matrix, part * BLOCK_ROWS, min(rows, (part + 1) * BLOCK_ROWS), kind, offset,
                length, thresholds, category_bins, used, tree_start, tree_feature,
                tree_lookup, lookup, table_start, table, leaf_start, leaf, out, margin,
            )  # fmt: skip


@dataclass(frozen=True)
class Built:
    """What building (or loading and checking) the tables cost, for the load log and the
    benchmark."""

    seconds: float
    nbytes: int
    patterns: int
    trees: int
    fallback: int
    stored: bool = False

    def describe(self) -> str:
        how = "stored, checked" if self.stored else "built"
        return (
            f"tree tables for {self.trees} trees: {self.patterns:,} patterns, "
            f"{self.nbytes / 2**20:.1f} MB, {how} in {self.seconds:.2f} s"
            f" ({self.fallback} trees on pred_contrib)"
        )


def check_rows(tables: Tables, rows: int = CHECK_ROWS, seed: int = 0) -> Floats:
    """Rows whose values sit on and beside the tables' bins: each threshold itself and the
    next float above it, beyond both ends, missing, zero; each named category, an unseen one,
    a negative one. A wrong bin or class shows on them as a difference from pred_contrib."""
    rng = np.random.default_rng(seed)
    found = rng.normal(size=(rows, tables.width))
    for feature in range(tables.width):
        first, size = int(tables.offset[feature]), int(tables.length[feature])
        if tables.kind[feature] == NUMERIC:
            cuts = tables.thresholds[first : first + size]
            finite = cuts[np.isfinite(cuts)]
            ends = [finite.min() - 1.0, finite.max() + 1.0] if len(finite) else []
            values = np.concatenate([cuts, np.nextafter(cuts, np.inf), ends, [np.nan, 0.0]])
        elif tables.kind[feature] == CATEGORICAL:
            values = np.concatenate([np.arange(size + 1, dtype=np.float64), [-1.0, np.nan]])
        else:
            continue
        found[:, feature] = rng.choice(values[np.isfinite(values) | np.isnan(values)], rows)
    return found


class Explainer:
    """`pred_contrib` and `predict(raw_score=True)` of one booster, from its tree tables."""

    def __init__(self, booster: lgb.Booster, tables: Tables, built: Built) -> None:
        self.booster = booster
        self.tables = tables
        self.built = built

    @classmethod
    def of(cls, booster: lgb.Booster, max_cells: int = MAX_CELLS) -> Explainer:
        start = time.perf_counter()
        explainer = cls.using(booster, build(booster, max_cells), time.perf_counter() - start)
        log.info("%s", explainer.built.describe())
        return explainer

    @classmethod
    def using(
        cls, booster: lgb.Booster, tables: Tables, seconds: float = 0.0, stored: bool = False
    ) -> Explainer:
        """An explainer from tables built for this booster (by `of`, maybe elsewhere)."""
        built = Built(
            seconds=seconds,
            nbytes=tables.nbytes,
            patterns=tables.patterns,
            trees=tables.trees,
            fallback=len(tables.fallback),
            stored=stored,
        )
        return cls(booster, tables, built)

    @classmethod
    def stored(cls, booster: lgb.Booster, tables: Tables) -> Explainer:
        """An explainer from stored tables, once they give LightGBM's own contributions and
        margin on `check_rows`; else `StaleTables`. Its `built.seconds` is the check's."""
        start = time.perf_counter()
        if tables.width != booster.num_feature():
            raise StaleTables(
                f"{tables.width} features stored, the booster has {booster.num_feature()}"
            )
        found = cls.using(booster, tables)
        rows = check_rows(tables)
        margin, contributions = found.scores(rows, num_threads=1)
        reference = booster.predict(rows, pred_contrib=True, num_threads=1)
        difference = float(np.abs(contributions - reference).max(initial=0.0))
        if difference > CHECK_TOLERANCE or not np.array_equal(
            margin, booster.predict(rows, raw_score=True, num_threads=1)
        ):
            raise StaleTables(f"they differ from pred_contrib by {difference:.1e} on check rows")
        explainer = cls.using(booster, tables, time.perf_counter() - start, True)
        log.info("%s", explainer.built.describe())
        return explainer

    def scores(self, matrix: Floats, num_threads: int | None = None) -> tuple[Floats, Floats]:
        """(raw margin, contributions with the bias column last) of an encoded matrix.

        `num_threads` 1 keeps the work on this thread; anything else uses every core.
        """
        matrix = np.asfortranarray(matrix, dtype=np.float64)  # binning reads along features
        tables = self.tables
        out = np.empty((len(matrix), tables.width + 1))  # the kernel writes every cell
        margin = np.empty(len(matrix))
        arrays = (
            tables.kind,
            tables.offset,
            tables.length,
            tables.thresholds,
            tables.category_bins,
            tables.used,
            tables.tree_start,
            tables.tree_feature,
            tables.tree_lookup,
            tables.lookup,
            tables.table_start,
            tables.table,
            tables.leaf_start,
            tables.leaf,
        )
        threads = num_threads != 1 and len(matrix) > BLOCK_ROWS
        _parallel(matrix, *arrays, out, margin, threads)
        out[:, -1] = tables.bias
        if len(tables.fallback):
            pool: dict[str, Any] = {} if num_threads is None else {"num_threads": num_threads}
            for tree in tables.fallback.tolist():
                found = self.booster.predict(
                    matrix, pred_contrib=True, start_iteration=tree, num_iteration=1, **pool
                )
                out[:, :-1] += np.asarray(found, dtype=np.float64)[:, :-1]
            margin = np.asarray(self.booster.predict(matrix, raw_score=True, **pool), np.float64)
        return margin, out
