"""Features of every user as of one cutoff, into a new online store version.

The version goes live (`CURRENT`) only after two checks, so a worker never picks up a store
its model cannot read: the config's feature definition must be the champion's (checked
before any computing), and the new version's users must be plausible (`store_checks`).
Either can be overridden with `force`; what it let through is then said through `warn`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import ibis.expr.types as ir

from artifact.compatibility import check
from artifact.model import ModelMetadata
from artifact.registry import champion_version, load_version
from artifact.tracking import TrackingStore
from core.config import DatasetConfig, WinbackError
from features.definition import feature_definition
from features.engine import Engine
from features.loading import Progress, canonical_events, prepare
from features.pipeline import observed_until, snapshots
from features.snapshots import catalog
from features.spec import feature_set
from serving.online_store import NoStoreError, Store, StoreVersion, open_store
from serving.store_checks import population_problem

Warn = Callable[[str], None]


class StoreRefusedError(WinbackError):
    """A new store version failed a check before going live; `CURRENT` was not moved."""


@dataclass(frozen=True)
class Champion:
    """The registered model a new store version must fit."""

    name: str
    version: str
    metadata: ModelMetadata


def load_champion(tracking: TrackingStore, name: str) -> Champion | None:
    """None when the registry has no champion for `name` yet."""
    version = champion_version(tracking, name)
    if version is None:
        return None
    return Champion(name, version, load_version(tracking, name, version).metadata)


def resolve_cutoff(text: str, config: DatasetConfig, engine: Engine) -> dt.date:
    """`latest` = the day after the last event (all that is known); `now` = today (UTC)."""
    if text == "now":
        return dt.datetime.now(dt.UTC).date()
    if text == "latest":
        return observed_until(canonical_events(engine, prepare(config, engine)))
    return dt.date.fromisoformat(text)


def _live(store: Store) -> StoreVersion | None:
    """None only when there is no live version yet; an unreachable store is an error."""
    try:
        return store.current()
    except NoStoreError:
        return None


def _refuse(problem: str, live: StoreVersion | None, force: bool, warn: Warn) -> None:
    if force:
        warn(f"{problem}; published anyway (--force)")
        return
    kept = f"CURRENT still names {live.version}" if live else "no version is live"
    raise StoreRefusedError(f"{problem}; {kept}; pass --force to publish it anyway")


def _log_span(events: ir.Table) -> str:
    first, last = events.ts.min().to_pyarrow().as_py(), events.ts.max().to_pyarrow().as_py()
    return f"the log covers {first:%Y-%m-%d} to {last:%Y-%m-%d}" if first else "the log is empty"


def materialize(
    config: DatasetConfig,
    engine: Engine,
    cutoff: dt.date,
    progress: Progress | None = None,
    champion: Champion | None = None,
    force: bool = False,
    warn: Warn | None = None,
) -> StoreVersion:
    """Write and publish a store version; `StoreRefusedError` (nothing published) if a check
    fails unforced. Without a champion only the population is checked."""
    say = progress or (lambda _message: None)
    tell = warn or (lambda _message: None)
    store = open_store(config)
    live = _live(store)
    definition = feature_definition(config)
    features = catalog(feature_set(config))
    if champion is not None:
        fit = check(champion.metadata, definition, [feature.name for feature in features])
        who = f"champion {champion.name} v{champion.version}"
        if fit.unknown:
            tell(f"{fit.unknown}: the store is not checked against {who}")
        if not fit.compatible:
            _refuse(f"this config does not fit {who}: {fit.describe()}", live, force, tell)
    table, prepared = snapshots(config, engine, [cutoff], progress=progress)
    say(f"computing features as of {cutoff}")
    arrow = engine.con.to_pyarrow(table)
    say("writing the online store")
    written = store.write(arrow, cutoff, features, definition, progress=say)
    problem = population_problem(written, live, config.serving)
    if problem is not None:
        span = _log_span(canonical_events(engine, prepared))
        try:
            _refuse(f"{problem}; {span}", live, force, tell)
        except StoreRefusedError:
            store.discard(written)
            raise
    store.publish(written)
    return written
