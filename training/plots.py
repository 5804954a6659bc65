"""The run's pictures as PNG files. Figures are built without pyplot, so there is no global
state and no display: safe in threads, on servers and in tests (Agg renders them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import precision_recall_curve, roc_curve

from training.metrics import ECE_BINS, expected_calibration_error
from training.uncertainty import calibration_bins, lift_curve, lift_quality

Floats = npt.NDArray[np.float64]
TOP_FEATURES = 20
CONTRIBUTION_ROWS = 2000


def _save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return path


def _axes(title: str, width: float = 6.0, height: float = 5.0) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(width, height))
    axes = figure.subplots()
    axes.set_title(title)
    return figure, axes


def roc(y: Floats, scores: Mapping[str, Floats], path: Path) -> Path:
    figure, axes = _axes("ROC curve, test snapshot")
    for name, score in scores.items():
        fpr, tpr, _ = roc_curve(y, score)
        axes.plot(fpr, tpr, label=name)
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    axes.set(xlabel="False positive rate", ylabel="True positive rate (recall)")
    axes.legend(loc="lower right")
    return _save(figure, path)


def precision_recall(y: Floats, scores: Mapping[str, Floats], path: Path) -> Path:
    figure, axes = _axes("Precision-recall curve, test snapshot")
    for name, score in scores.items():
        precision, recall, _ = precision_recall_curve(y, score)
        axes.plot(recall, precision, label=name)
    axes.axhline(float(y.mean()), color="grey", linestyle=":", label="churn rate")
    axes.set(xlabel="Recall", ylabel="Precision", ylim=(0, 1.02))
    axes.legend(loc="lower left")
    return _save(figure, path)


def reliability(y: Floats, probabilities: Mapping[str, Floats], path: Path) -> Path:
    figure, axes = _axes("Calibration (reliability), test snapshot")
    for name, probability in probabilities.items():
        observed, predicted = calibration_curve(y, probability, n_bins=ECE_BINS)
        axes.plot(predicted, observed, marker="o", label=name)
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
    axes.set(xlabel="Predicted churn probability", ylabel="Observed churn rate")
    axes.legend(loc="upper left")
    return _save(figure, path)


def gains(y: Floats, scores: Mapping[str, Floats], path: Path) -> Path:
    """Cumulative share of churners caught when contacting the riskiest users first, and lift."""
    figure = Figure(figsize=(11, 5))
    caught_axes, lift_axes = figure.subplots(1, 2)
    share = np.arange(1, len(y) + 1) / len(y)
    for name, score in scores.items():
        ordered = y[np.argsort(-score, kind="stable")]
        caught = np.cumsum(ordered) / ordered.sum()
        caught_axes.plot(share, caught, label=name)
        lift_axes.plot(share, caught / share, label=name)
    caught_axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="random")
    caught_axes.set(
        title="Cumulative gains", xlabel="Share of users contacted", ylabel="Share of churners"
    )
    lift_axes.axhline(1.0, color="grey", linestyle=":", label="random")
    lift_axes.set(title="Lift", xlabel="Share of users contacted", ylabel="Lift over random")
    lift_axes.set_xlim(0.01, 1.0)
    caught_axes.legend(loc="lower right")
    lift_axes.legend(loc="upper right")
    return _save(figure, path)


def importance(names: Sequence[str], gain: Floats, path: Path) -> Path:
    order = np.argsort(gain)[-TOP_FEATURES:]
    figure, axes = _axes("Feature importance (total gain)", width=7, height=6)
    axes.barh([names[i] for i in order], gain[order])
    axes.set(xlabel="Total gain")
    return _save(figure, path)


def _value_ranks(values: Floats) -> Floats:
    """Each column's values as ranks in [0, 1] (NaN stays NaN), so colours compare across units."""
    ranks = np.full(values.shape, np.nan)
    for column in range(values.shape[1]):
        known = ~np.isnan(values[:, column])
        if known.any():
            order = values[known, column].argsort().argsort()
            ranks[known, column] = order / max(known.sum() - 1, 1)
    return ranks


def sample_rows(count: int, seed: int) -> npt.NDArray[np.intp]:
    """The users the contributions plot shows: exact contributions cost a multiple of a
    prediction, so a million-row test snapshot is explained on a seeded sample only."""
    return np.random.default_rng(seed).permutation(count)[:CONTRIBUTION_ROWS]


def contributions(
    names: Sequence[str], contribution: Floats, values: Floats, path: Path, seed: int
) -> Path:
    """SHAP-style summary from LightGBM's exact contributions (of `sample_rows`): one dot per
    user and feature, placed by its push on the margin and coloured by the feature's value
    (grey: missing)."""
    rng = np.random.default_rng(seed)
    order = np.argsort(np.abs(contribution[:, : len(names)]).mean(axis=0))[-TOP_FEATURES:]
    pushes = contribution[:, order]
    colours = _value_ranks(values[:, order])
    heights = np.arange(len(order)) + rng.uniform(-0.3, 0.3, pushes.shape)
    known = ~np.isnan(colours)
    figure, axes = _axes("Per-user contributions (test snapshot)", width=8, height=7)
    axes.scatter(pushes[~known], heights[~known], s=4, color="lightgrey")
    points = axes.scatter(
        pushes[known], heights[known], s=4, c=colours[known], cmap="coolwarm", vmin=0, vmax=1
    )
    axes.axvline(0.0, color="grey", linewidth=0.8)
    axes.set_yticks(range(len(order)), [names[i] for i in order])
    axes.set(xlabel="Contribution to churn log-odds (positive: more risk)")
    figure.colorbar(points, ax=axes, label="Feature value, low to high (rank)")
    return _save(figure, path)


def reliability_with_counts(y: Floats, probabilities: Mapping[str, Floats], path: Path) -> Path:
    """Reliability diagram on ECE's own bins, over a bar panel of the rows per bin: a point far
    off the diagonal matters only if its bin holds users, and the counts say how many."""
    figure = Figure(figsize=(7, 7.5))
    curve_axes, count_axes = figure.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.4]}
    )
    width = 1.0 / ECE_BINS / (len(probabilities) + 1)
    left = np.arange(ECE_BINS) / ECE_BINS + width / 2
    for offset, (name, probability) in enumerate(probabilities.items()):
        bins = calibration_bins(y, probability)
        filled = bins.count > 0
        ece = expected_calibration_error(y, probability)
        curve_axes.plot(
            bins.predicted[filled],
            bins.observed[filled],
            marker="o",
            label=f"{name} (ECE {ece:.4f})",
        )
        bars = count_axes.bar(left + offset * width, bins.count, width, align="edge", label=name)
        count_axes.bar_label(bars, labels=[f"{c:,}" for c in bins.count], fontsize=6, rotation=90)
    curve_axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
    curve_axes.set(
        title=f"Calibration (reliability, {ECE_BINS} bins), test snapshot",
        ylabel="Observed churn rate",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    curve_axes.legend(loc="upper left")
    count_axes.set_yscale("symlog", linthresh=1)
    count_axes.set_ylim(0, max(count_axes.get_ylim()[1] * 8, 10))
    count_axes.set_xticks(np.linspace(0, 1, ECE_BINS + 1))
    count_axes.set(xlabel="Predicted churn probability", ylabel="Users per bin (log)")
    return _save(figure, path)


LIFT_SHARES = np.arange(1, 101) / 100


def lift_quality_plot(y: Floats, scores: Mapping[str, Floats], path: Path) -> Path:
    """Lift at every audience size from 1% to 100%, one line per scorer, with Braze's lift
    quality (area between gains and random, over perfect's) in the legend."""
    figure, axes = _axes("Lift by audience size, test snapshot", width=7, height=5)
    percent = LIFT_SHARES * 100
    for name, score in scores.items():
        quality = lift_quality(y, score)
        axes.plot(
            percent, lift_curve(y, score, LIFT_SHARES), label=f"{name} (lift quality {quality:.3f})"
        )
    perfect = np.minimum(1.0 / LIFT_SHARES, 1.0 / float(np.mean(y)))
    axes.plot(percent, perfect, color="grey", linestyle="--", label="perfect (lift quality 1)")
    axes.axhline(1.0, color="grey", linestyle=":", label="random (lift quality 0)")
    axes.set(xlabel="Audience size (% of users contacted, riskiest first)", ylabel="Lift")
    axes.set_xlim(0, 100)
    axes.legend(loc="upper right")
    return _save(figure, path)


FOLD_METRICS = (("roc_auc", "ROC AUC"), ("log_loss", "Log loss"), ("ece", "ECE"))


def fold_metrics_plot(
    per_fold: Sequence[tuple[str, Mapping[str, float | None]]],
    path: Path,
    metrics: Sequence[tuple[str, str]] = FOLD_METRICS,
) -> Path:
    """One panel per metric across the backtest folds (held-out cutoffs, oldest first), with
    their mean: how much a test number would move from one snapshot to the next."""
    figure = Figure(figsize=(4.0 * len(metrics), 4.2))
    panels = np.atleast_1d(figure.subplots(1, len(metrics), squeeze=False)[0])
    labels = [label for label, _ in per_fold]
    positions = np.arange(len(per_fold))
    for axes, (key, title) in zip(panels, metrics, strict=True):
        values = np.array(
            [np.nan if m.get(key) is None else float(cast(float, m[key])) for _, m in per_fold]
        )
        axes.plot(positions, values, marker="o")
        known = values[np.isfinite(values)]
        if known.size:
            mean = float(known.mean())
            axes.axhline(mean, color="grey", linestyle=":", label=f"mean {mean:.4f}")
            axes.legend(loc="best")
        axes.set_xticks(positions, labels, rotation=45, ha="right")
        axes.set(title=title, xlabel="Backtest cutoff")
    figure.suptitle("Held-out metrics per backtest fold")
    return _save(figure, path)
