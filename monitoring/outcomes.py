"""What happened after each cutoff: the churn labels the log now holds, computed by the same
point-in-time code that labelled the training snapshots."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd

from core.config import DatasetConfig
from features.engine import Engine
from features.loading import canonical_events, prepare
from features.pipeline import observed_until, snapshots
from features.status import LABEL


def log_end(config: DatasetConfig, engine: Engine) -> dt.date:
    """First day the log does not cover."""
    return observed_until(canonical_events(engine, prepare(config, engine)))


def matured(cutoff: dt.date, horizon_days: int, observed: dt.date) -> bool:
    """The whole label window [cutoff, cutoff + horizon) lies before `observed`."""
    return cutoff + dt.timedelta(days=horizon_days) <= observed


def outcomes(
    config: DatasetConfig, engine: Engine, cutoffs: Sequence[dt.date], observed: dt.date
) -> pd.DataFrame:
    """user_id, cutoff, label (1 = churned; null where not labelled) in one pass for every
    cutoff; events on or after `observed` are not looked at."""
    table, _ = snapshots(config, engine, sorted(set(cutoffs)), until=observed)
    frame = table.select("user_id", "cutoff", LABEL).to_pandas()
    return frame.assign(cutoff=pd.to_datetime(frame["cutoff"]).dt.date)
