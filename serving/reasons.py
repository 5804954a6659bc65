"""Per-user reasons in words, from LightGBM's own per-feature contributions.

Operations staff read these next to a score, so each reason is one sentence in the
feature's unit ("no activity for 41 days, usually every 6") rather than a SHAP number.

Batch scoring explains every active user (a million rows), so reasons are picked with
whole-array steps and each distinct (feature, value) is worded and JSON-encoded once; the
service's few rows go through the very same code.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from json.encoder import encode_basestring_ascii

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.spec import Feature
from serving.ranking import top_positions

# The one other value of the row a feature's sentence mentions (see `sentence`).
COMPANION = {"recency_days": "gap_mean_days"}


@dataclass(frozen=True)
class Reason:
    feature: str
    value: float | str | None
    contribution: float
    sentence: str

    def to_dict(self) -> dict[str, object]:
        return {
            "feature": self.feature,
            "value": self.value,
            "contribution": self.contribution,
            "sentence": self.sentence,
        }


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}"


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def sentence(feature: Feature, value: object, row: Mapping[str, object]) -> str:
    """One readable line; the few features people ask about most get their own wording."""
    if _missing(value):
        return f"{_plain(feature.description)}: not known yet"
    if feature.kind == "categorical":
        return f"{feature.name} is {value}"
    number = float(value)  # type: ignore[arg-type]
    if feature.name == "recency_days":
        usual = row.get(COMPANION[feature.name])
        tail = "" if _missing(usual) else f", usually every {_number(round(float(usual)))}"  # type: ignore[arg-type]
        return f"no activity for {_number(round(number))} days{tail}"
    if feature.family == "trend" and feature.unit != "ratio":
        direction = "down" if number < 0 else "up" if number > 0 else "unchanged"
        change = "" if number == 0 else f" by {_number(abs(number))} {feature.unit}"
        return f"{_plain(feature.description).split(',')[0].lower()}: {direction}{change}"
    return f"{_plain(feature.description)}: {_in_unit(number, feature.unit)}"


@cache
def _plain(description: str) -> str:
    """The description without its '(null if ...)' fine print."""
    return re.sub(r"\s*\([^)]*\)\s*$", "", description)


def _in_unit(number: float, unit: str) -> str:
    if unit == "fraction":
        return f"{number:.0%}"
    if unit == "ratio":
        return f"{_number(number)}x"
    return f"{_number(number)} {unit}"


def top_features(contributions: np.ndarray, count: int, parallel: bool = False) -> np.ndarray:
    """Per row, the positions of the `count` largest contributions, largest first; where
    nothing pushes the risk up, the largest by absolute value. Ties (to `ranking.TIE_DECIMALS`
    decimals) go to the earlier feature: the rule is `serving.ranking`'s."""
    return top_positions(contributions, count, parallel)


def _codes(values: np.ndarray) -> np.ndarray:
    """Per value, a code equal for values worded and encoded alike: missing ones (None, NaN)
    alike, -0.0 apart from 0.0 (JSON tells them apart); missing is -1."""
    if values.dtype.kind == "f":
        bits = values.astype("float64").view("int64").copy()
        bits[np.isnan(values)] = MISSING_BITS
        codes = pd.factorize(bits)[0]
        codes[np.isnan(values)] = -1
        return codes
    return pd.factorize(values)[0]


MISSING_BITS = np.float64(np.nan).view("int64")


def _column(frame: pd.DataFrame | Mapping[str, object], name: str | None) -> np.ndarray | None:
    return None if name is None or name not in frame else np.asarray(frame[name])


@dataclass(frozen=True)
class Words:
    """Distinct (feature, value) reasons, each worded and JSON-encoded once."""

    feature: np.ndarray  # names
    value: np.ndarray  # Python scalars, None where missing
    sentence: np.ndarray
    head: pa.Array  # JSON of one reason up to its contribution ...
    tail: pa.Array  # ... and after it


def _value_texts(values: np.ndarray | None, count: int) -> pa.Array:
    """Each value as `_json` writes it (missing: null), as Arrow text; floats in one pass."""
    if values is None:
        return pa.repeat(_text("null"), count)
    if values.dtype.kind == "f":
        return pc.if_else(pa.array(np.isnan(values)), _text("null"), float_texts(values))
    return pa.array([_json(None if _missing(v) else v) for v in values.tolist()], pa.large_string())


def _python_values(values: np.ndarray | None, count: int) -> np.ndarray:
    """The values as `Reason.value` holds them: Python scalars, None where missing."""
    found = np.full(count, None, dtype=object)
    if values is not None and values.dtype.kind == "f":
        found[:] = values.astype(object)
        found[np.isnan(values)] = None
    elif values is not None:
        found[:] = values.tolist()
        found[[_missing(value) for value in found]] = None
    return found


# Up to this many distinct reasons of a feature, their JSON is written by Python: a
# request's few cost less than Arrow's calls would; a batch's are put together by Arrow.
PYTHON_WORDS = 64


def _words(
    feature: Feature,
    inputs: pd.DataFrame | Mapping[str, object],
    rows: np.ndarray,
) -> tuple[Words, np.ndarray]:
    """The reasons of `feature` for `rows`: each distinct (value, companion value) worded
    once, and per row which of them it is. Only the sentences are Python calls; the JSON
    around them is put together by Arrow."""
    companion = COMPANION.get(feature.name)
    values, others = _column(inputs, feature.name), _column(inputs, companion)
    mine = values[rows] if values is not None else None
    theirs = others[rows] if others is not None else None
    key = _codes(mine) if mine is not None else np.full(len(rows), -1)
    if theirs is not None:
        other_key = _codes(theirs)
        key = key.astype("int64") * (int(other_key.max(initial=-1)) + 2) + other_key + 1
    which, _ = pd.factorize(key)
    first = np.full(which.max(initial=-1) + 1, len(rows))
    np.minimum.at(first, which, np.arange(len(rows)))
    count = len(first)
    value = _python_values(mine[first] if mine is not None else None, count)
    other = theirs[first].tolist() if theirs is not None else [None] * count
    sentences = np.empty(count, dtype=object)
    sentences[:] = [
        sentence(feature, found, {companion: usual} if companion else {})
        for found, usual in zip(value.tolist(), other, strict=True)
    ]
    before, after = f'{{"feature": {json.dumps(feature.name)}, "value": ', ', "contribution": '
    quoted = [encode_basestring_ascii(text) for text in sentences]
    if count <= PYTHON_WORDS:
        head = pa.array([f"{before}{_json(found)}{after}" for found in value], pa.large_string())
        tail = pa.array([f', "sentence": {text}}}' for text in quoted], pa.large_string())
    else:
        head = pc.binary_join_element_wise(
            _text(before), _value_texts(mine[first] if mine is not None else None, count),
            _text(after), _text(""),
        )  # fmt: skip
        tail = pc.binary_join_element_wise(
            _text(', "sentence": '), pa.array(quoted, pa.large_string()), _text("}"), _text("")
        )
    words = Words(
        feature=np.full(count, feature.name, dtype=object),
        value=value,
        sentence=sentences,
        head=head,
        tail=tail,
    )
    return words, which


def _json(value: object) -> str:
    """`json.dumps(value, default=str)`, with the common cases short."""
    if value is None:
        return "null"
    if type(value) is float and math.isfinite(value):
        return float.__repr__(value)
    if type(value) is str:
        return encode_basestring_ascii(value)
    return json.dumps(value, default=str)


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, pa.large_string())


# Rows per piece of JSON text: a piece's intermediate strings stay small beside the result.
JSON_ROWS = 65_536


def float_texts(values: np.ndarray) -> pa.Array:
    """`json.dumps` of each float, as Arrow text. Arrow's cast writes the same shortest
    round-trip digits as Python, and the same way for 1e-4 <= |x| < 1e7 when x is not whole
    (tests check it with hypothesis); elsewhere (1e-05, 1.0, 1e7, NaN) Python writes them."""
    values = np.asarray(values, dtype=np.float64)
    size = np.abs(values)
    python = ~((size >= 1e-4) & (size < 1e7) & (values != np.trunc(values)))
    texts = pc.cast(pa.array(values), pa.large_string())
    if not python.any():
        return texts
    own = [json.dumps(value) for value in values[python].tolist()]
    return pc.replace_with_mask(texts, pa.array(python), pa.array(own, pa.large_string()))


@dataclass(frozen=True)
class Explained:
    """Each row's reasons as (rows, count) arrays, ready for dicts or for JSON text: the
    distinct reasons are worded once (`words`), rows point at them (`cell`)."""

    cell: np.ndarray  # (rows, count) positions in `words`
    contribution: np.ndarray  # (rows, count) float64
    words: Words

    @property
    def feature(self) -> np.ndarray:
        return self.words.feature[self.cell]

    @property
    def value(self) -> np.ndarray:
        return self.words.value[self.cell]

    @property
    def sentence(self) -> np.ndarray:
        return self.words.sentence[self.cell]

    def reasons(self) -> list[list[Reason]]:
        return [
            [Reason(*cell) for cell in zip(*parts, strict=True)]
            for parts in zip(
                self.feature.tolist(),
                self.value.tolist(),
                self.contribution.tolist(),
                self.sentence.tolist(),
                strict=True,
            )
        ]

    def first_sentence(self, order: np.ndarray | None = None) -> pa.Array:
        """Each row's first reason in words (null for a row without reasons), the rows in
        `order` if given."""
        rows = np.arange(len(self.cell)) if order is None else order
        if not self.cell.shape[1]:
            return pa.nulls(len(rows), pa.large_string())
        return pa.array(self.words.sentence, pa.large_string()).take(self.cell[rows, 0])

    def json(self, order: np.ndarray | None = None) -> pa.ChunkedArray:
        """Per row (the rows in `order` if given), exactly `json.dumps([r.to_dict() for r in
        reasons], default=str)`, as Arrow text built piece by piece (a million rows' JSON is
        a few hundred MB: it never becomes Python strings, and is never copied to reorder)."""
        rows = np.arange(len(self.cell)) if order is None else order
        count = self.cell.shape[1]
        if count == 0:
            return pa.chunked_array([pa.repeat(_text("[]"), len(rows))])
        starts = range(0, len(rows), JSON_ROWS)
        if len(starts) < 2:
            return pa.chunked_array([self._json_piece(rows)], pa.large_string())
        # Arrow lets go of the GIL: the pieces are put together on two threads at once.
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="winback-json") as pool:
            pieces = pool.map(
                self._json_piece, (rows[start : start + JSON_ROWS] for start in starts)
            )
            return pa.chunked_array(list(pieces), pa.large_string())

    def _json_piece(self, rows: np.ndarray) -> pa.Array:
        cells, numbers = self.cell[rows], self.contribution[rows]
        parts: list[pa.Array | pa.Scalar] = [_text("[")]
        for slot in range(cells.shape[1]):
            found = cells[:, slot]
            parts += [_text(", ")] if slot else []
            parts += [self.words.head.take(found), float_texts(numbers[:, slot])]
            parts += [self.words.tail.take(found)]
        return pc.binary_join_element_wise(*parts, _text("]"), _text(""))


def concat(parts: Sequence[Explained]) -> Explained:
    """Several rows' Explained as one, rows in order. Each part keeps its own words (a value
    worded in two parts is there twice), so every row's reasons and JSON are unchanged."""
    if len(parts) == 1:
        return parts[0]
    offsets = np.cumsum([0, *(len(part.words.feature) for part in parts[:-1])])
    return Explained(
        cell=np.concatenate(
            [part.cell + offset for part, offset in zip(parts, offsets, strict=True)]
        ),
        contribution=np.concatenate([part.contribution for part in parts]),
        words=_joined([part.words for part in parts]),
    )


def _no_words() -> Words:
    nothing = np.empty(0, dtype=object)
    return Words(nothing, nothing, nothing, *[pa.array([], pa.large_string())] * 2)


def _joined(words: Sequence[Words]) -> Words:
    """Several Words one after the other."""
    return Words(
        feature=np.concatenate([part.feature for part in words]),
        value=np.concatenate([part.value for part in words]),
        sentence=np.concatenate([part.sentence for part in words]),
        head=pa.concat_arrays([part.head for part in words]),
        tail=pa.concat_arrays([part.tail for part in words]),
    )


def explain(
    contributions: np.ndarray,
    inputs: pd.DataFrame | Mapping[str, object],
    catalog: Sequence[Feature],
    count: int = 3,
    parallel: bool = False,
) -> Explained:
    """The features pushing each user's risk up the most (by absolute value if none do).

    `contributions` are LightGBM's exact contributions (`pred_contrib`, from the tree
    tables): one column per feature in catalog order, then the bias column, which is not a
    reason and is dropped. `inputs` holds the features by name (a DataFrame or arrays),
    aligned with the contribution rows.
    """
    per_feature = contributions[:, : len(catalog)]
    picked = top_features(per_feature, count, parallel)
    flat = picked.ravel()
    order = np.argsort(flat, kind="stable")
    bounds = np.flatnonzero(np.diff(flat[order])) + 1
    cell = np.empty(flat.shape, dtype=np.int64)
    found = [_no_words()]
    known = 0
    for group in np.split(order, bounds) if len(order) else []:
        worded, which = _words(catalog[int(flat[group[0]])], inputs, group // picked.shape[1])
        cell[group] = which + known
        known += len(worded.feature)
        found.append(worded)
    every_row = np.arange(picked.shape[0])[:, None]
    return Explained(
        cell=cell.reshape(picked.shape),
        contribution=np.asarray(per_feature[every_row, picked], dtype="float64"),
        words=_joined(found),
    )


def top_reasons(
    contributions: np.ndarray,
    rows: Sequence[Mapping[str, object]],
    catalog: Sequence[Feature],
    count: int = 3,
) -> list[list[Reason]]:
    """`explain` for rows given as mappings (a missing name reads as a missing value)."""
    return explain(contributions, pd.DataFrame(list(rows)), catalog, count).reasons()
