"""Uplift models in the registry: one registered model per strategy, `<prefix>-<strategy>`, each
with its own `champion` (what the policy uses) and `challenger` (the newest fit) aliases.

Promotion, in the spirit of the churn model's: a new version becomes champion only if its
held-out Qini coefficient's interval lies above 0 (it finds the users a contact changes better
than chance), and it ranks this campaign's users at least as well as the current champion
does, the champion re-scored on the same users (its own stored Qini came from another
campaign and proves nothing today).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from artifact.champion_lock import champion_lock
from artifact.model import ModelInputError
from artifact.registry import (
    CHALLENGER,
    CHAMPION,
    champion_version,
    download_version,
    registry_errors,
)
from artifact.tracking import TrackingStore
from core.config import DatasetConfig
from uplift.config import UpliftPromotionConfig
from uplift.curves import Prefix, area_over_random
from uplift.model import METADATA_FILE, Champion, UpliftModel

if TYPE_CHECKING:
    from uplift.fit import StrategyFit

SEARCH_PAGE = 1000


def prefix_of(config: DatasetConfig) -> str:
    return config.uplift.prefix(config.model.name)


def model_name(prefix: str, strategy: str) -> str:
    return f"{prefix}-{strategy}"


def load(store: TrackingStore, name: str, version: str) -> UpliftModel:
    return download_version(store, name, version, METADATA_FILE, UpliftModel.load)


def _names(store: TrackingStore, prefix: str) -> list[str]:
    """Registered models named `<prefix>-...` (LIKE treats `_` as a wildcard: checked again)."""
    client = store.client()
    names: list[str] = []
    token = None
    while True:
        page = client.search_registered_models(
            filter_string=f"name LIKE '{prefix}-%'", max_results=SEARCH_PAGE, page_token=token
        )
        names += [model.name for model in page if model.name.startswith(f"{prefix}-")]
        token = page.token
        if not token:
            return sorted(names)


def champions(store: TrackingStore, prefix: str) -> dict[str, Champion]:
    """Every strategy's champion uplift model, by strategy name; strategies without one are
    absent (the policy values them by save rate)."""
    with registry_errors(store):
        names = _names(store, prefix)
    found: dict[str, Champion] = {}
    for name in names:
        version = champion_version(store, name)
        if version is not None:
            model = load(store, name, version)
            found[model.metadata.strategy] = Champion(model, version)
    return found


def champion_versions(store: TrackingStore, prefix: str) -> dict[str, str]:
    """Registered name -> champion version, without loading models (a cheap change check)."""
    with registry_errors(store):
        names = _names(store, prefix)
    versions = {name: champion_version(store, name) for name in names}
    return {name: version for name, version in versions.items() if version is not None}


@dataclass(frozen=True)
class Decision:
    promoted: bool
    reason: str
    champion: str | None  # the champion version after the decision


def _rescored_qini(champion: UpliftModel, fit: StrategyFit, features: pd.DataFrame) -> float:
    """The champion's Qini coefficient on this campaign's users (none of them seen by it)."""
    rows = features.set_index("user_id").loc[fit.held_out.user_id.to_numpy()]
    order = np.argsort(-champion.predict(rows), kind="stable")
    treated = fit.held_out.treated.to_numpy(np.float64)[order]
    returned = fit.held_out.returned.to_numpy(np.float64)[order]
    return float(area_over_random(Prefix.of(treated, returned).qini_curve()))


def _compare(
    store: TrackingStore,
    name: str,
    fit: StrategyFit,
    features: pd.DataFrame,
    rules: UpliftPromotionConfig,
) -> tuple[bool, str]:
    qini = fit.result.qini
    shown = f"held-out Qini {qini.value:.4f} [{qini.low:.4f}, {qini.high:.4f}]"
    if rules.require_significant_qini and not qini.low > 0:
        return False, f"{shown}: its interval does not lie above 0"
    current = champion_version(store, name)
    if current is None:
        return True, f"{shown}; no champion yet"
    champion = load(store, name, current)
    if champion.metadata.campaign_id == fit.model.metadata.campaign_id:
        theirs, how = champion.metadata.metrics.get("qini", float("nan")), "its own held-out"
    else:
        try:
            theirs, how = _rescored_qini(champion, fit, features), "re-scored on these users"
        except (KeyError, ModelInputError) as error:
            return False, f"{shown}; champion v{current} cannot score these users ({error})"
    better = qini.value >= theirs
    verdict = "is at least" if better else "is below"
    return better, f"{shown} {verdict} champion v{current}'s {theirs:.4f} ({how})"


def decide(
    store: TrackingStore,
    name: str,
    version: str,
    fit: StrategyFit,
    features: pd.DataFrame,
    rules: UpliftPromotionConfig,
) -> Decision:
    """Give `version` the challenger alias, and the champion alias if it passes the checks.
    `features`: the campaign's users with their features (`fit.joined`)."""
    client = store.client()
    with registry_errors(store):
        with champion_lock(store, name) as lease:  # both aliases: see training.registry.decide
            client.set_registered_model_alias(name, CHALLENGER, version)
            promoted, reason = _compare(store, name, fit, features, rules)
            late = promoted and lease.expired
            if promoted and not late:
                client.set_registered_model_alias(name, CHAMPION, version)
        holder = champion_version(store, name)
    if late:
        reason += ", but deciding outlasted the champion lock's lease; promote it by hand"
        promoted = False
    elif promoted and holder != version:
        reason += f", but another fit made v{holder} champion at the same time"
        promoted = False
    return Decision(promoted, reason, holder)
