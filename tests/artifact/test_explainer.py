"""The tree tables give LightGBM's own contributions and margin, on any model and any row."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from artifact.explainer import Explainer
from artifact.model import ChurnModel, encode
from artifact.tree_tables import Tables
from serving.reasons import top_features
from training.dataset import TrainingData
from training.fitting import FittedModel

EXACT = 1e-6  # the bound; the tables are about 1e-15 from pred_contrib


def assert_explains(booster: lgb.Booster, rows: np.ndarray, max_cells: int | None = None) -> None:
    """Contributions within EXACT of pred_contrib, the margin to the bit, the same top 3."""
    explainer = Explainer.of(booster) if max_cells is None else Explainer.of(booster, max_cells)
    reference = booster.predict(rows, pred_contrib=True)
    for threads in (1, None):
        margin, found = explainer.scores(rows, threads)
        assert np.abs(found - reference).max(initial=0.0) <= EXACT
        np.testing.assert_array_equal(margin, booster.predict(rows, raw_score=True))
        for parallel in (False, True):
            np.testing.assert_array_equal(
                top_features(found[:, :-1], 3, parallel), top_features(reference[:, :-1], 3)
            )


def _splits(node: dict) -> list[dict]:
    if "split_index" not in node:
        return []
    return [node, *_splits(node["left_child"]), *_splits(node["right_child"])]


def splits_of(booster: lgb.Booster) -> list[dict]:
    return [
        s for tree in booster.dump_model()["tree_info"] for s in _splits(tree["tree_structure"])
    ]


@pytest.fixture(scope="module")
def matrix(fitted: FittedModel, training_data: TrainingData) -> np.ndarray:
    model = fitted.model
    return encode(model.inputs(training_data.labelled), model.metadata.features)


@pytest.fixture(scope="module")
def deep(training_data: TrainingData, matrix: np.ndarray) -> lgb.Booster:
    """The fixture log's features with deeper trees and easy categorical splits."""
    params = {
        "objective": "binary",
        "num_leaves": 15,
        "min_data_in_leaf": 5,
        "min_data_per_group": 5,
        "cat_smooth": 1.0,
        "max_cat_to_onehot": 2,
        "verbose": -1,
        "seed": 3,
    }
    label = training_data.labelled["label"].to_numpy()
    data = lgb.Dataset(matrix, label, categorical_feature=training_data.categorical)
    return lgb.train(params, data, num_boost_round=60)


def test_the_trained_champion_is_explained_exactly(fitted: FittedModel, matrix: np.ndarray) -> None:
    assert_explains(fitted.model.booster, matrix)


def test_deep_trees_with_categorical_splits_and_missing_values(
    deep: lgb.Booster, matrix: np.ndarray
) -> None:
    splits = splits_of(deep)
    assert any(s["decision_type"] == "==" for s in splits)  # categorical splits
    assert np.isnan(matrix).any(axis=0).sum() >= 5  # missing values in several features
    assert_explains(deep, matrix)


def test_trees_whose_table_is_too_big_are_left_to_pred_contrib(
    deep: lgb.Booster, matrix: np.ndarray
) -> None:
    cells = np.diff(Explainer.of(deep).tables.table_start)
    limit = int(np.median(cells))
    explainer = Explainer.of(deep, max_cells=limit)
    assert 0 < explainer.built.fallback < explainer.built.trees
    assert_explains(deep, matrix[:500], max_cells=limit)


def test_a_model_scores_and_explains_in_one_pass_as_it_predicts(
    fitted: FittedModel, training_data: TrainingData
) -> None:
    model = fitted.model
    matrix = encode(model.inputs(training_data.labelled), model.metadata.features)
    margin, found = model.raw_scores(matrix)
    np.testing.assert_array_equal(margin, model.raw_margin(matrix))
    reference = model.booster.predict(matrix, pred_contrib=True)
    assert np.abs(found - reference).max() <= EXACT
    assert ChurnModel(model.booster, model.metadata).explainer is not model.explainer


@st.composite
def models(draw: st.DrawFn) -> tuple[lgb.Booster, np.ndarray]:
    """A small random booster (depth, leaves, NaN, categories, constants, zero as missing)
    and rows to explain with NaN, zeros, tiny, huge, negative and unseen values."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    numeric = draw(st.integers(1, 4))
    categorical = draw(st.integers(0, 2))
    constant = draw(st.integers(0, 1))
    width = numeric + categorical + constant
    size = draw(st.integers(60, 400))
    columns = []
    for _ in range(numeric):
        column = rng.normal(size=size).round(draw(st.integers(0, 3)))
        column[rng.random(size) < draw(st.sampled_from([0.0, 0.1, 0.4]))] = np.nan
        columns.append(column)
    for _ in range(categorical):
        column = rng.integers(0, draw(st.integers(2, 12)), size).astype(float)
        column[rng.random(size) < draw(st.sampled_from([0.0, 0.2]))] = np.nan
        columns.append(column)
    columns += [np.full(size, 1.5)] * constant
    x = np.column_stack(columns)
    signal = np.nan_to_num(x[:, :numeric]).sum(axis=1) + rng.normal(size=size)
    if categorical:
        signal += np.nan_to_num(x[:, numeric]) % 3 - 1
    label = (signal > np.median(signal)).astype(int)
    params = {
        "objective": "binary",
        "num_leaves": draw(st.integers(2, 31)),
        "max_depth": draw(st.sampled_from([-1, 1, 2, 3, 5])),
        "min_data_in_leaf": draw(st.integers(1, 20)),
        "min_data_per_group": 1,
        "cat_smooth": 1.0,
        "max_cat_to_onehot": draw(st.sampled_from([1, 4])),
        "zero_as_missing": draw(st.booleans()),
        "use_missing": draw(st.booleans()),
        "verbose": -1,
        "num_threads": 1,
        "seed": seed % 10_000,
    }
    rounds = draw(st.integers(1, 12))
    data = lgb.Dataset(x, label, categorical_feature=list(range(numeric, numeric + categorical)))
    booster = lgb.train(params, data, num_boost_round=rounds)
    rows = x[rng.integers(0, size, 200)].copy()
    odd = np.array([np.nan, 0.0, -0.0, 1e-40, -1e-36, 1e300, -np.inf, np.inf, -0.5, -3.0, 99.0])
    mask = rng.random(rows.shape) < 0.25
    rows[mask] = rng.choice(odd, mask.sum())
    return booster, rows[:, :width]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models())
def test_random_models_are_explained_exactly(case: tuple[lgb.Booster, np.ndarray]) -> None:
    booster, rows = case
    assert_explains(booster, rows)


def test_ties_go_to_the_earlier_feature_whatever_the_float_noise() -> None:
    exact = np.array([[0.2, 0.5, 0.5, 0.0, 0.0], [-0.1, -0.3, 0.0, -0.3, 0.0]])
    noisy = exact + np.array([[0, 0, 1e-15, 0, 0], [0, 1e-16, 0, -1e-16, 3e-17]])
    for contributions in (exact, noisy):
        np.testing.assert_array_equal(top_features(contributions, 3), [[1, 2, 0], [1, 3, 0]])


def test_tables_sent_as_numbers_explain_exactly_as_built(
    deep: lgb.Booster, matrix: np.ndarray
) -> None:
    """Spark's executors get the driver's tables as an .npz: nothing is lost on the way."""
    built = Explainer.of(deep)
    sent = Explainer.using(deep, Tables.from_bytes(built.tables.to_bytes()))
    for ours, theirs in zip(built.scores(matrix), sent.scores(matrix), strict=True):
        np.testing.assert_array_equal(ours, theirs)
