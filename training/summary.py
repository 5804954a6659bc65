"""What a person reads after `winback train` and `winback models`, as rich renderables."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table

from artifact.registry import CHAMPION
from training.backtest import SEARCHED
from training.metrics import METRICS
from training.pipeline import TrainingResult, backtest_reason
from training.registry import Decision, VersionSummary
from training.uncertainty import Interval

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


def _with_interval(value: float | None, interval: Interval | None) -> str:
    if value is None:
        return "-"
    if interval is None:
        return f"{value:.4f}"
    return f"{value:.4f} [{interval.low:.4f}, {interval.high:.4f}]"


def metrics_table(result: TrainingResult) -> Table:
    """One column per scorer, so the table stays narrow however many metrics there are;
    bootstrap 95% intervals beside the metrics that decide."""
    evaluation = result.evaluation
    test = result.data.split.test
    table = Table(
        title=f"Test snapshot {test} ({len(result.data.test):,} active users), "
        "95% bootstrap intervals"
    )
    table.add_column("metric", style="bold")
    for scorer in evaluation.test:
        table.add_column(scorer, justify="right", no_wrap=True)
    for name in METRICS:
        table.add_row(
            HEADERS[name],
            *(
                _with_interval(metrics[name], evaluation.intervals[scorer].get(name))
                for scorer, metrics in evaluation.test.items()
            ),
        )
    return table


def paired_table(result: TrainingResult) -> Table:
    """Model minus each baseline on the same bootstrap resamples: beaten only if above 0."""
    table = Table(title="Model minus baseline (paired bootstrap, 95%)", title_justify="left")
    table.add_column("baseline", style="bold")
    for name in ("roc_auc", "pr_auc"):
        table.add_column(HEADERS[name], justify="right", no_wrap=True)
    table.add_column("beaten on both")
    for baseline, paired in result.evaluation.paired.items():
        cells = [f"{d.estimate:+.4f} [{d.low:+.4f}, {d.high:+.4f}]" for d in paired.values()]
        beaten = all(d.low > 0 for d in paired.values())
        table.add_row(baseline, *cells, "yes" if beaten else "no (interval reaches 0)")
    return table


def backtest_table(result: TrainingResult) -> Table:
    """Per fold, the chosen model's held-out metrics; then every candidate's pooled loss."""
    fitted = result.fitted
    table = Table(title="Backtest (each fold predicted by models fitted on labels known by it)")
    for column in ("fold cutoff", "rows", "ROC AUC", "PR AUC", "log loss", "ECE"):
        table.add_column(column, justify="right")
    for (cutoff, metrics), size in zip(result.evaluation.folds, fitted.backtest.sizes, strict=True):
        table.add_row(
            str(cutoff),
            f"{size:,}",
            *(_number(metrics[name]) for name in ("roc_auc", "pr_auc", "log_loss", "ece")),
        )
    return table


def _verdict(decision: Decision) -> str:
    if decision.promoted:
        return "promoted to champion"
    if not decision.champion:
        return f"not promoted, no champion yet (failed: {', '.join(decision.failed)})"
    return f"champion stays v{decision.champion}"


def run_table(result: TrainingResult) -> Table:
    data, split, fitted = result.data, result.data.split, result.fitted
    choice = fitted.calibration
    losses = ", ".join(f"{method} {loss:.4f}" for method, loss in choice.cv_log_loss.items())
    decision = result.decision
    best = fitted.backtest.search.best
    tried = fitted.backtest.search.tried
    pruned = sum(trial.pruned for trial in tried)
    settings = ", ".join(f"{name} {getattr(best.settings, name)}" for name in SEARCHED)
    registered = fitted.registered.metadata
    table = Table(show_header=False, title="Training run", title_justify="left")
    table.add_column(style="bold")
    table.add_column(overflow="fold")  # the tracking and artifact URIs whole, never cut with "…"
    table.add_row("train cutoffs", f"{', '.join(map(str, split.train))} ({len(data.train):,} rows)")
    table.add_row("backtest folds", ", ".join(map(str, fitted.backtest.cutoffs)))
    for skipped in data.skipped_folds:
        table.add_row("fold skipped", skipped)
    table.add_row(
        "settings", f"{settings}; {best.rounds} rounds ({len(tried)} tried, {pruned} pruned)"
    )
    table.add_row("family", backtest_reason(fitted))
    table.add_row(
        "features", f"{len(data.features)} (BG/NBD: {'yes' if data.probability_alive else 'no'})"
    )
    table.add_row("calibration", f"{choice.chosen.method} (pooled backtest, CV log loss: {losses})")
    table.add_row(
        "registered fit",
        f"refit on {len(registered.train_cutoffs)} cutoffs, test included; metrics above are "
        "the evaluated fit's"
        if registered.refit
        else "the evaluated fit (model.refit: false)",
    )
    table.add_row(
        "model version", f"{result.model_name} v{result.version}: challenger, {_verdict(decision)}"
    )
    table.add_row("decision", "every check passed" if decision.promoted else decision.reason)
    for check in decision.checks:
        table.add_row(f"check {check.name}", str(check))
    table.add_row("run id", result.run_id)
    table.add_row("tracking", result.tracking_uri)
    table.add_row("artifacts", result.artifact_uri)
    table.add_row("model uri", f"models:/{result.model_name}/{result.version}")
    return table


def training_summary(result: TrainingResult) -> RenderableType:
    return Group(
        metrics_table(result), paired_table(result), backtest_table(result), run_table(result)
    )


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
