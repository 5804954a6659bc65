"""The review's two pictures: uplift with its interval, and return rates side by side.

Built on `matplotlib.figure.Figure` directly (no pyplot), so no global state or GUI backend
is touched and charts can be drawn from any thread.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from recall.durable import VALUE

HEIGHT_PER_ROW = 0.5


def _figure(rows: int) -> Figure:
    return Figure(figsize=(7.5, 1.6 + HEIGHT_PER_ROW * rows), layout="constrained")


def uplift_chart(table: pd.DataFrame, path: Path, confidence: float) -> Path:
    """Uplift per strategy in points, with its interval; a bar crossing 0 is no evidence."""
    figure = _figure(len(table))
    axes = figure.add_subplot()
    y = np.arange(len(table))
    uplift = table.uplift.to_numpy(float) * 100
    errors = np.vstack([uplift - table.ci_low * 100, table.ci_high * 100 - uplift])
    for significant, colour in ((True, "tab:green"), (False, "tab:gray")):
        rows = (table.significant == significant).to_numpy()
        axes.errorbar(uplift[rows], y[rows], xerr=errors[:, rows], fmt="o", color=colour, capsize=4)
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_yticks(y, table.strategy)
    axes.invert_yaxis()
    axes.set_xlabel(f"uplift in return rate, points (treated - control), {confidence:.0%} CI")
    axes.set_title("Uplift per strategy")
    figure.savefig(path, dpi=120)
    return path


def return_rate_chart(table: pd.DataFrame, path: Path) -> Path:
    figure = _figure(len(table))
    axes = figure.add_subplot()
    y = np.arange(len(table))
    height = 0.38
    axes.barh(y - height / 2, table.rate_treated * 100, height, label="treated")
    axes.barh(y + height / 2, table.rate_control * 100, height, label="control")
    axes.set_yticks(y, table.strategy)
    axes.invert_yaxis()
    axes.set_xlabel("return rate in the window, %")
    axes.set_title("Return rate: treated vs control")
    axes.legend(loc="lower right")
    figure.savefig(path, dpi=120)
    return path


def durable_chart(table: pd.DataFrame, path: Path, confidence: float) -> Path:
    """Treated minus control per strategy and share outcome (returned, still active, lapsed
    again), in points with the interval; outcomes not known yet are left out."""
    shown = table[(table.outcome != VALUE) & table.difference.notna()]
    figure = _figure(max(len(shown), 1))
    axes = figure.add_subplot()
    y = np.arange(len(shown))
    points = shown.difference.to_numpy(float) * 100
    errors = np.vstack([points - shown.ci_low * 100, shown.ci_high * 100 - points])
    for significant, colour in ((True, "tab:green"), (False, "tab:gray")):
        rows = (shown.significant == significant).to_numpy()
        axes.errorbar(points[rows], y[rows], xerr=errors[:, rows], fmt="o", color=colour, capsize=4)
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_yticks(y, shown.strategy + ": " + shown.outcome)
    axes.invert_yaxis()
    axes.set_xlabel(f"treated - control, points of the whole group, {confidence:.0%} CI")
    axes.set_title("Did they stay? Durable outcomes per strategy")
    figure.savefig(path, dpi=120)
    return path
