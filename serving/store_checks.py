"""Is a freshly materialized store version plausible enough to go live without a person
saying so? A cutoff outside the log gives no users, or no active one, and a share of active
users far from the live version's usually means a wrong cutoff or a broken input."""

from __future__ import annotations

from serving.config import ServingConfig
from serving.online_store import StoreVersion


def _active(version: StoreVersion) -> str:
    active = version.active or 0
    share = active / version.rows if version.rows else 0.0
    return f"{active:,} of {version.rows:,} users active ({share:.1%})"


def _statuses(version: StoreVersion) -> str:
    counts = version.statuses or {}
    return ", ".join(f"{status} {count:,}" for status, count in counts.items())


def _far_apart(new: float, old: float, settings: ServingConfig) -> bool:
    ratio = settings.max_active_share_ratio
    if abs(new - old) > settings.max_active_share_change:
        return True
    return not old / ratio <= new <= old * ratio


def population_problem(
    candidate: StoreVersion, live: StoreVersion | None, settings: ServingConfig
) -> str | None:
    """Why `candidate` should not replace `live` unforced, or None. A live version without
    active users (or written before statuses were recorded) is no yardstick."""
    if candidate.rows == 0:
        return f"no user has an event before the cutoff {candidate.cutoff}"
    if candidate.active == 0:
        return f"no user is active at the cutoff {candidate.cutoff} ({_statuses(candidate)})"
    if candidate.active is None or live is None or not live.active:
        return None
    new, old = candidate.active / candidate.rows, live.active / live.rows
    if not _far_apart(new, old, settings):
        return None
    return (
        f"{_active(candidate)} at the cutoff {candidate.cutoff}, against {_active(live)} in "
        f"the live version {live.version} (cutoff {live.cutoff}); allowed: within "
        f"{settings.max_active_share_change:.2f} and a factor {settings.max_active_share_ratio:g}"
    )
