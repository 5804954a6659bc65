"""What a person reads after `winback train` and `winback models`, as rich renderables."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table

from artifact.registry import CHAMPION
from training.metrics import METRICS
from training.pipeline import TrainingResult
from training.registry import VersionSummary

HEADERS = {
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC",
    "log_loss": "log loss",
    "brier": "Brier",
    "ece": "ECE",
    "lift_top10": "lift@10%",
    "recall_top10": "recall@10%",
}


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def metrics_table(result: TrainingResult) -> Table:
    """One column per scorer, so the table stays narrow however many metrics there are."""
    test = result.data.split.test
    scores = result.evaluation.test
    table = Table(title=f"Test snapshot {test} ({len(result.data.test):,} active users)")
    table.add_column("metric", style="bold")
    for scorer in scores:
        table.add_column(scorer, justify="right", no_wrap=True)
    for name in METRICS:
        table.add_row(HEADERS[name], *(_number(metrics[name]) for metrics in scores.values()))
    return table


def run_table(result: TrainingResult) -> Table:
    data, split = result.data, result.data.split
    choice = result.calibration
    losses = ", ".join(f"{method} {loss:.4f}" for method, loss in choice.cv_log_loss.items())
    decision = result.decision
    verdict = (
        "promoted to champion" if decision.promoted else f"champion stays v{decision.champion}"
    )
    table = Table(show_header=False, title="Training run", title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("train cutoffs", f"{', '.join(map(str, split.train))} ({len(data.train):,} rows)")
    validation = ", ".join(map(str, split.validation))
    table.add_row("validation", f"{validation} ({len(data.validation):,} rows)")
    table.add_row("features", f"{len(data.features)} (BG/NBD: {'yes' if data.bgnbd else 'no'})")
    table.add_row("best iteration", str(result.best_iteration))
    table.add_row("calibration", f"{choice.chosen.method} (cross-validated log loss: {losses})")
    table.add_row("model version", f"{result.model_name} v{result.version}: challenger, {verdict}")
    table.add_row("decision", decision.reason)
    table.add_row("run id", result.run_id)
    table.add_row("tracking", result.tracking_uri)
    table.add_row("artifacts", result.artifact_uri)
    table.add_row("model uri", f"models:/{result.model_name}/{result.version}")
    return table


def training_summary(result: TrainingResult) -> RenderableType:
    return Group(metrics_table(result), run_table(result))


def versions_table(name: str, found: Sequence[VersionSummary]) -> Table:
    table = Table(title=f"Registered versions of {name}")
    for column in ("version", "aliases", "created (UTC)", "ROC AUC", "PR AUC", "ECE", "run id"):
        table.add_column(column, justify="right" if column in HEADERS.values() else "left")
    for item in found:
        style = "bold green" if CHAMPION in item.aliases else None
        table.add_row(
            item.version,
            ", ".join(item.aliases),
            item.created.strftime("%Y-%m-%d %H:%M"),
            _number(item.metrics.get("model/test_roc_auc")),
            _number(item.metrics.get("model/test_pr_auc")),
            _number(item.metrics.get("model/test_ece")),
            item.run_id or "",
            style=style,
        )
    return table
