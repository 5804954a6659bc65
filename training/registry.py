"""Promotion: moving the two aliases serving and people rely on, and listing versions.

Every trained version gets `challenger`. `champion` moves to it only when there is no
champion yet, or when it beats the champion on ROC AUC with both re-scored on the same test
snapshot (a champion's stored metric came from an older snapshot and proves nothing today).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from sklearn.metrics import roc_auc_score

from artifact.model import ModelInputError
from artifact.registry import CHALLENGER, CHAMPION, champion_version, load_version
from artifact.tracking import TrackingStore
from training.errors import TrainingError
from training.tracking import registry_lock

KEY_METRICS = ("model/test_roc_auc", "model/test_pr_auc", "model/test_ece")


@dataclass(frozen=True)
class Decision:
    promoted: bool
    reason: str
    champion: str  # the champion version after the decision
    challenger_auc: float
    champion_auc: float | None = None  # the previous champion, re-scored


@dataclass(frozen=True)
class VersionSummary:
    version: str
    aliases: list[str]
    run_id: str | None
    created: pd.Timestamp
    metrics: dict[str, float]


def decide(
    store: TrackingStore,
    name: str,
    version: str,
    challenger_auc: float,
    test: pd.DataFrame,
    y: np.ndarray,
    margin: float,
) -> Decision:
    """Give `version` the challenger alias, and the champion alias if it earns it.

    `challenger_auc` is the new model's ROC AUC on `test`, as its evaluation measured it;
    the champion is re-scored on the same rows."""
    client = store.client()
    client.set_registered_model_alias(name, CHALLENGER, version)
    with registry_lock(store):
        decision = _compare(store, name, version, challenger_auc, test, y, margin)
        if decision.promoted:
            client.set_registered_model_alias(name, CHAMPION, version)
    holder = champion_version(store, name)
    if decision.promoted and holder != version:
        reason = (
            f"{decision.reason}, but another training made v{holder} champion at the same "
            "time; compare them with `winback models` and `winback promote` by hand"
        )
        return Decision(False, reason, str(holder), challenger_auc, decision.champion_auc)
    return decision


def _compare(
    store: TrackingStore,
    name: str,
    version: str,
    challenger_auc: float,
    test: pd.DataFrame,
    y: np.ndarray,
    margin: float,
) -> Decision:
    """Whether `version` should become champion; moves nothing."""
    current = champion_version(store, name)
    if current is None:
        return Decision(True, "no champion yet", version, challenger_auc)
    try:
        champion_auc = float(
            roc_auc_score(y, load_version(store, name, current).predict_proba(test))
        )
    except (ModelInputError, ValueError, OSError) as error:
        reason = f"champion v{current} cannot score today's snapshot ({error}); promote by hand"
        return Decision(False, reason, current, challenger_auc)
    gain = challenger_auc - champion_auc
    # Five decimals: near-ties are common (a retrain on the same data) and must read as such.
    compared = (
        f"ROC AUC {challenger_auc:.5f} vs champion v{current} {champion_auc:.5f}: gain {gain:+.5f}"
    )
    if gain > margin:
        reason = f"{compared} is above the margin {margin:.4f}"
        return Decision(True, reason, version, challenger_auc, champion_auc)
    reason = f"{compared} is not above the margin {margin:.4f}"
    return Decision(False, reason, current, challenger_auc, champion_auc)


def promote(store: TrackingStore, name: str, version: str) -> None:
    """Move champion by hand (e.g. a rollback); the version must exist."""
    client = store.client()
    try:
        client.get_model_version(name, version)
    except MlflowException:
        raise TrainingError(f"{name} has no version {version}: see winback models") from None
    client.set_registered_model_alias(name, CHAMPION, version)


def versions(store: TrackingStore, name: str) -> list[VersionSummary]:
    """Newest first, with aliases and the key test metrics of the run that made each."""
    client = store.client()
    found = client.search_model_versions(f"name = '{name}'")
    if not found:
        return []
    by_version: dict[str, list[str]] = {}  # search results leave aliases out; the model has them
    for alias, version in client.get_registered_model(name).aliases.items():
        by_version.setdefault(str(version), []).append(alias)
    summaries = []
    for item in sorted(found, key=lambda v: int(v.version), reverse=True):
        metrics: dict[str, float] = {}
        if item.run_id:
            logged = client.get_run(item.run_id).data.metrics
            metrics = {key: logged[key] for key in KEY_METRICS if key in logged}
        summaries.append(
            VersionSummary(
                version=str(item.version),
                aliases=sorted(by_version.get(str(item.version), [])),
                run_id=item.run_id,
                created=pd.Timestamp(item.creation_timestamp, unit="ms"),
                metrics=metrics,
            )
        )
    return summaries
