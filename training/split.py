"""Which cutoffs each model is fitted on, so that no label peeks past the cutoff it predicts.

A label at cutoff C looks at [C, C + horizon): it is known only from C + horizon on. A model
that predicts cutoff F may therefore be fitted only on cutoffs whose label window ends by F
(C + horizon <= F). The test cutoff is the last labelled one. The backtest folds are the
latest cutoffs before it that leave at least one such training cutoff, each predicted by a
model fitted the same way; their pooled predictions choose the settings, the number of rounds,
the model family and the calibration. The evaluated model is fitted the same way for the test
cutoff, and the registered one (the refit) on every labelled cutoff.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from training.errors import TrainingError


@dataclass(frozen=True)
class Fold:
    """A cutoff to predict and the cutoffs whose labels are known by then."""

    cutoff: dt.date
    train: tuple[dt.date, ...]


@dataclass(frozen=True)
class TemporalSplit:
    folds: tuple[Fold, ...]  # the backtest, oldest first
    evaluation: Fold  # the test cutoff and what the evaluated model is fitted on
    refit: tuple[dt.date, ...]  # every labelled cutoff, for the registered model

    @property
    def test(self) -> dt.date:
        return self.evaluation.cutoff

    @property
    def train(self) -> tuple[dt.date, ...]:
        return self.evaluation.train


def known_by(cutoffs: Sequence[dt.date], target: dt.date, horizon_days: int) -> tuple[dt.date, ...]:
    """The cutoffs whose whole label window ends by `target`."""
    horizon = dt.timedelta(days=horizon_days)
    return tuple(cutoff for cutoff in cutoffs if cutoff + horizon <= target)


def temporal_split(labelled: Sequence[dt.date], horizon_days: int, folds: int = 4) -> TemporalSplit:
    """Test on the last labelled cutoff; backtest on the `folds` latest cutoffs before it."""
    cutoffs = sorted(set(labelled))
    if not cutoffs:
        raise TrainingError("no cutoff has labels: is the log long enough for the horizon?")
    test = cutoffs[-1]
    evaluation = Fold(test, known_by(cutoffs, test, horizon_days))
    if not evaluation.train:
        raise TrainingError(
            f"no cutoff's {horizon_days}-day label window ends by the test cutoff {test}: "
            "add earlier cutoffs or shorten the horizon"
        )
    candidates = [Fold(c, known_by(cutoffs, c, horizon_days)) for c in cutoffs[:-1]]
    backtest = tuple(fold for fold in candidates if fold.train)[-folds:]
    if not backtest:
        raise TrainingError(
            f"no cutoff before the test cutoff {test} has an earlier one whose "
            f"{horizon_days}-day label window ends by it, so nothing can be backtested: "
            "add earlier cutoffs or shorten the horizon"
        )
    return TemporalSplit(folds=backtest, evaluation=evaluation, refit=tuple(cutoffs))
