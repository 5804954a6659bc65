"""The two pictures of an uplift model on held-out users: its Qini curve against random
targeting, and the observed uplift per decile of predicted uplift.

Built on `matplotlib.figure.Figure` directly (no pyplot): no global state, any thread.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from uplift.curves import HeldOut


def qini_chart(result: HeldOut, title: str, path: Path) -> Path:
    """Returns added per user among the top share of users, with its 95% band."""
    figure = Figure(figsize=(6.5, 4.5), layout="constrained")
    axes = figure.add_subplot()
    curve = result.curve
    axes.fill_between(curve.share, curve.low, curve.high, color="tab:blue", alpha=0.2, lw=0)
    axes.plot(curve.share, curve.qini, color="tab:blue", label="ranked by predicted uplift")
    axes.plot(curve.share, curve.random, color="gray", ls="--", label="random targeting")
    axes.axhline(0, color="black", lw=0.6)
    qini = result.qini
    axes.set_title(
        f"{title}\nQini {qini.value:.4f} [95%: {qini.low:.4f}, {qini.high:.4f}]", fontsize=11
    )
    axes.set_xlabel(f"share of the {result.users:,} held-out users contacted, best first")
    axes.set_ylabel("returns added per user")
    axes.legend(loc="lower right")
    figure.savefig(path, dpi=110)
    return path


def decile_chart(result: HeldOut, title: str, path: Path) -> Path:
    """Observed treated minus control return rate per decile (1 = highest predicted uplift),
    with 95% intervals, beside the mean predicted uplift: a model worth using falls left to
    right, and its predictions sit on the observed bars."""
    figure = Figure(figsize=(6.5, 4.5), layout="constrained")
    axes = figure.add_subplot()
    deciles = result.deciles
    x = deciles.decile.to_numpy()
    observed = deciles.observed.to_numpy(np.float64) * 100
    errors = np.vstack([observed - deciles.low * 100, deciles.high * 100 - observed])
    axes.bar(x, observed, color="tab:green", alpha=0.6, label="observed (treated - control)")
    axes.errorbar(x, observed, yerr=np.nan_to_num(errors), fmt="none", color="black", capsize=3)
    axes.plot(x, deciles.predicted * 100, "o-", color="tab:purple", label="predicted")
    axes.axhline(0, color="black", lw=0.6)
    axes.set_xticks(x)
    axes.set_xlabel("decile (1 = highest predicted uplift)")
    axes.set_ylabel("uplift in return rate, points")
    axes.set_title(f"{title}\nuplift by decile of predicted uplift, held-out users", fontsize=11)
    axes.legend(loc="upper right")
    figure.savefig(path, dpi=110)
    return path
