"""Promotion: moving the two aliases serving and people rely on, and listing versions.

Every trained version gets `challenger`. `champion` moves to it only when every check passes,
in the spirit of MLflow's `MetricThreshold`: ROC AUC above the champion's by the margin, log
loss not worse by more than a tolerance, ECE at most a maximum, with the champion re-scored on
the same test snapshot (its stored metrics came from an older snapshot and prove nothing
today). With no champion yet, the calibration check alone decides: a badly calibrated model
would misspend the recall budget, so it is never promoted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from artifact.champion_lock import champion_lock
from artifact.model import ChurnModel, ModelInputError
from artifact.registry import CHALLENGER, CHAMPION, champion_version, load_version
from artifact.tracking import TrackingStore
from training.config import PromotionConfig
from training.errors import TrainingError
from training.metrics import Metrics, evaluate

KEY_METRICS = ("model/test_roc_auc", "model/test_pr_auc", "model/test_ece")


@dataclass(frozen=True)
class Check:
    """One promotion rule, with the numbers it compared."""

    name: str  # roc_auc | log_loss | ece
    passed: bool
    detail: str

    def __str__(self) -> str:
        return f"{self.detail}: {'pass' if self.passed else 'FAIL'}"


@dataclass(frozen=True)
class Decision:
    promoted: bool
    reason: str
    champion: str  # the champion version after the decision
    challenger_auc: float
    champion_auc: float | None = None  # the previous champion, re-scored
    checks: tuple[Check, ...] = ()

    @property
    def failed(self) -> list[str]:
        return [check.name for check in self.checks if not check.passed]


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
    challenger: Metrics,
    test: Snapshot,
    rules: PromotionConfig,
) -> Decision:
    """Give `version` the challenger alias, and the champion alias if it passes every check;
    compared and moved under the champion lock, so of two trainings deciding at once the
    second is compared with the first one's outcome. Both aliases are written under the lock:
    MLflow writes an alias by select-then-insert (SQLAlchemy's merge), so two first writes
    of one alias at once collide on its primary key on PostgreSQL.

    `challenger` holds the new model's metrics on `test`, as its evaluation measured them;
    the champion is re-scored on the same rows."""
    client = store.client()
    with champion_lock(store, name) as lease:
        client.set_registered_model_alias(name, CHALLENGER, version)
        decision = _compare(store, name, version, challenger, test, rules)
        late = decision.promoted and lease.expired
        if decision.promoted and not late:
            client.set_registered_model_alias(name, CHAMPION, version)
    holder = champion_version(store, name)
    if late:
        reason = (
            f"{decision.reason}, but deciding outlasted the champion lock's lease; "
            "promote it by hand if it should be champion"
        )
        return replace(decision, promoted=False, reason=reason, champion=str(holder or ""))
    if decision.promoted and holder != version:
        reason = (
            f"{decision.reason}, but another training made v{holder} champion at the same "
            "time; compare them with `winback models` and `winback promote` by hand"
        )
        return replace(decision, promoted=False, reason=reason, champion=str(holder))
    return decision


def _value(metrics: Metrics, name: str) -> float:
    value = metrics.get(name)
    if value is None:
        raise ValueError(f"the challenger has no test {name}")
    return value


def _ece_check(challenger: Metrics, rules: PromotionConfig) -> Check:
    ece = _value(challenger, "ece")
    return Check("ece", ece <= rules.max_ece, f"ECE {ece:.4f} vs at most {rules.max_ece:.4f}")


@dataclass(frozen=True)
class Snapshot:
    """The test cutoff both models are judged on: its rows and labels."""

    cutoff: dt.date
    rows: pd.DataFrame
    y: np.ndarray


def champion_metrics(champion: ChurnModel, test: Snapshot) -> tuple[Metrics, str]:
    """The champion's metrics on `test`, held out: re-scored when it never saw these labels;
    when its refit did (a retrain on the same data), the held-out metrics its own evaluated
    fit recorded on this same cutoff. Anything else has no fair comparison."""
    meta = champion.metadata
    if test.cutoff not in meta.train_cutoffs:
        return evaluate(test.y, champion.predict_proba(test.rows), is_probability=True), ""
    if meta.test_cutoff == test.cutoff and meta.metrics.get("model"):
        return meta.metrics["model"], " (its held-out metrics here: its refit saw these labels)"
    raise ValueError(f"it was fitted on {test.cutoff}'s labels, so it cannot be judged there")


def _compare(
    store: TrackingStore,
    name: str,
    version: str,
    challenger: Metrics,
    test: Snapshot,
    rules: PromotionConfig,
) -> Decision:
    """Whether `version` should become champion; moves nothing."""
    challenger_auc = _value(challenger, "roc_auc")
    current = champion_version(store, name)
    if current is None:
        checks: tuple[Check, ...] = (_ece_check(challenger, rules),)
        passed = all(check.passed for check in checks)
        reason = "; ".join(["no champion yet", *map(str, checks)])
        return Decision(passed, reason, version if passed else "", challenger_auc, None, checks)
    try:
        champion, how = champion_metrics(load_version(store, name, current), test)
    except (ModelInputError, ValueError, OSError) as error:
        reason = f"champion v{current} cannot score today's snapshot ({error}); promote by hand"
        return Decision(False, reason, current, challenger_auc)
    champion_auc, champion_loss = _value(champion, "roc_auc"), _value(champion, "log_loss")
    gain = challenger_auc - champion_auc
    loss = _value(challenger, "log_loss")
    # Five decimals: near-ties are common (a retrain on the same data) and must read as such.
    above = "is above" if gain > rules.min_auc_gain else "is not above"
    checks = (
        Check(
            "roc_auc",
            gain > rules.min_auc_gain,
            f"ROC AUC {challenger_auc:.5f} vs champion v{current}{how} {champion_auc:.5f}: "
            f"gain {gain:+.5f} {above} the margin {rules.min_auc_gain:.4f}",
        ),
        Check(
            "log_loss",
            loss <= champion_loss + rules.max_log_loss_increase,
            f"log loss {loss:.5f} vs champion {champion_loss:.5f}: change "
            f"{loss - champion_loss:+.5f}, at most +{rules.max_log_loss_increase:.4f}",
        ),
        _ece_check(challenger, rules),
    )
    passed = all(check.passed for check in checks)
    reason = "; ".join(map(str, checks))
    return Decision(
        passed, reason, version if passed else current, challenger_auc, champion_auc, checks
    )


def promote(store: TrackingStore, name: str, version: str) -> None:
    """Move champion by hand (e.g. a rollback); the version must exist."""
    client = store.client()
    try:
        client.get_model_version(name, version)
    except MlflowException:
        raise TrainingError(f"{name} has no version {version}: see winback models") from None
    with champion_lock(store, name):  # not in the middle of a training's decision
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
