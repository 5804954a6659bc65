"""The monitor's pictures: score distribution per cutoff, drift per feature over cutoffs,
realised and expected metrics over time beside the promise, and reliability curves.

Built on `matplotlib.figure.Figure` directly (no pyplot): no global state or GUI backend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from monitoring.monitor import Check

MOST_DRIFTED = 20


def _label(check: Check) -> str:
    return f"{check.entry.cutoff} v{check.entry.model_version}"


def score_distribution(checks: list[Check], path: Path) -> Path:
    figure = Figure(figsize=(7.5, 4), layout="constrained")
    axes = figure.add_subplot()
    edges = np.linspace(0, 1, 41)
    for check in checks:
        axes.hist(
            check.scores, bins=edges.tolist(), density=True, histtype="step", label=_label(check)
        )
    axes.set_xlabel("churn probability of scored users")
    axes.set_ylabel("density")
    axes.set_title("Score distribution per cutoff")
    axes.legend(fontsize="small")
    figure.savefig(path, dpi=110)
    return path


def drift_per_feature(checks: list[Check], path: Path) -> Path:
    """PSI (numbers, the score) or Jensen-Shannon distance (categories): the features that
    moved most at any cutoff, one column per cutoff."""
    names = ["score", *dict.fromkeys(d.name for c in checks for d in c.drift)]
    values = np.full((len(names), len(checks)), np.nan)
    for column, check in enumerate(checks):
        found = {d.name: d.value for d in check.drift}
        if check.score_drift is not None:
            found["score"] = check.score_drift.value
        values[:, column] = [found.get(name, np.nan) for name in names]
    keep = np.argsort(-np.nan_to_num(np.nanmax(values, axis=1, initial=0), nan=0))[:MOST_DRIFTED]
    figure = Figure(figsize=(7.5, 1.5 + 0.3 * len(keep)), layout="constrained")
    axes = figure.add_subplot()
    shown = values[keep]
    image = axes.imshow(
        shown, aspect="auto", cmap="Reds", vmin=0, vmax=max(0.3, np.nanmax(shown, initial=0))
    )
    for (row, column), value in np.ndenumerate(shown):
        if value == value:
            axes.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=7)
    axes.set_yticks(range(len(keep)), [names[i] for i in keep], fontsize=7)
    axes.set_xticks(range(len(checks)), [_label(c) for c in checks], rotation=30, fontsize=7)
    axes.set_title("Drift from the training reference (PSI; Jensen-Shannon for categories)")
    figure.colorbar(image, ax=axes)
    figure.savefig(path, dpi=110)
    return path


def metrics_over_time(checks: list[Check], path: Path) -> Path:
    figure = Figure(figsize=(7.5, 6), layout="constrained")
    auc, precision = figure.subplots(2, 1, sharex=True)
    x = np.arange(len(checks))
    promised = [c.promise.value("roc_auc") for c in checks]
    auc.plot(x, [np.nan if p is None else p for p in promised], "k--", label="promised (test)")
    bands = [c.promise.intervals.get("roc_auc", (np.nan, np.nan)) for c in checks]
    auc.fill_between(x, [b[0] for b in bands], [b[1] for b in bands], color="grey", alpha=0.2)
    auc.plot(x, [c.expected.roc_auc for c in checks], "o-", label="expected (CBPE)")
    ripe = [(i, c.realised) for i, c in enumerate(checks) if c.realised is not None]
    if ripe:
        at = [i for i, _ in ripe]
        est = np.array([r.metrics["roc_auc"] for _, r in ripe], dtype="float64")
        low = [r.intervals["roc_auc"].low for _, r in ripe]
        high = [r.intervals["roc_auc"].high for _, r in ripe]
        auc.errorbar(at, est, yerr=[est - low, high - est], fmt="s", capsize=4, label="realised")
        realised_precision = [
            float(r.metrics["lift_top10"] or 0) * r.churned / r.labelled for _, r in ripe
        ]
        precision.plot(at, realised_precision, "s", label="realised")
    auc.set_ylabel("ROC AUC")
    auc.legend(fontsize="small")
    precision.plot(x, [c.expected.precision_top10 for c in checks], "o-", label="expected (CBPE)")
    precision.set_ylabel("precision in the top 10%")
    precision.set_xticks(x, [_label(c) for c in checks], rotation=30, fontsize=7)
    precision.legend(fontsize="small")
    auc.set_title("Realised and expected performance over time")
    figure.savefig(path, dpi=110)
    return path


def reliability(checks: list[Check], path: Path) -> Path:
    figure = Figure(figsize=(5.5, 5), layout="constrained")
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], "k:", linewidth=0.8)
    for check in checks:
        if check.realised is not None:
            bins = check.realised.reliability
            shown = bins.count > 0
            axes.plot(bins.predicted[shown], bins.observed[shown], "o-", label=_label(check))
    axes.set_xlabel("mean predicted probability")
    axes.set_ylabel("observed churn rate")
    axes.set_title("Reliability of matured snapshots")
    if any(c.realised is not None for c in checks):
        axes.legend(fontsize="small")
    figure.savefig(path, dpi=110)
    return path
