"""Uplift per strategy from one reviewed campaign: who was treated, who was held out, who came
back, and what the users looked like when the list was made.

For each strategy with enough treated and control users: the users' features as of the
campaign's store version (point in time: nothing on or after the campaign date) are the
inputs, "returned inside the review window" the outcome, the random control group the
counterfactual. Cross-fitting: the users are split into `folds` folds (stratified by group and
outcome) and each fold's uplift is predicted by a learner fitted on the others, so every
reported number is on users the model never saw (judged fold by fold: `curves.cross_fitted`).
The registered model is then fitted on every user; its held-out numbers are those of the
cross-fitted models, which saw less, as the churn model's refit reports its evaluated fit's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from artifact.model import FeatureInfo, Floats, categories, encode
from core.config import InputError
from features.spec import Feature
from uplift import learners
from uplift.config import UpliftConfig
from uplift.curves import HeldOut, cross_fitted
from uplift.model import Term, UpliftMetadata, UpliftModel

TREATMENT = "treatment"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class CampaignData:
    """A reviewed campaign: its listed users, their features and who came back."""

    id: str
    date: dt.date
    window_days: int
    store_version: str
    listed: pd.DataFrame  # user_id, strategy, group (as recall.csv has them)
    features: pd.DataFrame  # the store version's rows: user_id and features
    returned: Collection[str]


@dataclass(frozen=True)
class StrategyFit:
    strategy: str
    model: UpliftModel
    held_out: pd.DataFrame  # user_id, treated, returned, uplift (cross-fitted), fold
    result: HeldOut


@dataclass(frozen=True)
class NotFitted:
    strategy: str
    treated: int
    control: int
    reason: str


def _silent(_: str) -> None:
    return None


def feature_infos(catalog: Sequence[Feature], rows: pd.DataFrame) -> list[FeatureInfo]:
    """The catalog's features the store has, categories with the levels seen in `rows`."""
    infos = []
    for feature in catalog:
        if feature.name not in rows.columns:
            continue
        levels = None
        if feature.kind == "categorical":
            seen = categories(rows[feature.name])
            levels = sorted({str(value) for value in seen if value is not None})
        infos.append(FeatureInfo.of(feature, levels))
    return infos


def joined(campaign: CampaignData) -> pd.DataFrame:
    """The listed users with their features; a listed user the store lacks is an error."""
    listed = campaign.listed.astype({"user_id": "str"})
    rows = campaign.features.astype({"user_id": "str"})
    both = listed.merge(rows, on="user_id", how="left", indicator=True, validate="one_to_one")
    absent = both.loc[both["_merge"] == "left_only", "user_id"]
    if not absent.empty:
        raise InputError(
            f"{len(absent):,} listed users are not in online-store version "
            f"{campaign.store_version} (e.g. {absent.iloc[0]!r}): the campaign was built on "
            "another store"
        )
    return both.drop(columns="_merge").assign(
        treated=lambda f: f.group == TREATMENT,
        returned=lambda f: f.user_id.isin(campaign.returned),
    )


def _cross_fitted(
    matrix: Floats,
    treated: npt.NDArray[np.bool_],
    returned: npt.NDArray[np.bool_],
    settings: UpliftConfig,
    categorical: list[int],
) -> tuple[Floats, npt.NDArray[np.int64]]:
    """Each user's uplift predicted by a learner fitted on the other folds, and their fold."""
    strata = treated.astype(np.int64) * 2 + returned.astype(np.int64)
    folds = StratifiedKFold(settings.folds, shuffle=True, random_state=settings.seed)
    held_out = np.zeros(len(matrix))
    fold_of = np.zeros(len(matrix), dtype=np.int64)
    for k, (train, test) in enumerate(folds.split(matrix, strata)):
        fold_of[test] = k
        fitted = learners.fit(
            settings.learner,
            matrix[train],
            treated[train],
            returned[train],
            settings.booster,
            categorical,
            settings.seed,
        )
        held_out[test] = fitted.predict(matrix[test])
    return held_out, fold_of


def metrics_of(result: HeldOut) -> dict[str, float]:
    """The held-out numbers as flat metric names (`qini`, `qini_low`, ..., `uplift_top10`)."""
    named = {"qini": result.qini, "auuc": result.auuc, "average_uplift": result.average_uplift}
    named |= {f"uplift_top{percent:g}": value for percent, value in result.top.items()}
    flat: dict[str, float] = {}
    for name, estimate in named.items():
        flat |= {name: estimate.value, f"{name}_low": estimate.low, f"{name}_high": estimate.high}
    return flat


def fit_strategy(
    strategy: str,
    users: pd.DataFrame,
    infos: list[FeatureInfo],
    campaign: CampaignData,
    settings: UpliftConfig,
    name: str,
) -> StrategyFit:
    matrix = encode(users, infos)
    treated = users.treated.to_numpy(bool)
    returned = users.returned.to_numpy(bool)
    categorical = [i for i, info in enumerate(infos) if info.kind == "categorical"]
    held_out, fold = _cross_fitted(matrix, treated, returned, settings, categorical)
    result = cross_fitted(
        held_out,
        fold,
        treated,
        returned,
        settings.top_percent,
        settings.bootstrap_rounds,
        settings.seed,
    )
    fitted = learners.fit(
        settings.learner,
        matrix,
        treated,
        returned,
        settings.booster,
        categorical,
        settings.seed,
    )
    metadata = UpliftMetadata(
        name=name,
        strategy=strategy,
        campaign_id=campaign.id,
        campaign_date=campaign.date,
        window_days=campaign.window_days,
        store_version=campaign.store_version,
        learner=settings.learner,
        features=infos,
        terms=[
            Term(file=f"booster_{i}.txt", weight=weight) for i, weight in enumerate(fitted.weights)
        ],
        treated_share=float(treated.mean()),
        treated=int(treated.sum()),
        control=int((~treated).sum()),
        metrics=metrics_of(result),
    )
    frame = pd.DataFrame(
        {
            "user_id": users.user_id.to_numpy(),
            "treated": treated,
            "returned": returned,
            "uplift": held_out,
            "fold": fold,
        }
    )
    return StrategyFit(strategy, UpliftModel(fitted.boosters, metadata), frame, result)


def fit_campaign(
    campaign: CampaignData,
    catalog: Sequence[Feature],
    settings: UpliftConfig,
    name_of: Callable[[str], str],
    progress: Progress | None = None,
) -> list[StrategyFit | NotFitted]:
    """One fit per strategy with enough treated and control users, in strategy order;
    `name_of(strategy)` is its registered model's name."""
    say = progress or _silent
    users = joined(campaign)
    infos = feature_infos(catalog, campaign.features)
    results: list[StrategyFit | NotFitted] = []
    for strategy, group in users.groupby("strategy", sort=True):
        name = str(strategy)
        treated, control = int(group.treated.sum()), int((~group.treated).sum())
        if treated < settings.min_treated or control < settings.min_control:
            reason = (
                f"{treated:,} treated and {control:,} control users; needs at least "
                f"{settings.min_treated:,} and {settings.min_control:,} (uplift.min_treated, "
                "min_control)"
            )
            results.append(NotFitted(name, treated, control, reason))
            continue
        say(f"{name}: {settings.learner}-learner, {settings.folds} folds, {len(group):,} users")
        fitted = fit_strategy(
            name, group.reset_index(drop=True), infos, campaign, settings, name_of(name)
        )
        results.append(fitted)
    return results
