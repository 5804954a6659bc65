"""What the model's inputs and score looked like when it was trained, binned once at training
time, so drift is measured later on the same bins (PSI for numbers, Jensen-Shannon for
categories) whatever the monitored rows look like.

Numbers get decile edges of the reference values (repeated edges merged) and a bin for
missing values; categories get the training levels, one bin for levels never seen and one
for missing values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from features.spec import Kind

Floats = npt.NDArray[np.float64]
BINS = 10
SCORE = "churn_probability"


class Binned(BaseModel):
    """One input's reference distribution over fixed bins."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Kind = "numeric"
    edges: list[float] = Field(default_factory=list, description="numeric: inner bin edges")
    levels: list[str] = Field(default_factory=list, description="categorical: training levels")
    shares: list[float] = Field(description="Share of reference rows per bin, missing last")

    @classmethod
    def of(cls, name: str, kind: Kind, values: Any) -> Binned:
        if kind == "categorical":
            text = pd.Series(values, dtype=object)
            levels = sorted(str(v) for v in text.dropna().unique())
            bins = cls(name=name, kind=kind, levels=levels, shares=[])
        else:
            numbers = _floats(values)
            finite = numbers[~np.isnan(numbers)]
            quantiles = np.linspace(0, 1, BINS + 1)[1:-1]
            edges = np.unique(np.quantile(finite, quantiles)) if finite.size else np.empty(0)
            bins = cls(name=name, kind=kind, edges=edges.tolist(), shares=[])
        return bins.model_copy(update={"shares": bins.shares_of(values).tolist()})

    def shares_of(self, values: Any) -> Floats:
        """Share of `values` per bin of this reference (the same bins, in the same order)."""
        index = self._index(values)
        size = (len(self.levels) + 1 if self.kind == "categorical" else len(self.edges) + 1) + 1
        counts = np.bincount(index, minlength=size).astype("float64")
        return counts / max(counts.sum(), 1.0)

    def _index(self, values: Any) -> npt.NDArray[np.intp]:
        if self.kind == "categorical":
            text = pd.Series(values, dtype=object)
            codes = pd.Index(self.levels, dtype=object).get_indexer(pd.Index(text.astype(str)))
            unseen = len(self.levels)
            index = np.where(codes < 0, unseen, codes)
            return np.where(text.isna().to_numpy(), unseen + 1, index).astype(np.intp)
        numbers = _floats(values)
        index = np.searchsorted(np.asarray(self.edges), numbers, side="left")
        return np.where(np.isnan(numbers), len(self.edges) + 1, index).astype(np.intp)


class Reference(BaseModel):
    """Every model input and the calibrated score, on the rows the model was judged on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rows: int
    features: list[Binned]
    score: Binned


def _floats(values: Any) -> Floats:
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype="float64")


def reference_of(inputs: Mapping[str, Any], kinds: Mapping[str, Kind], score: Floats) -> Reference:
    """`inputs`: the model's inputs by name (as `ChurnModel.inputs` gives them)."""
    return Reference(
        rows=len(score),
        features=[Binned.of(name, kinds[name], values) for name, values in inputs.items()],
        score=Binned.of(SCORE, "numeric", score),
    )
