"""The benchmark's input: a synthetic log on disk, its cutoffs, and the feature set.

Generating 10M events takes a while and must not count towards any approach's time, so the
log is written once as Parquet under `.winback/bench/`, keyed by size and seed (and by the
generator's source, so a changed generator never serves stale data).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

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


def _generator_fingerprint() -> str:
    return hashlib.sha1(Path(synthetic.__file__).read_bytes()).hexdigest()[:12]


def prepare(size: Size, cache: Path = CACHE) -> BenchData:
    """Write the log once (atomically, so an interrupted run never leaves half a file)."""
    spec = synthetic.SyntheticSpec(users=size.users, days=size.days, seed=size.seed)
    folder = cache / f"u{size.users}_d{size.days}_s{size.seed}"
    meta_path = folder / "meta.json"
    fingerprint = _generator_fingerprint()
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if meta.get("generator") != fingerprint:
        staging = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        log = synthetic.generate(spec)
        synthetic.write(log, staging)
        meta = {"generator": fingerprint, "n_events": len(log.events)}
        (staging / "meta.json").write_text(json.dumps(meta))
        del log
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    return BenchData(
        events=folder / "events.parquet",
        cutoffs=month_start_cutoffs(spec.start, spec.days, CHURN.horizon_days),
        observed_until=spec.start + dt.timedelta(days=spec.days),
        n_events=int(meta["n_events"]),
        size=size,
    )
