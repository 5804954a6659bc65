"""The monitor's report: JSON summary, HTML with a table per snapshot and the plots."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from monitoring import plots
from monitoring.monitor import Check, Monitoring
from monitoring.summary import summary


@dataclass(frozen=True)
class ReportFiles:
    folder: Path
    html: Path
    summary: Path
    plots: tuple[Path, ...]


def _number(value: float | None, interval: tuple[float, float] | None = None) -> str:
    if value is None or value != value:
        return "-"
    text = f"{value:.4f}"
    return text + (f" [{interval[0]:.4f}, {interval[1]:.4f}]" if interval else "")


def _row(check: Check) -> dict[str, str]:
    result, promise = check.realised, check.promise
    realised = result.metrics if result else {}
    intervals = {k: (v.low, v.high) for k, v in result.intervals.items()} if result else {}
    top = check.drift[0] if check.drift else None
    return {
        "cutoff": str(check.entry.cutoff),
        "model": f"v{check.entry.model_version}",
        "scored": f"{len(check.scores):,}",
        "matured": "yes" if check.matured else "no",
        "promised ROC AUC": _number(promise.value("roc_auc"), promise.intervals.get("roc_auc")),
        "realised ROC AUC": _number(realised.get("roc_auc"), intervals.get("roc_auc")),
        "expected ROC AUC": _number(check.expected.roc_auc),
        "realised PR AUC": _number(realised.get("pr_auc"), intervals.get("pr_auc")),
        "realised ECE": _number(realised.get("ece"), intervals.get("ece")),
        "log loss": _number(realised.get("log_loss")),
        "lift top 10%": _number(realised.get("lift_top10")),
        "recall top 10%": _number(realised.get("recall_top10")),
        "expected precision top 10%": _number(check.expected.precision_top10),
        "score PSI": _number(check.score_drift.value if check.score_drift else None),
        "most drifted": f"{top.name} {top.value:.3f}" if top else "-",
        "findings": "; ".join(f"{f.level}: {f.text}" for f in check.findings) or "ok",
    }


def _html(monitoring: Monitoring, images: tuple[Path, ...]) -> str:
    title = html.escape(f"Model monitor: {monitoring.model_name}")
    table = pd.DataFrame([_row(c) for c in monitoring.checks]).to_html(index=False, border=0)
    pictures = "".join(
        f'<p><img src="{html.escape(path.name)}" alt="{path.stem}"></p>' for path in images
    )
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:small}"
        "td,th{padding:4px 8px;border-bottom:1px solid #ddd;text-align:right}"
        ".verdict{font-size:large;font-weight:bold}"
    )
    observed = html.escape(f"Labels observed until {monitoring.observed_until}.")
    verdict = html.escape(monitoring.verdict())
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{style}</style></head><body><h1>{title}</h1><p>{observed}</p>{table}"
        f"{pictures}<p class='verdict'>{verdict}</p></body></html>\n"
    )


def write_report(monitoring: Monitoring, folder: Path) -> ReportFiles:
    folder.mkdir(parents=True, exist_ok=True)
    checks = monitoring.checks
    images = (
        plots.score_distribution(checks, folder / "score_distribution.png"),
        plots.drift_per_feature(checks, folder / "drift.png"),
        plots.metrics_over_time(checks, folder / "metrics_over_time.png"),
        plots.reliability(checks, folder / "reliability.png"),
    )
    files = ReportFiles(folder, folder / "monitor.html", folder / "summary.json", images)
    files.summary.write_text(json.dumps(summary(monitoring), indent=1))
    files.html.write_text(_html(monitoring, images))
    return files
