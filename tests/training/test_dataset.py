"""Training sees only labelled rows of the right cutoffs, and its data has a stable fingerprint."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from artifact import bgnbd
from features.labels import ACTIVE, LABEL, STATUS
from features.spec import Feature
from features.timeline import CUTOFF
from tests.trained import ConfigFactory
from training.dataset import TrainingData, assemble, balanced_weights, fingerprint
from training.errors import TrainingError


def test_each_stage_holds_labelled_active_rows_of_its_own_cutoffs(
    training_data: TrainingData,
) -> None:
    split = training_data.split
    stages = {
        "train": (training_data.train, set(split.train)),
        "validation": (training_data.validation, set(split.validation)),
        "test": (training_data.test, {split.test}),
    }
    for name, (frame, cutoffs) in stages.items():
        assert set(frame[CUTOFF]) == cutoffs, name
        assert frame[LABEL].notna().all() and (frame[STATUS] == ACTIVE).all(), name


def test_stage_rows_are_all_the_labelled_rows(
    snapshot: pd.DataFrame, training_data: TrainingData
) -> None:
    labelled = snapshot[snapshot[LABEL].notna()]
    used = len(training_data.train) + len(training_data.validation) + len(training_data.test)
    in_stages = labelled[
        pd.to_datetime(labelled[CUTOFF]).dt.date.isin(
            [*training_data.split.train, *training_data.split.validation, training_data.split.test]
        )
    ]
    assert used == len(in_stages)


def test_categorical_levels_come_from_training_rows(training_data: TrainingData) -> None:
    plan = next(info for info in training_data.features if info.name == "plan")
    assert plan.kind == "categorical"
    assert plan.levels == sorted(training_data.train["plan"].dropna().unique())
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
    assert data.bgnbd is not None
    assert data.test[derived].notna().all().all()


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
    changed = training_data.train.copy()
    changed["recency_days"] = changed["recency_days"].where(changed.index != 0, -1.0)
    other = TrainingData(
        split=training_data.split,
        train=changed,
        validation=training_data.validation,
        test=training_data.test,
        features=training_data.features,
        bgnbd=training_data.bgnbd,
    )
    assert fingerprint(other)["sha256"] != first["sha256"]
    rows = first["cutoffs"]
    assert isinstance(rows, dict)
    assert rows[str(training_data.split.test)]["rows"] == len(training_data.test)


def test_a_stage_without_churners_is_a_clear_error(
    snapshot: pd.DataFrame, features: list[Feature], make_config: ConfigFactory
) -> None:
    retained = snapshot.assign(**{LABEL: snapshot[LABEL].where(snapshot[LABEL].isna(), 0)})
    with pytest.raises(TrainingError, match="need both churned and retained users"):
        assemble(retained, features, 30, make_config().model)
