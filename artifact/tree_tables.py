"""LightGBM's exact contributions, tabulated per tree and decision pattern, with LightGBM as
the oracle.

A tree's path-dependent TreeSHAP vector for a row depends only on which side of each of the
tree's splits the row falls. Splits on one feature nest, so per feature the row's side of
every split on it follows from one *class*: a set of values that all splits on the feature
send the same way (an interval between two thresholds, missing, zero, a category). A row's
pattern in a tree is its class per feature the tree splits on, and there are few: the
product of the class counts, usually tens to thousands. So each tree's contributions (and
its leaf value) are asked of LightGBM once per pattern, on one representative row each, when
the model is loaded; scoring then needs only a row's classes. A tree whose table would be
too big is left to `pred_contrib` (`Tables.fallback`).

Classes come from *bins* computed once per feature across all trees: the intervals between
every threshold any tree uses on it, then missing (NaN) and zero; for a categorical feature
each category any split names, then "other" (missing, negative, unnamed). LightGBM's own
decisions (`Tree::NumericalDecision`, `CategoricalDecision`) are replayed on each bin's
representative value to group bins into a tree's classes; LightGBM's values are what is
stored, so a wrong grouping shows as a difference from `pred_contrib`, which the tests
look for.
"""

from __future__ import annotations

import io
import itertools
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

# LightGBM reads |x| <= kZeroThreshold (1e-35f, as a double) as exactly zero before any split.
ZERO = float(np.float32(1e-35))
NUMERIC, CATEGORICAL = 1, 2
# A tree whose table (patterns x its features) would hold more cells goes to pred_contrib.
MAX_CELLS = 1 << 18
# Stored tables of another format are rebuilt: raise it whenever `build`'s output changes.
FORMAT = 1


class StaleTables(ValueError):
    """Stored tables that cannot be used for this model: another format, another model, or
    an unreadable file. The booster is the truth; they are built again from it."""


@dataclass(frozen=True)
class Split:
    """One internal node, as LightGBM decides it."""

    feature: int
    threshold: float  # numeric splits
    categories: frozenset[int]  # categorical splits: the categories sent left
    categorical: bool
    missing: str  # missing_type: None, Zero or NaN
    default_left: bool

    def left(self, values: Floats) -> npt.NDArray[np.bool_]:
        """Which of `values` (as LightGBM reads them: see ZERO) go left here; LightGBM's rule."""
        missing = np.isnan(values)
        if self.categorical:  # missing or negative: right; a category is truncated to an int
            named = np.asarray(sorted(self.categories), dtype=np.int64)
            known = ~missing & (values > -1)
            return known & np.isin(np.where(known, values, -1).astype(np.int64), named)
        if self.missing == "NaN":
            return np.where(missing, self.default_left, values <= self.threshold)
        read = np.where(missing, 0.0, values)  # missing type None or Zero: NaN reads as 0
        if self.missing == "Zero":
            return np.where(read == 0.0, self.default_left, read <= self.threshold)
        return read <= self.threshold


def _splits(node: Mapping[str, Any], thresholds: Sequence[float]) -> Iterator[Split]:
    """A dumped tree's splits; numeric thresholds from the model text (`thresholds`, by split
    index), which keeps an infinite one that `dump_model` writes as +-1e300."""
    if "split_index" not in node:
        return
    categorical = node["decision_type"] == "=="
    yield Split(
        feature=int(node["split_feature"]),
        threshold=np.nan if categorical else thresholds[int(node["split_index"])],
        categories=frozenset(int(c) for c in str(node["threshold"]).split("||"))
        if categorical
        else frozenset(),
        categorical=categorical,
        missing=str(node["missing_type"]),
        default_left=bool(node["default_left"]),
    )
    yield from _splits(node["left_child"], thresholds)
    yield from _splits(node["right_child"], thresholds)


def text_thresholds(model: str) -> list[list[float]]:
    """Per tree, the `threshold=` line of LightGBM's model text, as written (17 digits, inf)."""
    found: list[list[float]] = []
    for block in model.split("\nTree=")[1:]:
        line = next((ln for ln in block.splitlines() if ln.startswith("threshold=")), "threshold=")
        found.append([float(value) for value in line.removeprefix("threshold=").split()])
    return found


@dataclass(frozen=True)
class Bins:
    """One feature's bins across all trees, and a representative value for each.

    Numeric: bins 0..K are the intervals (-inf, t0], (t0, t1], ..., (tK-1, inf) of the K
    sorted thresholds, K+1 is missing, K+2 is zero (a zero never falls in an interval bin).
    Categorical: bin i is the i-th category named by some split, the last bin is the rest.
    """

    kind: int
    thresholds: Floats  # numeric: sorted, distinct
    categories: Ints  # categorical: sorted, distinct, >= 0
    values: Floats  # per bin, a value falling in it (NaN for missing or "other")
    reachable: npt.NDArray[np.bool_]  # an interval inside the zero band holds no value

    @property
    def size(self) -> int:
        return len(self.values)


def _inside(low: float, high: float) -> float | None:
    """A value in (low, high] that LightGBM does not read as zero, if there is one (the first
    interval, low = -inf, holds -inf itself)."""
    candidates = (high, np.nextafter(low, np.inf), np.nextafter(-ZERO, -np.inf))
    for value in (*candidates, np.nextafter(ZERO, np.inf)):
        inside = low < value or value == low == -np.inf
        if inside and value <= high and abs(value) > ZERO:
            return float(value)
    return None


def numeric_bins(thresholds: Floats) -> Bins:
    edges = np.concatenate([[-np.inf], thresholds, [np.inf]])
    found = [_inside(low, high) for low, high in itertools.pairwise(edges.tolist())]
    values = [np.nan if value is None else value for value in found] + [np.nan, 0.0]
    reachable = [value is not None for value in found] + [True, True]
    return Bins(
        kind=NUMERIC,
        thresholds=thresholds,
        categories=np.empty(0, dtype=np.int64),
        values=np.asarray(values, dtype=np.float64),
        reachable=np.asarray(reachable, dtype=np.bool_),
    )


def categorical_bins(categories: Ints) -> Bins:
    return Bins(
        kind=CATEGORICAL,
        thresholds=np.empty(0),
        categories=categories,
        values=np.append(categories.astype(np.float64), np.nan),
        reachable=np.ones(len(categories) + 1, dtype=np.bool_),
    )


def feature_bins(trees: Sequence[Sequence[Split]], width: int) -> list[Bins | None]:
    """Per feature, its bins; None for a feature no tree splits on (it contributes 0)."""
    found: list[Bins | None] = [None] * width
    for feature in range(width):
        splits = [split for tree in trees for split in tree if split.feature == feature]
        if not splits:
            continue
        if splits[0].categorical:
            named = sorted({c for split in splits for c in split.categories if c >= 0})
            found[feature] = categorical_bins(np.asarray(named, dtype=np.int64))
        else:
            thresholds = np.unique(np.asarray([split.threshold for split in splits]))
            found[feature] = numeric_bins(thresholds)
    return found


@dataclass(frozen=True)
class TreeClasses:
    """One tree's view of one feature: each bin's class, and a value for each class."""

    feature: int
    of_bin: Ints  # class per bin (an unreachable bin: class 0, never looked up)
    values: Floats  # per class, a representative value


def tree_classes(splits: Sequence[Split], bins: Bins, feature: int) -> TreeClasses:
    """Bins the tree's splits on `feature` send the same way are one class."""
    on_feature = [split for split in splits if split.feature == feature]
    sides = np.column_stack([split.left(bins.values) for split in on_feature])
    reachable = np.flatnonzero(bins.reachable)
    _, first, inverse = np.unique(sides[reachable], axis=0, return_index=True, return_inverse=True)
    of_bin = np.zeros(bins.size, dtype=np.int64)
    of_bin[reachable] = inverse.ravel()
    return TreeClasses(feature, of_bin, bins.values[reachable[first]])


@dataclass(frozen=True)
class Tables:
    """Everything the scoring kernel reads, as flat arrays (CSR-style offsets per tree)."""

    width: int  # booster features
    # per feature: kind (0: unused), offset/length into `thresholds` or `category_bins`
    kind: npt.NDArray[np.int8]
    offset: Ints
    length: Ints
    thresholds: Floats
    category_bins: Ints  # per categorical feature, category -> bin, then the "other" bin
    used: Ints  # features some tabulated tree splits on
    # per tabulated tree: its features tree_feature[tree_start[t]:tree_start[t + 1]]
    tree_start: Ints
    tree_feature: Ints
    tree_lookup: Ints  # per (tree, feature): offset of its bin -> class * stride in `lookup`
    lookup: Ints
    table_start: Ints  # per tree: offset of its (patterns x features) block in `table`
    table: Floats
    leaf_start: Ints  # per tree: offset of its per-pattern leaf values in `leaf`
    leaf: Floats
    bias: float  # sum of every tree's expected value (the bias column)
    fallback: Ints  # iterations left to pred_contrib
    trees: int

    def to_bytes(self, fingerprint: str = "") -> bytes:
        """The tables as an .npz (numbers only, no pickles), for Spark's executors and for
        the model's folder; `fingerprint` names the model text they were built from."""
        found = io.BytesIO()
        arrays = {k: v for k, v in vars(self).items() if isinstance(v, np.ndarray)}
        numbers = np.array([self.width, self.trees, FORMAT], dtype=np.int64)
        np.savez(
            found,
            allow_pickle=False,
            numbers=numbers,
            bias=np.array([self.bias]),
            fingerprint=np.array(fingerprint),
            **arrays,
        )
        return found.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes | Path, fingerprint: str = "") -> Tables:
        """Tables stored by `to_bytes` (bytes, or a file), if they are of this `FORMAT` and
        for the model text `fingerprint` names; otherwise `StaleTables`, saying why."""
        try:
            arrays = npz_arrays(data)
            width, trees, *stored_format = arrays.pop("numbers").tolist()
            stored = str(arrays.pop("fingerprint")) if "fingerprint" in arrays else ""
            tables = cls(width=width, trees=trees, bias=float(arrays.pop("bias")[0]), **arrays)
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as error:
            raise StaleTables(f"unreadable: {type(error).__name__}: {error}") from None
        if stored_format != [FORMAT]:
            raise StaleTables(f"format {stored_format or [0]} is not {FORMAT}")
        if stored != fingerprint:
            raise StaleTables(f"built for model {stored[:12] or '?'}, not {fingerprint[:12]}")
        return tables

    @property
    def nbytes(self) -> int:
        return sum(value.nbytes for value in vars(self).values() if isinstance(value, np.ndarray))

    @property
    def patterns(self) -> int:
        return len(self.leaf)


# A zip member's local header: 30 bytes, then its name and extra field (their lengths at 26, 28).
LOCAL_HEADER = 30
HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def npz_arrays(data: bytes | Path) -> dict[str, Any]:
    """The arrays of an .npz written by `np.savez` (members stored, not compressed), each
    read straight into its own array with one call and its CRC checked. `np.load` reads
    members through `zipfile` in 256 KB pieces: about three times as long for a big model's
    tables, on a process's critical path."""
    arrays = {}
    with (
        io.BytesIO(data) if isinstance(data, bytes) else data.open("rb") as file,
        zipfile.ZipFile(file) as archive,  # reads the member list only
    ):
        for member in archive.infolist():
            if member.compress_type != zipfile.ZIP_STORED:
                raise ValueError(f"member {member.filename} is compressed")
            file.seek(member.header_offset)
            local = file.read(LOCAL_HEADER)
            names, extra = (int.from_bytes(local[at : at + 2], "little") for at in (26, 28))
            start = member.header_offset + LOCAL_HEADER + names + extra
            file.seek(start)
            version = np.lib.format.read_magic(file)
            if version not in HEADER_READERS:
                raise ValueError(f"member {member.filename} is .npy version {version}")
            shape, fortran, dtype = HEADER_READERS[version](file)
            if dtype.hasobject:
                raise ValueError(f"member {member.filename} holds objects")
            found = np.empty(shape, dtype, order="F" if fortran else "C")
            body = found.reshape(-1, order="A").data.cast("B")
            if file.readinto(body) != found.nbytes:
                raise ValueError(f"member {member.filename} is cut short")
            header = member.file_size - found.nbytes
            file.seek(start)
            if zlib.crc32(body, zlib.crc32(file.read(header))) != member.CRC:
                raise ValueError(f"member {member.filename} fails its CRC check")
            arrays[member.filename.removesuffix(".npy")] = found
    return arrays


def _pattern_rows(classes: Sequence[TreeClasses], width: int) -> Floats:
    """One representative row per pattern (row-major: the last feature's class varies fastest);
    features the tree does not split on are missing, which it never looks at."""
    counts = [len(found.values) for found in classes]
    grid = np.indices(counts).reshape(len(counts), int(np.prod(counts)))
    rows = np.full((grid.shape[1], width), np.nan)
    for found, index in zip(classes, grid, strict=True):
        rows[:, found.feature] = found.values[index]
    return rows


def _feature_arrays(bins: Sequence[Bins | None]) -> dict[str, Any]:
    """Per feature: kind, and where its thresholds or its category -> bin map are."""
    width = len(bins)
    kind = np.zeros(width, dtype=np.int8)
    offset = np.zeros(width, dtype=np.int64)
    length = np.zeros(width, dtype=np.int64)
    thresholds: list[Floats] = [np.empty(0)]
    category_bins: list[Ints] = [np.empty(0, dtype=np.int64)]
    for feature, found in enumerate(bins):
        if found is None:
            continue
        kind[feature] = found.kind
        if found.kind == NUMERIC:
            offset[feature] = sum(map(len, thresholds))
            length[feature] = len(found.thresholds)
            thresholds.append(found.thresholds)
        else:
            named = found.categories
            slots = int(named.max()) + 1 if len(named) else 0
            to_bin = np.full(slots + 1, len(named), dtype=np.int64)  # the last: "other"
            to_bin[named] = np.arange(len(named))
            offset[feature], length[feature] = sum(map(len, category_bins)), slots
            category_bins.append(to_bin)
    return {
        "kind": kind,
        "offset": offset,
        "length": length,
        "thresholds": np.concatenate(thresholds),
        "category_bins": np.concatenate(category_bins),
    }


def build(booster: lgb.Booster, max_cells: int = MAX_CELLS) -> Tables:
    """Tables for the trees `booster.predict` uses (its best iteration, else all).

    LightGBM is asked on one thread: per call its thread pool costs more than a tree's few
    thousand rows take."""
    dump = booster.dump_model()
    if dump["num_tree_per_iteration"] != 1 or dump["average_output"]:
        raise ValueError("tree tables need one tree per iteration, summed (binary, regression)")
    width = int(dump["max_feature_idx"]) + 1
    exact = text_thresholds(booster.model_to_string())
    trees = [
        list(_splits(info["tree_structure"], thresholds))
        for info, thresholds in zip(dump["tree_info"], exact, strict=True)
    ]
    bins = feature_bins(trees, width)
    per_tree = [
        [tree_classes(splits, bins[f], f) for f in sorted({s.feature for s in splits})]  # type: ignore[arg-type]
        for splits in trees
    ]
    patterns = [int(np.prod([len(c.values) for c in classes])) for classes in per_tree]
    cells = [count * len(classes) for count, classes in zip(patterns, per_tree, strict=True)]
    tabulated = [t for t, size in enumerate(cells) if size <= max_cells]
    fallback = sorted(set(range(len(trees))) - set(tabulated))
    table_start = np.cumsum([0] + [cells[t] for t in tabulated])
    leaf_start = np.cumsum([0] + [patterns[t] for t in tabulated])
    table, leaf = np.empty(table_start[-1]), np.empty(leaf_start[-1])

    def ask(tree: int, rows: Floats, contributions: bool) -> Floats:
        """LightGBM on one tree, on one thread."""
        found = booster.predict(
            rows, start_iteration=tree, num_iteration=1, num_threads=1,
            pred_contrib=contributions, raw_score=not contributions,
        )  # fmt: skip
        return np.asarray(found, dtype=np.float64)

    def tabulate(tree: int) -> tuple[Floats, Floats, float]:
        """Per pattern of the tree, its contributions and leaf value; and its bias."""
        if tree in fallback:
            return (
                np.empty(0),
                np.empty(0),
                float(ask(tree, np.full((1, width), np.nan), True)[0, -1]),
            )
        rows = _pattern_rows(per_tree[tree], width)
        found = ask(tree, rows, True)
        features = [c.feature for c in per_tree[tree]]
        return found[:, features].ravel(), ask(tree, rows, False), float(found[0, -1])

    position = {tree: n for n, tree in enumerate(tabulated)}
    tree_feature, lookups, bias = [], [], 0.0
    for t in range(len(trees)):  # one booster is not safe to ask from two threads
        values, leaves, expected = tabulate(t)
        bias += expected  # in tree order, as LightGBM sums the bias column
        if t in fallback:
            continue
        n, classes = position[t], per_tree[t]
        table[table_start[n] : table_start[n + 1]] = values
        leaf[leaf_start[n] : leaf_start[n + 1]] = leaves
        counts = [len(c.values) for c in classes]
        strides = [int(np.prod(counts[j + 1 :])) for j in range(len(counts))]
        for found_classes, stride in zip(classes, strides, strict=True):
            tree_feature.append(found_classes.feature)
            lookups.append(found_classes.of_bin * stride)
    tree_start = np.cumsum([0] + [len(per_tree[t]) for t in tabulated])
    sizes = [len(lookup) for lookup in lookups]
    return Tables(
        width=width,
        **_feature_arrays(bins),
        used=np.asarray(
            sorted({f for t in tabulated for f in (s.feature for s in trees[t])}), dtype=np.int64
        ),
        tree_start=tree_start.astype(np.int64),
        tree_feature=np.asarray(tree_feature, dtype=np.int64),
        tree_lookup=np.cumsum([0, *sizes])[:-1].astype(np.int64),
        lookup=np.concatenate([np.empty(0, dtype=np.int64), *lookups]),
        table_start=table_start.astype(np.int64),
        table=table,
        leaf_start=leaf_start.astype(np.int64),
        leaf=leaf,
        bias=bias,
        fallback=np.asarray(fallback, dtype=np.int64),
        trees=len(trees),
    )
