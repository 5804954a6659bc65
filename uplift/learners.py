"""Meta-learners on LightGBM, fitted by causalml, handed back as weighted boosters.

causalml (0.18) fits the learners; what is kept of each is its final LightGBM boosters and the
weights its `predict` combines them with (`uplift.model`), so nothing fitted is pickled and
causalml is imported only here, only when fitting (it takes seconds to import). The
propensity is the campaign's treated share, known by design (a random control group), so no
propensity model is fitted.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import matplotlib
import numpy as np
import numpy.typing as npt

from artifact.model import Floats
from uplift.config import Learner, UpliftBoosterConfig

CONTROL, TREATMENT = "control", "treatment"


@dataclass(frozen=True)
class Fitted:
    boosters: list[lgb.Booster]
    weights: list[float]

    def predict(self, matrix: Floats) -> Floats:
        total = np.zeros(len(matrix))
        for booster, weight in zip(self.boosters, self.weights, strict=True):
            total += weight * np.asarray(booster.predict(matrix, num_threads=1), "float64")
        return total


def _params(settings: UpliftBoosterConfig, categorical: Sequence[int], seed: int) -> dict[str, Any]:
    return {
        "n_estimators": settings.n_estimators,
        "learning_rate": settings.learning_rate,
        "num_leaves": settings.num_leaves,
        "min_child_samples": settings.min_child_samples,
        "n_jobs": settings.num_threads,
        "random_state": seed,
        "verbose": -1,
        # the Dataset parameter's alias: `categorical_feature` among params is ignored
        "categorical_column": list(categorical),
    }


def meta_learner(
    learner: Learner, settings: UpliftBoosterConfig, categorical: Sequence[int], seed: int
) -> Any:
    """The causalml meta-learner, unfitted, with LightGBM inside."""
    from lightgbm import LGBMClassifier, LGBMRegressor

    # causalml sets matplotlib's global style when imported, and shap warns about colormaps:
    # rc_context puts every plot setting back afterwards
    with warnings.catch_warnings(), matplotlib.rc_context():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        from causalml.inference.meta import BaseDRClassifier, BaseTClassifier, BaseXClassifier

    params = _params(settings, categorical, seed)
    if learner == "x":
        return BaseXClassifier(
            outcome_learner=LGBMClassifier(**params),
            effect_learner=LGBMRegressor(**params),
            control_name=CONTROL,
        )
    if learner == "dr":
        return BaseDRClassifier(
            learner=LGBMClassifier(**params),
            treatment_effect_learner=LGBMRegressor(**params),
            control_name=CONTROL,
        )
    return BaseTClassifier(learner=LGBMClassifier(**params), control_name=CONTROL)


def _boosters(learner: Learner, fitted: Any, share: float) -> Fitted:
    """The final boosters of a fitted meta-learner and how its `predict` weighs them."""
    if learner == "x":
        return Fitted(
            [fitted.models_tau_c[TREATMENT].booster_, fitted.models_tau_t[TREATMENT].booster_],
            [share, 1.0 - share],
        )
    if learner == "dr":
        folds = fitted.models_tau[TREATMENT]
        return Fitted([model.booster_ for model in folds], [1.0 / len(folds)] * len(folds))
    return Fitted(
        [fitted.models_t[TREATMENT].booster_, fitted.models_c[TREATMENT].booster_], [1.0, -1.0]
    )


def fit_meta(
    learner: Learner,
    matrix: Floats,
    treated: npt.NDArray[np.bool_],
    returned: npt.NDArray[np.bool_],
    settings: UpliftBoosterConfig,
    categorical: Sequence[int],
    seed: int,
) -> tuple[Any, Fitted]:
    """The fitted causalml learner and its boosters; uplift = P(return | contact) - P(return |
    none). The propensity is the treated share (random assignment), never estimated."""
    meta = meta_learner(learner, settings, categorical, seed)
    groups = np.where(treated, TREATMENT, CONTROL)
    outcome = returned.astype(np.int64)
    share = float(treated.mean())
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)  # causalml's own API notices
        if learner == "t":
            meta.fit(matrix, treatment=groups, y=outcome)
        elif learner == "dr":
            meta.fit(matrix, treatment=groups, y=outcome, p=np.full(len(matrix), share), seed=seed)
        else:
            meta.fit(matrix, treatment=groups, y=outcome, p=np.full(len(matrix), share))
    return meta, _boosters(learner, meta, share)


def fit(
    learner: Learner,
    matrix: Floats,
    treated: npt.NDArray[np.bool_],
    returned: npt.NDArray[np.bool_],
    settings: UpliftBoosterConfig,
    categorical: Sequence[int],
    seed: int,
) -> Fitted:
    return fit_meta(learner, matrix, treated, returned, settings, categorical, seed)[1]
