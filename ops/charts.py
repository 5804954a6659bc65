"""The page's pictures, drawn on the server with matplotlib and embedded as PNG data URIs, so
the page needs no script library, no second request and no network.

Built on `matplotlib.figure.Figure` directly (no pyplot): no global state, any thread.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ops.layers import STATUSES

WIDTH = 8.0
DPI = 100
OTHER = "other"


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def file_uri(path: Path) -> str:
    """A PNG another command wrote (a review's chart), embedded as it is."""
    return data_uri(path.read_bytes())


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return data_uri(buffer.getvalue())


def _figure(height: float) -> Figure:
    return Figure(figsize=(WIDTH, height), layout="constrained")


def status_tiers(table: pd.DataFrame) -> str:
    """Users per status, one bar per status split by tier (`layers.status_by_tier`)."""
    figure = _figure(3.2)
    axes = figure.add_subplot()
    counts = table.drop(index="total", columns="total")
    left = np.zeros(len(counts))
    palette = [f"C{i}" for i in range(len(counts.columns))]
    for tier, colour in zip(counts.columns, palette, strict=True):
        values = counts[tier].to_numpy(float)
        axes.barh(np.arange(len(counts)), values, left=left, label=f"tier {tier}", color=colour)
        left += values
    axes.set_yticks(np.arange(len(counts)), [s.replace("_", " ") for s in STATUSES])
    axes.invert_yaxis()
    axes.set_xlabel("users")
    axes.set_title("Users per status and value tier")
    axes.legend(loc="lower right")
    return _png(figure)


def risk_distribution(counts: np.ndarray, edges: np.ndarray, line: float | None) -> str:
    figure = _figure(3.0)
    axes = figure.add_subplot()
    axes.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="C0", edgecolor="white")
    if line is not None:
        axes.axvline(line, color="C3", linewidth=2, label=f"warning line {line:.2f}")
        axes.legend(loc="upper right")
    axes.set_xlim(0, 1)
    axes.set_xlabel("churn probability (active users, scored)")
    axes.set_ylabel("users")
    axes.set_title("Risk distribution")
    return _png(figure)


def reasons_per_layer(rollup: pd.DataFrame, features: Sequence[str]) -> str:
    """One bar per layer (status, tier, band): the share of its users led by each feature."""
    layers = rollup[["status", "tier", "risk_band"]].drop_duplicates()
    labels = [f"{s.replace('_', ' ')} / {t} / {b}" for s, t, b in layers.itertuples(index=False)]
    figure = _figure(1.4 + 0.32 * max(len(layers), 1))
    axes = figure.add_subplot()
    shares = rollup.assign(
        feature=rollup["feature"].where(rollup["feature"].isin(features), OTHER)
    ).pivot_table(
        index=["status", "tier", "risk_band"], columns="feature", values="share", aggfunc="sum"
    )
    shares = shares.reindex(pd.MultiIndex.from_frame(layers)).fillna(0.0)
    left = np.zeros(len(layers))
    for index, feature in enumerate([*features, OTHER]):
        if feature not in shares.columns:
            continue
        values = shares[feature].to_numpy(float) * 100
        colour = "lightgrey" if feature == OTHER else f"C{index % 10}"
        axes.barh(np.arange(len(layers)), values, left=left, label=feature, color=colour)
        left += values
    axes.set_yticks(np.arange(len(layers)), labels, fontsize="small")
    axes.invert_yaxis()
    axes.set_xlim(0, 100)
    axes.set_xlabel("share of the layer's users whose top reason is the feature, %")
    axes.set_title("Top churn reason per layer (status / tier / band)")
    axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    return _png(figure)


def cohort_curves(curves: pd.DataFrame) -> str:
    figure = _figure(3.4)
    axes = figure.add_subplot()
    cohorts = sorted(curves["cohort"].unique())
    shades = [f"C{i % 10}" for i in range(len(cohorts))]
    for cohort, colour in zip(cohorts, shades, strict=True):
        rows = curves[(curves["cohort"] == cohort) & (curves["offset"] > 0)]
        axes.plot(rows["offset"], rows["retained"] * 100, color=colour, label=f"{cohort:%Y-%m}")
    axes.set_xlabel("days after first activity")
    axes.set_ylabel("active that day, % of cohort")
    axes.set_title("Retention curves by month of first activity")
    if cohorts:
        axes.legend(fontsize="x-small", ncol=max(1, len(cohorts) // 8), loc="upper right")
    return _png(figure)


def active_users(daily: pd.DataFrame, weekly: pd.DataFrame, monthly: pd.DataFrame) -> str:
    figure = _figure(3.4)
    axes = figure.add_subplot()
    axes.plot(daily["day"], daily["users"], linewidth=0.8, label="daily (DAU)")
    axes.step(weekly["week"], weekly["users"], where="post", label="weekly (WAU)")
    axes.step(monthly["month"], monthly["users"], where="post", label="monthly (MAU)")
    axes.set_ylabel("active users")
    axes.set_title("Active users per day, week and month")
    axes.legend(loc="upper right")
    return _png(figure)


def stickiness(monthly: pd.DataFrame) -> str:
    figure = _figure(2.8)
    axes = figure.add_subplot()
    colours = ["lightgrey" if partial else "C2" for partial in monthly["partial"]]
    axes.bar(monthly["month"], monthly["stickiness"] * 100, width=20, color=colours)
    axes.set_ylabel("DAU / MAU, %")
    axes.set_title("Stickiness per month (grey: month only partly in the log)")
    return _png(figure)


def model_health(table: pd.DataFrame) -> str:
    """Realised ROC AUC with its interval, expected (CBPE) and promised, per snapshot."""
    figure = _figure(3.2)
    axes = figure.add_subplot()
    x = np.arange(len(table))
    realised = table["realised_auc"].astype("float64")
    errors = np.vstack(
        [
            realised - table["realised_low"].astype("float64"),
            table["realised_high"].astype("float64") - realised,
        ]
    )
    axes.errorbar(x, realised, yerr=errors, fmt="o", capsize=4, label="realised (95% CI)")
    axes.plot(x, table["expected_auc"].astype("float64"), "s--", label="expected (CBPE)")
    promised = table["promised_auc"].astype("float64")
    axes.plot(x, promised, "k_:", markersize=24, label="promised (test)")
    axes.set_xticks(
        x, [f"{c}\nv{v}" for c, v in zip(table["cutoff"], table["model_version"], strict=True)]
    )
    axes.set_xlim(-0.5, len(table) - 0.5)
    axes.set_ylabel("ROC AUC")
    axes.set_title("Model health per scored snapshot")
    axes.legend(loc="lower left")
    return _png(figure)
