"""Per-user reasons in words, from LightGBM's own per-feature contributions.

Operations staff read these next to a score, so each reason is one sentence in the
feature's unit ("no activity for 41 days, usually every 6") rather than a SHAP number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from features.spec import Feature


@dataclass(frozen=True)
class Reason:
    feature: str
    value: float | str | None
    contribution: float
    sentence: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


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
        usual = row.get("gap_mean_days")
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


def top_reasons(
    contributions: np.ndarray,
    rows: Sequence[Mapping[str, object]],
    catalog: Sequence[Feature],
    count: int = 3,
) -> list[list[Reason]]:
    """The features pushing each user's risk up the most (by absolute value if none do).

    `contributions` is LightGBM's pred_contrib output: one column per feature in catalog
    order, then the bias column, which is not a reason and is dropped.
    """
    per_feature = contributions[:, : len(catalog)]
    result = []
    for row, contribution in zip(rows, per_feature, strict=True):
        order = np.argsort(-contribution, kind="stable")
        if contribution[order[0]] <= 0:
            order = np.argsort(-np.abs(contribution), kind="stable")
        reasons = []
        for index in order[:count]:
            feature = catalog[index]
            value = row.get(feature.name)
            reasons.append(
                Reason(
                    feature=feature.name,
                    value=None if _missing(value) else value,  # type: ignore[arg-type]
                    contribution=float(contribution[index]),
                    sentence=sentence(feature, value, row),
                )
            )
        result.append(reasons)
    return result
