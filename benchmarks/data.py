"""The benchmark's input: a synthetic log on disk, its cutoffs, and the feature set.

Generating 10M events takes a while and must not count towards any approach's time, so the
log is written once as Parquet under `.winback/bench/`, keyed by size and seed (and by the
generator's source, so a changed generator never serves stale data).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import features.synthetic as synthetic
from features.config import ChurnConfig
from features.spec import FeatureSet

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".winback" / "bench"

EVENT_TYPES = ("visit", "view", "add_to_cart", "purchase", "cancel")
# Kept simple on purpose: no users table, so every approach reads the same single file.
SPEC = FeatureSet(
    windows_days=(7, 14, 30, 90),
    trend_window_days=30,
    event_types=EVENT_TYPES,
    has_values=True,
    has_sessions=True,
    attributes=(),
    has_signup=False,
)
CHURN = ChurnConfig(mode="inactivity", horizon_days=30, active_window_days=60, lapsed_after_days=60)


@dataclass(frozen=True)
class Size:
    """How big a synthetic log to benchmark on."""

    users: int
    days: int
    seed: int = 42


FULL = Size(users=100_000, days=365)  # about 10M events
SMALL = Size(users=5_000, days=365)  # about 0.5M events: a quick run


@dataclass(frozen=True)
class BenchData:
    """Everything an approach needs: where the events are, and which cutoffs to build."""

    events: Path
    cutoffs: tuple[dt.date, ...]
    observed_until: dt.date
    n_events: int
    size: Size

    def facts(self) -> dict[str, Any]:
        """The log a result was measured on, as every benchmark's JSON records it."""
        return {
            "users": self.size.users,
            "days": self.size.days,
            "seed": self.size.seed,
            "events": self.n_events,
            "cutoffs": [day.isoformat() for day in self.cutoffs],
            "observed_until": self.observed_until.isoformat(),
        }


def month_start_cutoffs(
    start: dt.date, days: int, horizon_days: int, count: int = 4
) -> tuple[dt.date, ...]:
    """The last `count` month starts whose whole label window lies inside the log."""
    end = start + dt.timedelta(days=days)
    found: list[dt.date] = []
    month = dt.date(start.year, start.month, 1)
    while month + dt.timedelta(days=horizon_days) <= end:
        if month > start:
            found.append(month)
        month = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
    if not found:
        raise ValueError(f"no month start in {start} + {days} days leaves {horizon_days} days")
    return tuple(found[-count:])


def source_fingerprint(*paths: Path) -> str:
    """A short hash of source files (a folder: its .py files), to tell when a cache is stale."""
    digest = hashlib.sha1()
    for path in paths:
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


def _generator_fingerprint() -> str:
    return source_fingerprint(Path(synthetic.__file__))


def cached(
    folder: Path, stamp: Mapping[str, str], build: Callable[[Path], dict[str, Any]]
) -> dict[str, Any]:
    """`folder`'s meta.json, after rebuilding the folder unless the meta carries `stamp`.

    `build` fills a staging folder and returns what to add to the meta; the staging folder
    replaces `folder` only when complete, so an interrupted run never leaves half a file.
    Processes asking for the same folder at once (two benchmarks run in one checkout) take
    turns on a lock file beside it: one builds, the others then find its meta, and none
    removes a staging folder another is filling.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    with folder.with_name(folder.name + ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process ends
        meta_path = folder / "meta.json"
        meta: dict[str, Any] = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        if any(meta.get(key) != value for key, value in stamp.items()):
            staging = folder.with_name(folder.name + ".tmp")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            meta = {**stamp, **build(staging)}
            (staging / "meta.json").write_text(json.dumps(meta))
            shutil.rmtree(folder, ignore_errors=True)
            staging.rename(folder)
    return meta


def prepare(size: Size, cache: Path | None = None) -> BenchData:
    """Write the log once (under `cache`, else `CACHE` as it is when called); regenerated
    only when the generator's source changes."""
    cache = CACHE if cache is None else cache
    spec = synthetic.SyntheticSpec(users=size.users, days=size.days, seed=size.seed)

    def write_log(staging: Path) -> dict[str, Any]:
        log = synthetic.generate(spec)
        synthetic.write(log, staging)
        return {"n_events": len(log.events)}

    folder = cache / f"u{size.users}_d{size.days}_s{size.seed}"
    meta = cached(folder, {"generator": _generator_fingerprint()}, write_log)
    return BenchData(
        events=folder / "events.parquet",
        cutoffs=month_start_cutoffs(spec.start, spec.days, CHURN.horizon_days),
        observed_until=spec.start + dt.timedelta(days=spec.days),
        n_events=int(meta["n_events"]),
        size=size,
    )
