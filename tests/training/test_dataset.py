"""Training sees only labelled rows of the right cutoffs, and its data has a stable fingerprint."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from artifact import bgnbd
from features.spec import Feature
from features.status import ACTIVE, LABEL, STATUS
from features.timeline import CUTOFF
from tests.trained import ConfigFactory
from training.dataset import TrainingData, assemble, balanced_weights, fingerprint
from training.errors import TrainingError


def test_each_fit_holds_labelled_active_rows_of_its_own_cutoffs(
    training_data: TrainingData,
) -> None:
    split = training_data.split
    stages = {
        "train": (training_data.train, set(split.train)),
        "test": (training_data.test, {split.test}),
        **{
            f"fold {fold.cutoff}": (training_data.rows([fold.cutoff], None), {fold.cutoff})
            for fold in split.folds
        },
    }
    for name, (frame, cutoffs) in stages.items():
        assert set(frame[CUTOFF]) == cutoffs, name
        assert frame[LABEL].notna().all() and (frame[STATUS] == ACTIVE).all(), name


def test_the_labelled_rows_are_all_the_labelled_rows_of_the_snapshot(
    snapshot: pd.DataFrame, training_data: TrainingData
) -> None:
    labelled = snapshot[snapshot[LABEL].notna()]
    assert len(training_data.labelled) == len(labelled)
    assert len(training_data.rows(training_data.split.refit, None)) == len(labelled)


def test_categorical_levels_come_from_the_labelled_rows(training_data: TrainingData) -> None:
    plan = next(info for info in training_data.features if info.name == "plan")
    assert plan.kind == "categorical"
    assert plan.levels == sorted(training_data.labelled["plan"].dropna().unique())
    assert [training_data.feature_names[i] for i in training_data.categorical] == [
        "plan",
        "channel",
        "region",
    ]


def test_probability_alive_adds_two_derived_features(
    snapshot: pd.DataFrame, features: list[Feature], make_config: ConfigFactory
) -> None:
    config = make_config(probability_alive=True)
    data = assemble(snapshot, features, 30, config.model)
    derived = [info.name for info in data.features if info.derived]
    assert derived == [bgnbd.ALIVE, bgnbd.SILENT]
    assert data.bgnbd_at(data.split.test) is not None
    assert data.test[derived].notna().all().all()
    fold = data.split.folds[0].cutoff  # each fit's BG/NBD is fitted as of the cutoff it predicts
    assert data.bgnbd_at(fold) != data.bgnbd_at(data.split.test)


def test_balanced_weights_give_each_class_half_of_each_cutoff(
    training_data: TrainingData,
) -> None:
    frame = training_data.train
    weighted = frame.assign(weight=balanced_weights(frame))
    totals = weighted.groupby([CUTOFF, LABEL])["weight"].sum().unstack()
    sizes = frame.groupby(CUTOFF).size()
    assert np.allclose(totals[0], sizes / 2) and np.allclose(totals[1], sizes / 2)


def test_fingerprint_is_stable_and_changes_with_the_data(training_data: TrainingData) -> None:
    first = fingerprint(training_data)
    assert fingerprint(training_data) == first
    changed = training_data.labelled.copy()
    changed["recency_days"] = changed["recency_days"].where(changed.index != 0, -1.0)
    other = replace(training_data, labelled=changed)
    assert fingerprint(other)["sha256"] != first["sha256"]
    rows = first["cutoffs"]
    assert isinstance(rows, dict)
    assert rows[str(training_data.split.test)] == {
        "role": "test",
        "rows": len(training_data.test),
        "churned": int(training_data.test[LABEL].sum()),
    }
    assert {rows[str(fold.cutoff)]["role"] for fold in training_data.split.folds} == {"backtest"}


def test_a_test_cutoff_without_churners_is_a_clear_error_with_the_counts(
    snapshot: pd.DataFrame, features: list[Feature], make_config: ConfigFactory
) -> None:
    retained = snapshot.assign(**{LABEL: snapshot[LABEL].where(snapshot[LABEL].isna(), 0)})
    with pytest.raises(TrainingError, match=r"the test cutoff .* \(0 churned, [\d,]+ retained\)"):
        assemble(retained, features, 30, make_config().model)


def test_a_fold_too_small_to_count_is_skipped_and_said(
    snapshot: pd.DataFrame, features: list[Feature], make_config: ConfigFactory
) -> None:
    """A fold whose cutoff has fewer labelled users than the threshold gives no metric."""
    model = make_config().model
    first = assemble(snapshot, features, 30, model).split.folds[-1].cutoff
    at_first = pd.to_datetime(snapshot[CUTOFF]).dt.date == first
    keep = at_first.cumsum().where(at_first, 0) <= 150  # 150 labelled users left there
    thinned = snapshot.assign(**{LABEL: snapshot[LABEL].where(keep | ~at_first)})
    data = assemble(thinned, features, 30, model)
    assert first not in [fold.cutoff for fold in data.split.folds]
    assert len(data.split.folds) == model.backtest.folds - 1
    (said,) = data.skipped_folds
    assert said.startswith(f"{first}: ") and "needs 200 users" in said


def test_a_test_cutoff_below_the_thresholds_is_a_clear_error(
    snapshot: pd.DataFrame, features: list[Feature], make_config: ConfigFactory
) -> None:
    config = make_config(backtest={"min_rows": 10**9}).model
    with pytest.raises(TrainingError, match=r"test cutoff .* needs 1,000,000,000 users"):
        assemble(snapshot, features, 30, config)
