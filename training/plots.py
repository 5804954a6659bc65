"""The run's pictures as PNG files. Figures are built without pyplot, so there is no global
state and no display: safe in threads, on servers and in tests (Agg renders them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import precision_recall_curve, roc_curve

from training.metrics import ECE_BINS

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
