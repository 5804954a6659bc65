"""What `winback uplift fit` learned, as people read it: one row per strategy (held-out Qini,
AUUC and top-k uplift with 95% intervals, the champion decision, or why it was not fitted),
the Qini and decile charts, and the unrounded numbers as CSV."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from uplift.curves import Estimate
from uplift.fit import NotFitted, StrategyFit


@dataclass(frozen=True)
class Outcome:
    """One strategy's result: fitted and logged (with its decision), or not fitted."""

    strategy: str
    fit: StrategyFit | None
    reason: str  # the champion decision, or why there is no model
    version: str | None = None
    charts: tuple[Path, ...] = ()


@dataclass(frozen=True)
class FitReport:
    folder: Path
    html: Path
    markdown: Path
    numbers: Path


def _shown(estimate: Estimate, scale: float = 1.0, digits: int = 4) -> str:
    if math.isnan(estimate.value):
        return "n/a"
    value, low, high = (x * scale for x in (estimate.value, estimate.low, estimate.high))
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def table(outcomes: Sequence[Outcome], top_percent: Sequence[float]) -> pd.DataFrame:
    rows = []
    for outcome in outcomes:
        fit = outcome.fit
        row = {"strategy": outcome.strategy}
        if fit is None:
            row |= {"model": "none", "decision": outcome.reason}
        else:
            meta, result = fit.model.metadata, fit.result
            row |= {
                "model": f"{meta.name} v{outcome.version}",
                "treated / control": f"{meta.treated:,} / {meta.control:,}",
                "Qini [95%]": _shown(result.qini),
                "AUUC [95%]": _shown(result.auuc),
                "average uplift, pts": _shown(result.average_uplift, 100, 1),
                **{f"top {k:g}% uplift, pts": _shown(result.top[k], 100, 1) for k in top_percent},
                "decision": outcome.reason,
            }
        rows.append(row)
    return pd.DataFrame(rows).fillna("")


def numbers(outcomes: Sequence[Outcome]) -> pd.DataFrame:
    rows = [
        {"strategy": o.strategy, "version": o.version, **o.fit.model.metadata.metrics}
        for o in outcomes
        if o.fit is not None
    ]
    return pd.DataFrame(rows)


def not_fitted(results: Sequence[StrategyFit | NotFitted]) -> list[Outcome]:
    return [Outcome(r.strategy, None, r.reason) for r in results if isinstance(r, NotFitted)]


def write_report(
    campaign_id: str, outcomes: Sequence[Outcome], top_percent: Sequence[float], folder: Path
) -> FitReport:
    folder.mkdir(parents=True, exist_ok=True)
    shown = table(outcomes, top_percent)
    charts = [path for outcome in outcomes for path in outcome.charts]
    title = f"Uplift models from campaign {campaign_id}"
    lines = [
        "Held out: each user's uplift predicted by a model fitted on the other folds; numbers "
        "per fold, averaged with their 95% bootstrap bounds. Qini: returns added per user "
        "above random targeting (0 = no better than chance). A model becomes its strategy's "
        "champion only if its Qini interval lies above 0.",
    ]
    report = FitReport(folder, folder / "report.html", folder / "report.md", folder / "uplift.csv")
    rows = [list(shown.columns), ["---"] * shown.shape[1], *shown.to_numpy().tolist()]
    markdown = "\n".join("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)
    report.markdown.write_text(
        "\n\n".join([f"# {title}", *lines, markdown, *(f"![{p.stem}]({p.name})" for p in charts)])
        + "\n"
    )
    images = "".join(
        f'<p><img src="{html.escape(p.name)}" alt="{html.escape(p.stem)}"></p>' for p in charts
    )
    style = "body{font-family:sans-serif;margin:2em}td,th{padding:4px 8px;text-align:right}"
    report.html.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>"
        + "".join(f"<p>{html.escape(line)}</p>" for line in lines)
        + shown.to_html(index=False, border=0, escape=True)
        + images
        + "</body></html>\n"
    )
    numbers(outcomes).to_csv(report.numbers, index=False)
    return report
