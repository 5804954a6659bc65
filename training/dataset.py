"""From a snapshot table to the rows, features and weights each stage of training sees.

Only rows with a label (active users whose window was fully observed) are used; the
BG/NBD fits are the exception, as each describes every user known at the cutoff its model
predicts (their features only: no label is read).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import pandas as pd

from artifact.bgnbd import BgNbdParams
from artifact.bgnbd import features as derived_features
from artifact.model import FeatureInfo, add_derived, encode
from core.config import DatasetConfig
from features.spec import Feature
from features.status import LABEL
from features.timeline import CUTOFF
from training import bgnbd
from training.config import BacktestConfig, ModelConfig
from training.errors import TrainingError
from training.lgbm import Design, Floats
from training.split import TemporalSplit, backtest_grid, temporal_split

FINGERPRINT_DECIMALS = 6


@dataclass(frozen=True)
class TrainingData:
    """Every labelled row, the split, and the booster inputs; each fit takes its cutoffs."""

    split: TemporalSplit
    snapshot: pd.DataFrame  # every row (cutoffs as dates): BG/NBD fits read features only
    labelled: pd.DataFrame  # rows with a label, as int8
    features: list[FeatureInfo]  # booster inputs, in booster order
    horizon_days: int
    probability_alive: bool
    skipped_folds: tuple[str, ...] = ()  # backtest cutoffs too small to count, and why
    _bgnbd: dict[dt.date, BgNbdParams] = field(default_factory=dict, repr=False, compare=False)

    @property
    def feature_names(self) -> list[str]:
        return [info.name for info in self.features]

    @property
    def categorical(self) -> list[int]:
        return [i for i, info in enumerate(self.features) if info.kind == "categorical"]

    def bgnbd_at(self, cutoff: dt.date) -> BgNbdParams | None:
        """BG/NBD fitted on every user's features at the cutoff a model predicts (no label)."""
        if not self.probability_alive:
            return None
        if cutoff not in self._bgnbd:
            self._bgnbd[cutoff] = bgnbd.fit(self.snapshot[self.snapshot[CUTOFF] == cutoff])
        return self._bgnbd[cutoff]

    def rows(self, cutoffs: Sequence[dt.date], params: BgNbdParams | None) -> pd.DataFrame:
        """Labelled rows of these cutoffs with the model-based features of `params`."""
        chosen = self.labelled[self.labelled[CUTOFF].isin(cutoffs)].reset_index(drop=True)
        return add_derived(chosen, params, self.horizon_days)

    @cached_property
    def train(self) -> pd.DataFrame:
        """What the evaluated model is fitted on (built once: the pipeline reads it often)."""
        return self.rows(self.split.train, self.bgnbd_at(self.split.test))

    @cached_property
    def test(self) -> pd.DataFrame:
        return self.rows([self.split.test], self.bgnbd_at(self.split.test))

    def design(self, frame: pd.DataFrame, weight: Floats | None = None) -> Design:
        return Design(x=encode(frame, self.features), y=labels(frame), weight=weight)


def labels(frame: pd.DataFrame) -> Floats:
    return frame[LABEL].to_numpy("float64")


def _levels(column: pd.Series) -> list[str]:
    return sorted({str(value) for value in column.dropna().unique()})


def feature_infos(
    catalog: Sequence[Feature], rows: pd.DataFrame, derived: Sequence[Feature]
) -> list[FeatureInfo]:
    """Snapshot features (categorical levels as seen in labelled rows), then model-based ones."""
    infos = [
        FeatureInfo.of(f, _levels(rows[f.name]) if f.kind == "categorical" else None)
        for f in catalog
    ]
    return infos + [FeatureInfo.of(f, derived=True) for f in derived]


def _by_date(snapshot: pd.DataFrame) -> pd.DataFrame:
    cutoffs = pd.to_datetime(snapshot[CUTOFF]).dt.date
    return snapshot.assign(**{CUTOFF: cutoffs})


def shortfall(frame: pd.DataFrame, rules: BacktestConfig) -> str | None:
    """Why these rows are too few for an honest metric (None when they are enough)."""
    churned = int(frame[LABEL].sum())
    retained = len(frame) - churned
    if len(frame) < rules.min_rows or min(churned, retained) < rules.min_each_class:
        return (
            f"{len(frame):,} labelled users ({churned:,} churned, {retained:,} retained); "
            f"needs {rules.min_rows:,} users and {rules.min_each_class:,} of each class "
            "(model.backtest.min_rows, min_each_class)"
        )
    return None


def _eligible(
    split: TemporalSplit, labelled: pd.DataFrame, rules: BacktestConfig
) -> tuple[TemporalSplit, tuple[str, ...]]:
    """The split with only the folds whose target and training rows can carry a metric."""
    test_problem = shortfall(labelled[labelled[CUTOFF] == split.test], rules)
    if test_problem:
        raise TrainingError(f"the test cutoff {split.test} has {test_problem}")
    kept, skipped = [], []
    for fold in split.folds:
        problem = shortfall(labelled[labelled[CUTOFF] == fold.cutoff], rules)
        training = labelled[labelled[CUTOFF].isin(fold.train)]
        problem = problem or (
            shortfall(training, rules) and f"training rows: {shortfall(training, rules)}"
        )
        if problem:
            skipped.append(f"{fold.cutoff}: {problem}")
        else:
            kept.append(fold)
    if not kept:
        raise TrainingError(
            "no backtest fold is large enough to choose settings and calibration: "
            + "; ".join(skipped)
        )
    return replace(split, folds=tuple(kept)), tuple(skipped)


def training_cutoffs(config: DatasetConfig) -> Callable[[dt.date], list[dt.date]]:
    """The snapshot cutoffs training needs, given the first day the log does not cover: the
    configured grid and the backtest's fold cutoffs."""
    rules = config.model.backtest

    def cutoffs(until: dt.date) -> list[dt.date]:
        grid = config.cutoffs.dates()
        return backtest_grid(grid, config.churn.horizon_days, until, rules.folds, rules.step_days)

    return cutoffs


def assemble(
    snapshot: pd.DataFrame, catalog: Sequence[Feature], horizon_days: int, config: ModelConfig
) -> TrainingData:
    snapshot = _by_date(snapshot)
    labelled = snapshot[snapshot[LABEL].notna()].astype({LABEL: "int8"})
    rules = config.backtest
    split = temporal_split(
        list(labelled[CUTOFF].unique()), horizon_days, rules.folds, rules.step_days
    )
    split, skipped = _eligible(split, labelled, rules)
    derived = derived_features(horizon_days) if config.probability_alive else []
    used = labelled[labelled[CUTOFF].isin(split.refit)]
    return TrainingData(
        split=split,
        snapshot=snapshot,
        labelled=used.reset_index(drop=True),
        features=feature_infos(catalog, used, derived),
        horizon_days=horizon_days,
        probability_alive=config.probability_alive,
        skipped_folds=skipped,
    )


def balanced_weights(frame: pd.DataFrame) -> Floats:
    """Each class carries half the weight of its cutoff, and every row of a class the same."""
    group = frame.groupby([CUTOFF, LABEL], observed=True)[LABEL]
    class_size = group.transform("size").to_numpy("float64")
    cutoff_size = frame.groupby(CUTOFF)[LABEL].transform("size").to_numpy("float64")
    return cutoff_size / (2.0 * class_size)


def fingerprint(data: TrainingData) -> dict[str, object]:
    """Rows and churners per labelled cutoff with its role, and a hash of every labelled row.

    Floats are rounded first: DuckDB sums floats in parallel, so the last bits of a value
    can differ between two builds of the same snapshot.
    """
    ordered = data.labelled.sort_values(["user_id", CUTOFF], kind="stable")
    rounded = ordered.round(FINGERPRINT_DECIMALS)
    digest = hashlib.sha256(pd.util.hash_pandas_object(rounded, index=False).to_numpy().tobytes())
    folds = {fold.cutoff for fold in data.split.folds}
    rows: dict[str, dict[str, int | str]] = {}
    for cutoff, group in data.labelled.groupby(CUTOFF):
        role = "test" if cutoff == data.split.test else "backtest" if cutoff in folds else "train"
        rows[str(cutoff)] = {"role": role, "rows": len(group), "churned": int(group[LABEL].sum())}
    return {"sha256": digest.hexdigest(), "cutoffs": rows}
