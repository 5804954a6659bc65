"""The booster is reproducible from its seed, stops once held-out loss stalls, and boosts
exactly the rounds it is asked for when the backtest has chosen them."""

from __future__ import annotations

import numpy as np

from training import lgbm
from training.config import LightGBMConfig
from training.dataset import TrainingData


def fit(data: TrainingData, config: LightGBMConfig, seed: int = 7) -> lgbm.Fitted:
    return lgbm.fit(
        data.design(data.train),
        data.design(data.test),
        data.feature_names,
        data.categorical,
        config,
        seed,
    )


def test_a_seed_reproduces_the_booster_exactly(training_data: TrainingData) -> None:
    config = LightGBMConfig(min_data_in_leaf=40, max_rounds=200)
    first, second = fit(training_data, config), fit(training_data, config)
    assert first.booster.model_to_string() == second.booster.model_to_string()


def test_boosting_stops_once_held_out_loss_stalls_and_keeps_every_round(
    training_data: TrainingData,
) -> None:
    """Every round stays in the booster, so pooled curves can choose the rounds later."""
    config = LightGBMConfig(
        num_leaves=31, min_data_in_leaf=5, learning_rate=0.3, early_stopping_rounds=10
    )
    fitted = fit(training_data, config)
    losses = np.asarray(fitted.validation_loss)
    assert fitted.best_iteration < config.max_rounds
    assert losses.argmin() + 1 == fitted.best_iteration
    assert len(losses) == fitted.best_iteration + config.early_stopping_rounds
    assert fitted.booster.num_trees() == len(losses)


def test_fit_rounds_boosts_exactly_the_rounds_asked(training_data: TrainingData) -> None:
    data = training_data
    config = LightGBMConfig(min_data_in_leaf=40)
    design = data.design(data.train)
    booster = lgbm.fit_rounds(design, data.feature_names, data.categorical, config, 7, 17)
    assert booster.num_trees() == 17
    same = lgbm.fit_rounds(design, data.feature_names, data.categorical, config, 7, 17)
    assert booster.model_to_string() == same.model_to_string()


def test_categoricals_are_split_natively(training_data: TrainingData) -> None:
    fitted = fit(training_data, LightGBMConfig(min_data_in_leaf=40, max_rounds=200))
    dumped = fitted.booster.dump_model()
    categorical = set(training_data.categorical)
    assert set(dumped["feature_infos"]) >= {"plan", "channel", "region"}
    splits = [
        node
        for tree in dumped["tree_info"]
        for node in _nodes(tree["tree_structure"])
        if node.get("decision_type") == "=="
    ]
    assert splits and all(node["split_feature"] in categorical for node in splits)


def _nodes(node: dict[str, object]) -> list[dict[str, object]]:
    children = [node[side] for side in ("left_child", "right_child") if side in node]
    return [node] + [n for child in children if isinstance(child, dict) for n in _nodes(child)]
