"""`winback monitor`: every ledger snapshot checked against the promise of the model that
made it. Matured snapshots (their label window is in the log) against what happened; the
others for drift from the training reference and for the performance their calibrated
probabilities imply (CBPE). Findings are warnings or alerts; any alert recommends a retrain.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from artifact.model import ChurnModel
from artifact.reference import Floats
from artifact.registry import load_version
from artifact.tracking import TrackingStore
from core.config import DatasetConfig
from features.engine import Engine
from features.status import ACTIVE, LABEL, STATUS
from monitoring.cbpe import Expected, expected
from monitoring.config import MonitorConfig
from monitoring.drift import Drift, Level, drift
from monitoring.outcomes import log_end, matured, outcomes
from monitoring.promise import Promise, promise_of
from monitoring.realised import Realised, realised
from serving.ledger import Entry, contacted, ledger_root, read_entry, require
from serving.online_store import read_all, read_manifest, store_root

Progress = Callable[[str], None]
Severity = Level | Literal["note"]  # a note informs and never counts as a warning


@dataclass(frozen=True)
class Finding:
    level: Severity
    text: str


@dataclass(frozen=True)
class Check:
    """One ledger snapshot, judged."""

    entry: Entry
    scores: Floats  # the scored users' calibrated probabilities
    matured: bool
    expected: Expected
    promise: Promise
    score_drift: Drift | None = None
    drift: list[Drift] = field(default_factory=list)
    realised: Realised | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def alerts(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "alert"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warn"]


@dataclass(frozen=True)
class Monitoring:
    model_name: str
    observed_until: dt.date
    checks: list[Check]

    @property
    def alert(self) -> bool:
        return any(check.alerts for check in self.checks)

    def verdict(self) -> str:
        """The plain sentence the report ends with."""
        reasons = [f"{c.entry.cutoff}: {f.text}" for c in self.checks for f in c.alerts]
        if reasons:
            return "Retrain recommended because " + "; ".join(reasons) + "."
        warned = sum(len(c.warnings) for c in self.checks)
        extra = f" ({warned} warning{'s' * (warned != 1)} to watch)" if warned else ""
        return f"No retrain recommended: {len(self.checks)} snapshot(s) checked, no alert{extra}."


def _silent(_message: str) -> None:
    pass


def _realised_findings(result: Realised, promise: Promise, config: MonitorConfig) -> list[Finding]:
    found = []
    promised, auc = promise.value("roc_auc"), result.metrics["roc_auc"]
    if promised is not None and auc is not None and promised - auc > config.max_auc_drop:
        found.append(
            Finding(
                "alert",
                f"realised ROC AUC {auc:.4f} is {promised - auc:.4f} below the promised "
                f"{promised:.4f} (more than {config.max_auc_drop})",
            )
        )
    ece = result.metrics["ece"]
    if ece is not None and ece > config.max_ece:
        found.append(Finding("alert", f"realised ECE {ece:.4f} is above {config.max_ece}"))
    return found


def _drift_finding(item: Drift, what: str, config: MonitorConfig, level: Level) -> Finding:
    limits = {"psi": (config.psi_warn, config.psi_alert), "js": (config.js_warn, config.js_alert)}
    threshold = limits[item.statistic][item.level == "alert"]
    name = "PSI" if item.statistic == "psi" else "Jensen-Shannon distance"
    return Finding(level, f"{name} of {what} {item.value:.3f} >= {threshold}")


def _drift_findings(
    score: Drift | None,
    features: list[Drift],
    promise: Promise,
    hoped: Expected,
    config: MonitorConfig,
) -> list[Finding]:
    """The score's drift is judged as it is, and so is a category's (Jensen-Shannon): a level
    never seen in training, such as a new acquisition channel, is news whatever the score
    does. A number's drift alerts only while the score has moved too (at least its warning
    level): lifetime counts and tenure grow as any log ages, so on a stationary log they pass
    the alert line within months although the predictions do not change (measured: README,
    Monitoring); alone they warn."""
    found = []
    if score is not None and score.level != "ok":
        found.append(_drift_finding(score, "the score", config, score.level))
    score_moved = score is not None and score.level != "ok"
    for item in features:
        if item.level != "ok":
            judged = score_moved or item.statistic == "js"
            level: Level = "alert" if item.level == "alert" and judged else "warn"
            found.append(_drift_finding(item, item.name, config, level))
    promised = promise.value("roc_auc")
    if promised is not None and promised - hoped.roc_auc > config.max_auc_drop:
        found.append(
            Finding(
                "warn",
                f"expected ROC AUC (CBPE) {hoped.roc_auc:.4f} is {promised - hoped.roc_auc:.4f} "
                f"below the promised {promised:.4f}",
            )
        )
    return found


def _store_inputs(
    config: DatasetConfig, model: ChurnModel, entry: Entry, users: pd.Series
) -> dict[str, np.ndarray] | None:
    """The model's inputs for the scored users, from the store version that was scored
    (None when that version is gone)."""
    folder = store_root(config) / entry.store_version
    if not (folder / "manifest.json").is_file():
        return None
    rows = read_all(read_manifest(folder)).to_pandas()
    rows = rows[(rows[STATUS] == ACTIVE) & rows["user_id"].isin(users)]
    return model.inputs(rows)


def monitor(
    config: DatasetConfig,
    engine: Engine,
    store: TrackingStore,
    as_of: dt.date | None = None,
    progress: Progress = _silent,
) -> Monitoring:
    settings = config.monitor
    found = require(ledger_root(config))
    progress("reading the log")
    observed = log_end(config, engine)
    if as_of is not None:
        observed = min(observed, as_of)
        found = [(e, p) for e, p in found if e.cutoff < as_of]
    horizon = config.churn.horizon_days
    ripe = [e.cutoff for e, _ in found if matured(e.cutoff, horizon, observed)]
    labels = pd.DataFrame(columns=["user_id", "cutoff", LABEL])
    if ripe:
        progress(f"labelling {len(set(ripe))} matured cutoff(s) from the log")
        labels = outcomes(config, engine, ripe, observed)

    @cache
    def model_of(version: str) -> tuple[ChurnModel, Promise]:
        model = load_version(store, config.model.name, version)
        return model, promise_of(store, model, version)

    checks = []
    for number, (entry, path) in enumerate(found, start=1):
        progress(f"[{number}/{len(found)}] snapshot {entry.cutoff} (v{entry.model_version})")
        model, promise = model_of(entry.model_version)
        rows = read_entry(path)
        rows = rows[rows["churn_probability"].notna()]
        scores = rows["churn_probability"].to_numpy(dtype="float64")
        hoped = expected(scores)
        reference = model.metadata.reference
        score_drift: Drift | None = None
        features: list[Drift] = []
        findings: list[Finding] = []
        if reference is None:
            findings.append(
                Finding(
                    "warn",
                    f"model v{entry.model_version} has no drift reference "
                    "(trained before it was recorded): drift not measured",
                )
            )
        else:
            inputs = _store_inputs(config, model, entry, rows["user_id"])
            if inputs is None:
                findings.append(
                    Finding(
                        "warn",
                        f"store version {entry.store_version} is gone: "
                        "only the score's drift is measured",
                    )
                )
                inputs = {}
            score_drift, features = drift(reference, inputs, scores, settings)
        is_ripe = matured(entry.cutoff, horizon, observed)
        result = None
        if is_ripe:
            known = labels[labels["cutoff"] == entry.cutoff][["user_id", LABEL]]
            joined = rows.merge(known, on="user_id", how="inner").dropna(subset=[LABEL])
            window_end = entry.cutoff + dt.timedelta(days=horizon)
            treated = contacted(ledger_root(config), entry.cutoff, window_end)["user_id"]
            left_out = joined["user_id"].isin(treated)
            if left_out.any():
                joined = joined[~left_out]
                findings.append(
                    Finding(
                        "note",
                        f"{int(left_out.sum()):,} users contacted by a campaign in the label "
                        "window left out of the realised metrics",
                    )
                )
            y = joined[LABEL].to_numpy(dtype="float64")
            if len(y) >= settings.min_labelled and 0 < y.sum() < len(y):
                p = joined["churn_probability"].to_numpy(dtype="float64")
                result = realised(y, p, settings.bootstrap_rounds, settings.seed)
                findings += _realised_findings(result, promise, settings)
            else:
                findings.append(
                    Finding(
                        "warn",
                        f"matured but only {len(y)} labelled users "
                        f"({int(y.sum())} churned): not judged",
                    )
                )
        else:
            findings += _drift_findings(score_drift, features, promise, hoped, settings)
        checks.append(
            Check(entry, scores, is_ripe, hoped, promise, score_drift, features, result, findings)
        )
    return Monitoring(config.model.name, observed, checks)


def report_folder(config: DatasetConfig) -> Path:
    return config.workdir_path / "monitor"
