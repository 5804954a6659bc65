"""The uncertainty figures: each is a real PNG, whatever the scorers and folds look like."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training import plots

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def snapshot() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    risk = rng.normal(size=5000)
    y = (rng.uniform(size=5000) < 1 / (1 + np.exp(-(1.5 * risk - 1)))).astype(float)
    probability = 1 / (1 + np.exp(-(risk - 1)))
    return y, {
        "model": probability,
        "overconfident": np.clip(probability * 1.4, 0, 1),
        "rule": -np.round(risk * 2),  # rank-only and tied: lift only
    }


def is_png(path: Path) -> bool:
    return path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG


def test_reliability_with_counts(
    snapshot: tuple[np.ndarray, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    y, scores = snapshot
    probabilities = {name: scores[name] for name in ("model", "overconfident")}
    out = plots.reliability_with_counts(y, probabilities, tmp_path / "calibration.png")
    assert out == tmp_path / "calibration.png"
    assert is_png(out)


def test_reliability_with_empty_bins(tmp_path: Path) -> None:
    y = np.r_[np.zeros(50), np.ones(50)]
    probability = np.r_[np.full(50, 0.05), np.full(50, 0.95)]  # eight bins empty
    assert is_png(plots.reliability_with_counts(y, {"two": probability}, tmp_path / "c.png"))


def test_lift_quality_plot(
    snapshot: tuple[np.ndarray, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    y, scores = snapshot
    assert is_png(plots.lift_quality_plot(y, scores, tmp_path / "lift_quality.png"))


def test_fold_metrics_plot(tmp_path: Path) -> None:
    folds: list[tuple[str, dict[str, float | None]]] = [
        ("2024-01-01", {"roc_auc": 0.71, "log_loss": 0.52, "ece": 0.012}),
        ("2024-02-01", {"roc_auc": 0.73, "log_loss": 0.50, "ece": None}),
        ("2024-03-01", {"roc_auc": 0.72, "log_loss": 0.51, "ece": 0.020}),
    ]
    assert is_png(plots.fold_metrics_plot(folds, tmp_path / "folds.png"))
    single = plots.fold_metrics_plot(folds[:1], tmp_path / "one.png")
    assert is_png(single)
