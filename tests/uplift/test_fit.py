"""Learning uplift from a campaign: planted effects are found on held-out users, no effect is
not (no false discovery), and the saved model predicts exactly what causalml would."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from artifact.model import encode
from core.config import InputError
from tests.uplift.builders import CATALOG, FAST, campaign, planted_effect, users
from uplift import learners
from uplift.config import Learner
from uplift.fit import NotFitted, StrategyFit, feature_infos, fit_campaign, joined
from uplift.model import UpliftModel


def fit_one(planted: bool, seed: int) -> StrategyFit:
    (result,) = fit_campaign(campaign(3_000, seed, planted), CATALOG, FAST, lambda s: f"m-{s}")
    assert isinstance(result, StrategyFit)
    return result


@pytest.fixture(scope="module")
def planted() -> StrategyFit:
    return fit_one(planted=True, seed=0)


def test_planted_effects_give_a_held_out_qini_above_zero(planted: StrategyFit) -> None:
    qini = planted.result.qini
    assert qini.low > 0, qini
    assert planted.result.top[10.0].low > 0
    assert planted.model.metadata.metrics["qini_low"] == qini.low
    # the users it ranks first are the ones who respond; the paid channel is predicted to lose
    fresh = users(2_000, seed=99)
    predicted = planted.model.predict(fresh)
    truth = planted_effect(fresh)
    assert predicted[truth > 0].mean() > 0.1 and predicted[truth < 0].mean() < -0.05


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_without_an_effect_the_qini_is_not_significant(seed: int) -> None:
    qini = fit_one(planted=False, seed=seed).result.qini
    assert qini.low <= 0 <= qini.high, qini


@pytest.mark.parametrize("learner", ["x", "dr", "t"])
def test_the_kept_boosters_predict_what_causalml_predicts(learner: Learner) -> None:
    data = campaign(1_500, 5, planted=True)
    frame = joined(data)
    infos = feature_infos(CATALOG, data.features)
    matrix = encode(frame, infos)
    treated, returned = frame.treated.to_numpy(bool), frame.returned.to_numpy(bool)
    categorical = [i for i, info in enumerate(infos) if info.kind == "categorical"]
    meta, fitted = learners.fit_meta(
        learner, matrix, treated, returned, FAST.booster, categorical, 0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = meta.predict(matrix, p=np.full(len(matrix), treated.mean()), verbose=False)
    assert np.allclose(fitted.predict(matrix), np.ravel(theirs), atol=1e-12)


def test_the_model_round_trips_through_its_files(planted: StrategyFit, tmp_path: Path) -> None:
    planted.model.save(tmp_path / "model")
    loaded = UpliftModel.load(tmp_path / "model")
    fresh = users(300, seed=7)
    assert np.array_equal(loaded.predict(fresh), planted.model.predict(fresh))
    assert loaded.metadata == planted.model.metadata
    assert not list((tmp_path / "model").glob("*.pkl"))


def test_strategies_with_too_few_users_are_reported_not_fitted() -> None:
    small = campaign(150, 3, planted=True, strategy="tiny")
    (result,) = fit_campaign(small, CATALOG, FAST, lambda s: s)
    assert isinstance(result, NotFitted)
    assert "needs at least 100 and 100 (uplift.min_treated" in result.reason


def test_listed_users_missing_from_the_store_are_an_error() -> None:
    data = campaign(400, 4, planted=False)
    short = data.__class__(**{**data.__dict__, "features": data.features.iloc[10:]})
    with pytest.raises(InputError, match="10 listed users are not in online-store version v1"):
        joined(short)
