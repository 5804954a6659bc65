"""Features of every user as of one cutoff, into a new online store version."""

from __future__ import annotations

import datetime as dt

from core.config import DatasetConfig
from features.engine import Engine
from features.loading import Progress, canonical_events, prepare
from features.pipeline import observed_until, snapshots
from features.snapshots import catalog
from features.spec import feature_set
from serving.online_store import StoreVersion, store_root, write_version


def resolve_cutoff(text: str, config: DatasetConfig, engine: Engine) -> dt.date:
    """`latest` = the day after the last event (all that is known); `now` = today (UTC)."""
    if text == "now":
        return dt.datetime.now(dt.UTC).date()
    if text == "latest":
        return observed_until(canonical_events(engine, prepare(config, engine)))
    return dt.date.fromisoformat(text)


def materialize(
    config: DatasetConfig, engine: Engine, cutoff: dt.date, progress: Progress | None = None
) -> StoreVersion:
    say = progress or (lambda _message: None)
    table, _ = snapshots(config, engine, [cutoff], progress=progress)
    say(f"computing features as of {cutoff}")
    arrow = engine.con.to_pyarrow(table)
    say("writing the online store")
    return write_version(store_root(config), arrow, cutoff, catalog(feature_set(config)))
