"""From a snapshot table to the rows, features and weights each stage of training sees.

Only rows with a label (active users whose window was fully observed) are used; the
BG/NBD fit is the exception, as it describes every user known at the last validation cutoff
(their features only: no label is read).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from artifact.bgnbd import BgNbdParams
from artifact.bgnbd import features as derived_features
from artifact.model import FeatureInfo, add_derived, encode
from features.labels import LABEL
from features.spec import Feature
from features.timeline import CUTOFF
from training import bgnbd
from training.config import ModelConfig
from training.errors import TrainingError
from training.lgbm import Design, Floats
from training.split import TemporalSplit, temporal_split

FINGERPRINT_DECIMALS = 6


@dataclass(frozen=True)
class TrainingData:
    split: TemporalSplit
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    features: list[FeatureInfo]  # booster inputs, in booster order
    bgnbd: BgNbdParams | None

    @property
    def feature_names(self) -> list[str]:
        return [info.name for info in self.features]

    @property
    def categorical(self) -> list[int]:
        return [i for i, info in enumerate(self.features) if info.kind == "categorical"]

    def design(self, frame: pd.DataFrame, weight: Floats | None = None) -> Design:
        return Design(x=encode(frame, self.features), y=labels(frame), weight=weight)


def labels(frame: pd.DataFrame) -> Floats:
    return frame[LABEL].to_numpy("float64")


def _levels(column: pd.Series) -> list[str]:
    return sorted({str(value) for value in column.dropna().unique()})


def feature_infos(
    catalog: Sequence[Feature], train: pd.DataFrame, derived: Sequence[Feature]
) -> list[FeatureInfo]:
    """Snapshot features (categorical levels as seen in training), then model-based ones."""
    infos = [
        FeatureInfo.of(f, _levels(train[f.name]) if f.kind == "categorical" else None)
        for f in catalog
    ]
    return infos + [FeatureInfo.of(f, derived=True) for f in derived]


def _by_date(snapshot: pd.DataFrame) -> pd.DataFrame:
    cutoffs = pd.to_datetime(snapshot[CUTOFF]).dt.date
    return snapshot.assign(**{CUTOFF: cutoffs})


def _require_both_classes(frame: pd.DataFrame, role: str) -> None:
    counts = frame[LABEL].value_counts()
    if len(frame) == 0 or counts.get(0, 0) == 0 or counts.get(1, 0) == 0:
        cutoffs = ", ".join(str(c) for c in sorted(frame[CUTOFF].unique())) or "none"
        raise TrainingError(
            f"the {role} rows (cutoffs {cutoffs}) need both churned and retained users; "
            f"got {counts.get(1, 0)} churned and {counts.get(0, 0)} retained"
        )


def assemble(
    snapshot: pd.DataFrame, catalog: Sequence[Feature], horizon_days: int, config: ModelConfig
) -> TrainingData:
    snapshot = _by_date(snapshot)
    labelled = snapshot[snapshot[LABEL].notna()]
    split = temporal_split(list(labelled[CUTOFF].unique()), horizon_days, config.validation_cutoffs)
    params = None
    if config.probability_alive:
        params = bgnbd.fit(snapshot[snapshot[CUTOFF] == split.validation[-1]])
    labelled = add_derived(labelled.astype({LABEL: "int8"}), params, horizon_days)
    frames = {
        "train": labelled[labelled[CUTOFF].isin(split.train)],
        "validation": labelled[labelled[CUTOFF].isin(split.validation)],
        "test": labelled[labelled[CUTOFF] == split.test],
    }
    for role, frame in frames.items():
        _require_both_classes(frame, role)
    derived = derived_features(horizon_days) if params is not None else []
    return TrainingData(
        split=split,
        features=feature_infos(catalog, frames["train"], derived),
        bgnbd=params,
        **{role: frame.reset_index(drop=True) for role, frame in frames.items()},
    )


def balanced_weights(frame: pd.DataFrame) -> Floats:
    """Each class carries half the weight of its cutoff, and every row of a class the same."""
    group = frame.groupby([CUTOFF, LABEL], observed=True)[LABEL]
    class_size = group.transform("size").to_numpy("float64")
    cutoff_size = frame.groupby(CUTOFF)[LABEL].transform("size").to_numpy("float64")
    return cutoff_size / (2.0 * class_size)


def fingerprint(data: TrainingData) -> dict[str, object]:
    """Rows and churners per cutoff, and a hash of every labelled row the model saw.

    Floats are rounded first: DuckDB sums floats in parallel, so the last bits of a value
    can differ between two builds of the same snapshot.
    """
    digest = hashlib.sha256()
    rows: dict[str, dict[str, int | str]] = {}
    stages = (("train", data.train), ("validation", data.validation), ("test", data.test))
    for role, frame in stages:
        ordered = frame.sort_values(["user_id", CUTOFF], kind="stable")
        rounded = ordered.round(FINGERPRINT_DECIMALS)
        digest.update(pd.util.hash_pandas_object(rounded, index=False).to_numpy().tobytes())
        for cutoff, group in frame.groupby(CUTOFF):
            churned = int(group[LABEL].sum())
            rows[str(cutoff)] = {"role": role, "rows": len(group), "churned": churned}
    return {"sha256": digest.hexdigest(), "cutoffs": rows}
