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
from dataclasses import dataclass
from functools import reduce

import numpy as np
import pandas as pd

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


def _key(value: object) -> object:
    """A cache key: missing values alike, and -0.0 apart from 0.0 (JSON tells them apart)."""
    if _missing(value):
        return None
    if isinstance(value, float) and value == 0:
        return (value, math.copysign(1.0, value))
    return value


def _cells(
    frame: pd.DataFrame | Mapping[str, object], name: str | None, index: np.ndarray
) -> list[object]:
    """Python scalars (what JSON and sentences take) for the rows in `index`."""
    if name is None or name not in frame:
        return [None] * len(index)
    values = np.asarray(frame[name])[index].tolist()
    return [value.item() if isinstance(value, np.generic) else value for value in values]


@dataclass(frozen=True)
class Explained:
    """Each row's reasons as (rows, count) arrays, ready for dicts or for JSON text."""

    feature: np.ndarray  # names
    value: np.ndarray  # Python scalars, None where missing
    contribution: np.ndarray  # float64
    sentence: np.ndarray
    head: np.ndarray  # JSON of one reason up to its contribution ...
    tail: np.ndarray  # ... and after it: the per-value parts, encoded once per value

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

    def json(self) -> np.ndarray:
        """Per row, exactly `json.dumps([r.to_dict() for r in reasons], default=str)`."""
        rows, count = self.contribution.shape
        if count == 0:
            return np.full(rows, "[]", dtype=object)
        flat = self.contribution.ravel()
        numbers = np.array(list(map(float.__repr__, flat.tolist())), dtype=object)
        for position in np.flatnonzero(~np.isfinite(flat)):
            numbers[position] = json.dumps(float(flat[position]))
        cells = self.head + numbers.reshape(rows, count) + self.tail
        return "[" + reduce(lambda done, cell: done + ", " + cell, cells.T) + "]"


def explain(
    contributions: np.ndarray,
    inputs: pd.DataFrame | Mapping[str, object],
    catalog: Sequence[Feature],
    count: int = 3,
    parallel: bool = False,
) -> Explained:
    """The features pushing each user's risk up the most (by absolute value if none do).

    `contributions` are LightGBM's exact (pred_contrib) contributions: one column per feature in catalog
    order, then the bias column, which is not a reason and is dropped. `inputs` holds the
    features by name (a DataFrame or arrays), aligned with the contribution rows.
    """
    per_feature = contributions[:, : len(catalog)]
    picked = top_features(per_feature, count, parallel)
    shape = picked.shape
    parts = {name: np.empty(shape, dtype=object) for name in ("feature", "value", "sentence")}
    head, tail = np.empty(shape, dtype=object), np.empty(shape, dtype=object)
    for position in np.unique(picked).tolist():
        feature = catalog[position]
        where = picked == position
        index = np.nonzero(where)[0]
        companion = COMPANION.get(feature.name)
        worded: dict[tuple[object, object], tuple[object, str, str, str]] = {}
        cells = []
        for value, other in zip(
            _cells(inputs, feature.name, index), _cells(inputs, companion, index), strict=True
        ):
            key = (_key(value), _key(other))
            if key not in worded:
                value = None if _missing(value) else value
                text = sentence(feature, value, {companion: other} if companion else {})
                worded[key] = (
                    value,
                    text,
                    f'{{"feature": {json.dumps(feature.name)}, '
                    f'"value": {json.dumps(value, default=str)}, "contribution": ',
                    f', "sentence": {json.dumps(text)}}}',
                )
            cells.append(worded[key])
        values, texts, heads, tails = zip(*cells, strict=True)
        parts["feature"][where] = feature.name
        parts["value"][where] = values
        parts["sentence"][where] = texts
        head[where], tail[where] = heads, tails
    every_row = np.arange(shape[0])[:, None]
    return Explained(
        feature=parts["feature"],
        value=parts["value"],
        contribution=np.asarray(per_feature[every_row, picked], dtype="float64"),
        sentence=parts["sentence"],
        head=head,
        tail=tail,
    )


def top_reasons(
    contributions: np.ndarray,
    rows: Sequence[Mapping[str, object]],
    catalog: Sequence[Feature],
    count: int = 3,
) -> list[list[Reason]]:
    """`explain` for rows given as mappings (a missing name reads as a missing value)."""
    return explain(contributions, pd.DataFrame(list(rows)), catalog, count).reasons()
