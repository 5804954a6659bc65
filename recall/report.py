"""The campaign review as people read it: Markdown and HTML with one table and two charts (and
for strategies valued by an uplift model, its Qini curve and uplift by decile), plus the
unrounded numbers as CSV for anyone who wants to recompute."""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.config import DatasetConfig
from recall.charts import durable_chart, return_rate_chart, uplift_chart
from recall.durable import VALUE
from recall.review import CONFIDENCE, POWER, Review
from uplift.plots import decile_chart, qini_chart

MISSING = "n/a"


@dataclass(frozen=True)
class ReportFiles:
    folder: Path
    markdown: Path
    html: Path
    numbers: Path
    charts: tuple[Path, ...]
    durable: Path | None = None


def _or_missing(fmt: Callable[[float], str]) -> Callable[[float], str]:
    return lambda x: MISSING if x is None or math.isnan(x) else fmt(x)


def _points(x: float) -> str:
    return f"{x * 100:+.1f}"


COLUMNS: dict[str, tuple[str, Callable[[float], str]]] = {
    "treated": ("treated", lambda x: f"{x:,.0f}"),
    "control": ("control", lambda x: f"{x:,.0f}"),
    "rate_treated": ("return rate treated", _or_missing(lambda x: f"{x:.1%}")),
    "rate_control": ("return rate control", _or_missing(lambda x: f"{x:.1%}")),
    "uplift": ("uplift (points)", _or_missing(_points)),
    "ci_low": (f"{CONFIDENCE:.0%} CI low", _or_missing(_points)),
    "ci_high": (f"{CONFIDENCE:.0%} CI high", _or_missing(_points)),
    "significant": ("significant", lambda x: "yes" if x else "no"),
    "saved_users": ("saved users", _or_missing(lambda x: f"{x:,.1f}")),
    "cost": ("cost", lambda x: f"{x:,.2f}"),
    "cost_per_saved": ("cost per saved user", _or_missing(lambda x: f"{x:,.2f}")),
    "value_saved": ("value saved", _or_missing(lambda x: f"{x:,.2f}")),
    "roi": ("ROI", _or_missing(lambda x: f"{x:+.0%}")),
    "mde": (f"MDE at {POWER:.0%} power (points)", _or_missing(lambda x: f"{x * 100:.1f}")),
    "power": ("power at planned MDE", _or_missing(lambda x: f"{x:.0%}")),
}


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """Rounded, labelled text: what the Markdown and HTML reports (and the CLI) show."""
    shown = {"strategy": table.strategy, "channel": table.channel}
    for column, (label, fmt) in COLUMNS.items():
        shown[label] = table[column].map(fmt)
    return pd.DataFrame(shown)


def _share(x: float) -> str:
    return f"{x:.1%}"


def display_durable(table: pd.DataFrame) -> pd.DataFrame:
    """The durable outcomes as text: shares in %, differences in points, value in money."""
    rows = []
    for row in table.to_dict("records"):
        value = row["outcome"] == VALUE
        level = _or_missing((lambda x: f"{x:,.2f}") if value else _share)
        change = _or_missing((lambda x: f"{x:+,.2f}") if value else _points)
        known = row["treated"] + row["control"] > 0
        rows.append(
            {
                "strategy": row["strategy"],
                "outcome": row["outcome"],
                "treated": f"{row['treated']:,}",
                "control": f"{row['control']:,}",
                "treated mean": level(row["treated_mean"]),
                "control mean": level(row["control_mean"]),
                "difference (points, or value)": change(row["difference"]),
                f"{CONFIDENCE:.0%} CI": f"[{change(row['ci_low'])}, {change(row['ci_high'])}]",
                "significant": "yes" if row["significant"] else "no",
                "known": "yes" if known else f"from {row['matures_on']}",
            }
        )
    return pd.DataFrame(rows)


def _markdown_table(frame: pd.DataFrame) -> str:
    rows = [list(frame.columns), ["---"] * frame.shape[1], *frame.to_numpy().tolist()]
    return "\n".join("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)


def _targeting_lines(review: Review) -> list[str]:
    return [
        f"{name} was targeted by its uplift model: on this campaign's control group its "
        f"predictions rank with Qini {h.qini.value:.4f} [{h.qini.low:.4f}, {h.qini.high:.4f}] "
        f"and AUUC {h.auuc.value:.4f} [{h.auuc.low:.4f}, {h.auuc.high:.4f}] "
        f"({h.users:,} listed users with a prediction)."
        for name, h in review.targeting.items()
    ]


def _headline(review: Review) -> list[str]:
    lines = [
        f"Campaign date {review.campaign_date}; returns counted in [{review.campaign_date}, "
        f"{review.window_end}) ({review.window_days} days); events observed until "
        f"{review.observed_until}.",
        f"A strategy's uplift is significant when its {CONFIDENCE:.0%} interval (Newcombe) "
        "excludes 0. MDE: the smallest uplift its group sizes find with "
        f"{POWER:.0%} power; power: their chance of finding the MDE the list was planned for.",
        *_targeting_lines(review),
    ]
    if not review.complete:
        lines.append("Warning: the window is not over yet; return rates are still rising.")
    return lines


DURABLE_HEADLINE = (
    "Did they stay? Every outcome is a share (or the mean value) of the whole group, returned "
    "or not; an outcome is known once its last day is observed for every listed user."
)


def _markdown(review: Review, charts: tuple[Path, ...]) -> str:
    parts = [
        f"# Campaign review: {review.campaign_id}",
        *_headline(review),
        _markdown_table(display_table(review.table)),
    ]
    if review.durable is not None:
        parts += ["## Durable outcomes", DURABLE_HEADLINE]
        parts.append(_markdown_table(display_durable(review.durable)))
    parts += [f"![{path.stem}]({path.name})" for path in charts]
    return "\n\n".join(parts) + "\n"


def _html(review: Review, charts: tuple[Path, ...]) -> str:
    title = html.escape(f"Campaign review: {review.campaign_id}")
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in _headline(review))
    table = display_table(review.table).to_html(index=False, border=0, escape=True)
    if review.durable is not None:
        durable = display_durable(review.durable).to_html(index=False, border=0, escape=True)
        table += f"<h2>Durable outcomes</h2><p>{html.escape(DURABLE_HEADLINE)}</p>{durable}"
    images = "".join(
        f'<p><img src="{html.escape(path.name)}" alt="{path.stem}"></p>' for path in charts
    )
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{padding:4px 8px;border-bottom:1px solid #ddd;text-align:right}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{style}</style></head><body><h1>{title}</h1>{paragraphs}{table}{images}"
        "</body></html>\n"
    )


def write_report(review: Review, folder: Path, charts: bool = True) -> ReportFiles:
    """The report's files in `folder`; `charts=False` leaves out the PNGs (the daily cycle's
    many small reviews, where drawing is most of the time)."""
    folder.mkdir(parents=True, exist_ok=True)
    drawn: tuple[Path, ...] = ()
    if charts:
        drawn = (
            uplift_chart(review.table, folder / "uplift.png", CONFIDENCE),
            return_rate_chart(review.table, folder / "return_rates.png"),
            *(
                chart
                for name, held_out in review.targeting.items()
                for chart in (
                    qini_chart(held_out, name, folder / f"qini_{name}.png"),
                    decile_chart(held_out, name, folder / f"uplift_deciles_{name}.png"),
                )
            ),
        )
    durable = None
    if review.durable is not None:
        if charts:
            drawn += (durable_chart(review.durable, folder / "durable.png", CONFIDENCE),)
        durable = folder / "durable.csv"
        review.durable.to_csv(durable, index=False)
    files = ReportFiles(
        folder=folder,
        markdown=folder / "review.md",
        html=folder / "review.html",
        numbers=folder / "review.csv",
        charts=drawn,
        durable=durable,
    )
    files.markdown.write_text(_markdown(review, drawn))
    files.html.write_text(_html(review, drawn))
    review.table.to_csv(files.numbers, index=False)
    return files


def reviews_root(config: DatasetConfig) -> Path:
    """Where `winback review` writes each campaign's report unless told: <here>/<campaign>."""
    return config.workdir_path / "reviews"
