"""Synthetic user event logs with planted, known churn dynamics.

Real logs never tell us who truly churned or why, so the features and models are checked
against data whose answer is known: a few user archetypes with different habits, weekly
seasonality, signups spread over time, and churners whose activity decays before they leave
(silently, or with an explicit `cancel` event). `truth` records what was planted.

Everything is drawn with numpy in whole-array steps (no loop over users or events), so
100k users x 365 days (about 10M events) takes seconds, and one seed always gives the same
bytes.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.config import InputError
from features.schema import EVENTS

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

DAY = 86_400
EVENT_TYPES = ("visit", "view", "add_to_cart", "purchase", "cancel")
VISIT, PURCHASE, CANCEL_EVENT = 0, 3, 4
PLANS = ("free", "basic", "premium")
CHANNELS = ("organic", "paid", "referral", "partner")
REGIONS = ("north", "south", "east", "west")
CHURN_KINDS = ("none", "cancel", "fade")
NONE, CANCEL, FADE = 0, 1, 2

CHANNEL_SHARE = (0.45, 0.30, 0.15, 0.10)
REGION_SHARE = (0.30, 0.25, 0.25, 0.20)
PLAN_CHURN_WEIGHT = (1.5, 1.0, 0.6)  # free users leave more, premium users less
PRE_START_SHARE = 0.6  # users who signed up in the year before `start`
RATE_NOISE_SIGMA = 0.25  # per-user lognormal spread around the archetype's session rate
WEEKEND_FACTOR = 1.3
DECAY_DAYS = (40.0, 80.0)  # how long before leaving a churner's activity starts to fade
DECAY_FOLDS = 2.0  # e-folds over the decay window: the rate is ~14% of normal at the leave time
GAP_MEAN_SECONDS = 60.0  # mean pause between two events of one session


@dataclass(frozen=True)
class Archetype:
    """One kind of user: the habits that set their activity, spending and churn risk."""

    name: str
    share: float
    sessions_per_day: float
    extra_events: float  # mean events per session after the opening visit (Poisson)
    mix: tuple[float, float, float]  # P(view), P(add_to_cart), P(purchase) after the visit
    value_median: float  # purchase amounts are lognormal around this median
    value_sigma: float
    churn_weight: float  # relative odds of being picked as a churner
    plan_mix: tuple[float, float, float]  # P(free), P(basic), P(premium)


ARCHETYPES: tuple[Archetype, ...] = (
    Archetype("power", 0.03, 1.00, 2.0, (0.60, 0.25, 0.15), 60.0, 0.5, 0.3, (0.15, 0.35, 0.50)),
    Archetype("regular", 0.20, 0.35, 1.2, (0.70, 0.20, 0.10), 45.0, 0.5, 0.8, (0.35, 0.45, 0.20)),
    Archetype("casual", 0.45, 0.15, 1.0, (0.80, 0.15, 0.05), 30.0, 0.6, 1.4, (0.65, 0.30, 0.05)),
    Archetype("bargain", 0.32, 0.08, 1.0, (0.50, 0.30, 0.20), 15.0, 0.6, 1.4, (0.55, 0.40, 0.05)),
)

ARCH_SHARE = np.array([a.share for a in ARCHETYPES])
ARCH_SESSIONS_PER_DAY = np.array([a.sessions_per_day for a in ARCHETYPES])
ARCH_EXTRA_EVENTS = np.array([a.extra_events for a in ARCHETYPES])
ARCH_MIX = np.array([a.mix for a in ARCHETYPES])
ARCH_VALUE_MEDIAN = np.array([a.value_median for a in ARCHETYPES])
ARCH_VALUE_SIGMA = np.array([a.value_sigma for a in ARCHETYPES])
ARCH_CHURN_WEIGHT = np.array([a.churn_weight for a in ARCHETYPES])
ARCH_PLAN_MIX = np.array([a.plan_mix for a in ARCHETYPES])


# The log is written in canonical column names, so a config maps each name to itself.
EVENT_COLUMNS: dict[str, str] = {name: name for name in EVENTS.names}


@dataclass(frozen=True)
class SyntheticSpec:
    """Size, seed and churn mix of one synthetic log; the same spec always gives the same log."""

    users: int
    days: int
    seed: int = 0
    start: datetime.date = datetime.date(2025, 1, 1)
    cancel_share: float = 0.15  # share of users who leave with an explicit `cancel` event
    fade_share: float = 0.35  # share of users who just fade out (decay then silence)

    def __post_init__(self) -> None:
        if self.users < 1 or self.days < 1:
            raise ValueError(f"need at least one user and one day, got {self.users}x{self.days}")
        shares = (self.cancel_share, self.fade_share)
        if min(shares) < 0 or sum(shares) > 1:
            raise ValueError(f"churn shares must be >= 0 and sum to <= 1, got {shares}")


@dataclass(frozen=True)
class SyntheticLog:
    """The generated tables: `events` and `users` as a source would give them, `truth` planted."""

    events: pd.DataFrame
    users: pd.DataFrame
    truth: pd.DataFrame


@dataclass(frozen=True)
class _Users:
    """Per-user draws; times are whole seconds relative to `spec.start`."""

    archetype: Ints
    plan: Ints
    channel: Ints
    region: Ints
    signup: Ints
    rate: Floats  # sessions per day before any weekday or decay factor
    kind: Ints  # NONE, CANCEL or FADE
    leave: Ints  # leave time for churners, end of the period otherwise
    decay_start: Floats  # +inf for users who stay
    decay_tau: Floats  # e-folding time of the decay, seconds


@dataclass(frozen=True)
class _Events:
    """Regular events grouped by user (ascending), then session, then order in the session;
    after them one `cancel` event per canceller, also by user."""

    user: Ints
    ts: Ints
    code: Ints
    value: Floats
    session: Ints  # index into the session tables below
    session_user: Ints
    session_number: Ints  # k in f"{user_id}-{k}", chronological within the user


def generate(spec: SyntheticSpec) -> SyntheticLog:
    """Draw a full synthetic log for `spec`; deterministic in `spec.seed`."""
    rng = np.random.default_rng(spec.seed)
    users = _draw_users(spec, rng)
    events = _draw_events(spec, users, rng)
    return _assemble(spec, users, events)


def write(log: SyntheticLog, out_dir: Path) -> dict[str, Path]:
    """Write the three tables as Parquet under `out_dir`, so benchmarks can load them as files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, frame in (("events", log.events), ("users", log.users), ("truth", log.truth)):
        path = out_dir / f"{name}.parquet"
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
        paths[name] = path
    return paths


def read(folder: Path) -> SyntheticLog:
    """The three tables `write` wrote, e.g. to plant a campaign into a generated log."""
    frames = {}
    for name in ("events", "users", "truth"):
        path = folder / f"{name}.parquet"
        if not path.is_file():
            raise InputError(f"{path}: not found (`winback generate --out {folder}` writes it)")
        frames[name] = pd.read_parquet(path)
    return SyntheticLog(**frames)


def _pick(rng: np.random.Generator, probabilities: Floats, rows: Ints) -> Ints:
    """One category per row, drawn from the distribution in `probabilities[rows[i]]`."""
    cumulative = np.cumsum(probabilities, axis=1) / probabilities.sum(axis=1, keepdims=True)
    u = rng.random(rows.size)
    choice = np.zeros(rows.size, dtype=np.int64)
    for bound in cumulative[:, :-1].T:  # a loop over categories, not rows
        choice += u >= bound[rows]
    return choice


def _draw_users(spec: SyntheticSpec, rng: np.random.Generator) -> _Users:
    n, end = spec.users, spec.days * DAY
    everyone = np.zeros(n, dtype=np.int64)
    archetype = _pick(rng, ARCH_SHARE[None], everyone)
    plan = _pick(rng, ARCH_PLAN_MIX, archetype)
    channel = _pick(rng, np.array([CHANNEL_SHARE]), everyone)
    region = _pick(rng, np.array([REGION_SHARE]), everyone)
    signup = np.where(
        rng.random(n) < PRE_START_SHARE,
        rng.integers(-365 * DAY, 0, size=n),
        rng.integers(0, end, size=n),
    )
    rate = ARCH_SESSIONS_PER_DAY[archetype] * rng.lognormal(0.0, RATE_NOISE_SIGMA, size=n)

    # Weighted sampling without replacement (exponential keys): exact counts, skewed odds.
    weight = ARCH_CHURN_WEIGHT[archetype] * np.array(PLAN_CHURN_WEIGHT)[plan]
    n_cancel = round(spec.cancel_share * n)
    n_fade = min(round(spec.fade_share * n), n - n_cancel)
    by_risk = np.argsort(rng.exponential(size=n) / weight, kind="stable")
    churners = rng.permutation(by_risk[: n_cancel + n_fade])
    kind = np.full(n, NONE, dtype=np.int64)
    kind[churners[:n_cancel]] = CANCEL
    kind[churners[n_cancel:]] = FADE

    active_from = np.maximum(signup, 0)
    leave_draw = active_from + (rng.random(n) * (end - active_from)).astype(np.int64)
    leave = np.where(kind == NONE, end, leave_draw)
    decay_len = rng.uniform(*DECAY_DAYS, size=n) * DAY
    decay_start = np.where(kind == NONE, np.inf, leave - decay_len)
    return _Users(
        archetype=archetype,
        plan=plan,
        channel=channel,
        region=region,
        signup=signup,
        rate=rate,
        kind=kind,
        leave=leave,
        decay_start=decay_start,
        decay_tau=decay_len / DECAY_FOLDS,
    )


def _draw_events(spec: SyntheticSpec, users: _Users, rng: np.random.Generator) -> _Events:
    n = spec.users
    # Session starts form a Poisson process with rate(t) = rate x weekday x decay on each user's
    # active span [lo, hi). Drawn by thinning: candidates at the peak rate, each kept with
    # probability rate(t) / peak, which costs O(sessions) instead of O(users x days).
    lo = np.maximum(users.signup, 0)
    span = np.maximum(users.leave - lo, 0)
    weekday = (spec.start.weekday() + np.arange(7)) % 7
    weekday_factor = np.where(weekday >= 5, WEEKEND_FACTOR, 1.0)
    peak = weekday_factor.max()
    candidates = rng.poisson(users.rate * peak * span / DAY)
    candidate_user = np.repeat(np.arange(n), candidates)
    # Sorting user + U(0, 1) orders each user's uniforms while keeping users in order.
    fraction = np.sort(candidate_user + rng.random(candidate_user.size)) - candidate_user
    candidate_ts = np.minimum(
        np.repeat(lo, candidates) + (fraction * np.repeat(span, candidates)).astype(np.int64),
        np.repeat(users.leave - 1, candidates),
    )
    since_decay = candidate_ts - np.repeat(users.decay_start, candidates)
    decay = np.exp(-np.maximum(since_decay, 0.0) / np.repeat(users.decay_tau, candidates))
    intensity = weekday_factor[(candidate_ts // DAY) % 7] * decay
    kept = np.flatnonzero(rng.random(candidate_user.size) * peak < intensity)
    session_user, session_start = candidate_user[kept], candidate_ts[kept]
    session_arch = users.archetype[session_user]
    n_sessions = session_user.size
    # Fading users also do less per session.
    per_session = 1 + rng.poisson(ARCH_EXTRA_EVENTS[session_arch] * decay[kept])

    # Events of a session follow its opening visit at positive gaps.
    n_events = int(per_session.sum())
    session_first = np.cumsum(per_session) - per_session
    position = np.arange(n_events) - np.repeat(session_first, per_session)
    gap = np.floor(rng.exponential(GAP_MEAN_SECONDS, size=n_events)) + 1
    elapsed = np.cumsum(np.where(position > 0, gap, 0.0)).astype(np.int64)
    offset = elapsed - np.repeat(elapsed[session_first], per_session)
    planned = np.repeat(session_start, per_session) + offset
    cut = np.repeat(users.leave[session_user] - 1, per_session)
    # A session cut short by the user leaving (or the log ending) keeps one event at the
    # cut, not several identical ones that validation would rightly call duplicates.
    beyond = planned > cut
    keep = ~(beyond & np.r_[False, beyond[:-1]] & (position > 0))
    session_of_event = np.repeat(np.arange(n_sessions), per_session)
    per_session = np.bincount(session_of_event[keep], minlength=n_sessions)
    position = position[keep]
    ts = np.minimum(planned, cut)[keep]
    n_events = int(per_session.sum())

    event_arch = np.repeat(session_arch, per_session)
    code = np.where(position > 0, 1 + _pick(rng, ARCH_MIX, event_arch), VISIT)
    bought = np.flatnonzero(code == PURCHASE)
    value = np.zeros(n_events)
    spread = ARCH_VALUE_SIGMA[event_arch[bought]] * rng.standard_normal(bought.size)
    value[bought] = np.round(ARCH_VALUE_MEDIAN[event_arch[bought]] * np.exp(spread), 2)

    # Sessions are in (user, start) order, so numbering them within users is chronological.
    sessions_of_user = np.bincount(session_user, minlength=n)
    user_session_first = np.cumsum(sessions_of_user) - sessions_of_user
    session_number = np.arange(n_sessions) - user_session_first[session_user]

    # Cancellers end with one `cancel` event, alone in its own last session.
    cancellers = np.flatnonzero(users.kind == CANCEL)
    return _Events(
        user=np.concatenate([np.repeat(session_user, per_session), cancellers]),
        ts=np.concatenate([ts, users.leave[cancellers]]),
        code=np.concatenate([code, np.full(cancellers.size, CANCEL_EVENT)]),
        value=np.concatenate([value, np.zeros(cancellers.size)]),
        session=np.concatenate(
            [np.repeat(np.arange(n_sessions), per_session), n_sessions + np.arange(cancellers.size)]
        ),
        session_user=np.concatenate([session_user, cancellers]),
        session_number=np.concatenate([session_number, sessions_of_user[cancellers]]),
    )


def _time_order(events: _Events, n_users: int) -> Ints:
    """Row order by (ts, user_id), ties kept in generation order, via a plain sort of keys.

    Every key is unique (ts, then a rank that rises with user and generation order), so the
    result does not depend on the sort algorithm, and sorting keys beats an argsort.
    """
    # Cancel events come after all regular events, which are grouped by user. Each user's block
    # of ranks is shifted by the user index to leave one free rank after it, which that user's
    # cancel event (if any) takes; it is their latest event, so generation order still holds.
    n_regular = events.user.size - int(np.count_nonzero(events.code == CANCEL_EVENT))
    regular_user, canceller = events.user[:n_regular], events.user[n_regular:]
    block_end = np.searchsorted(regular_user, np.arange(n_users), side="right")
    rank = np.concatenate([np.arange(n_regular) + regular_user, block_end[canceller] + canceller])
    n_ranks = n_regular + n_users
    row_of_rank = np.empty(n_ranks, dtype=np.int64)
    row_of_rank[rank] = np.arange(rank.size)
    return row_of_rank[np.sort(events.ts * n_ranks + rank) % n_ranks]


def _last_event_ts(events: _Events, n_users: int) -> Ints:
    """Each user's last event time, or -1 for users without events."""
    last = np.full(n_users, -1, dtype=np.int64)
    np.maximum.at(last, events.user, events.ts)
    return last


def _assemble(spec: SyntheticSpec, users: _Users, events: _Events) -> SyntheticLog:
    n = spec.users
    origin = np.datetime64(spec.start, "us")

    def stamp(seconds: Ints) -> npt.NDArray[np.datetime64]:
        return origin + seconds.astype("timedelta64[s]").astype("timedelta64[us]")

    def labels(names: tuple[str, ...], codes: Ints) -> pa.Array:
        return pa.array(names, type=pa.string()).take(pa.array(codes))

    digits = pc.cast(pa.array(np.arange(1, n + 1)), pa.string())
    user_ids = pc.binary_join_element_wise(
        "u", pc.utf8_lpad(digits, max(7, len(str(n))), padding="0"), ""
    )
    session_ids = pc.binary_join_element_wise(
        user_ids.take(pa.array(events.session_user)),
        pc.cast(pa.array(events.session_number), pa.string()),
        "-",
    )

    order = _time_order(events, n)
    event_table = pa.table(
        {
            "user_id": user_ids.take(pa.array(events.user[order])),
            "ts": pa.array(stamp(events.ts[order])),
            "event": labels(EVENT_TYPES, events.code[order]),
            "value": pa.array(events.value[order]),
            "session_id": session_ids.take(pa.array(events.session[order])),
        }
    )
    user_table = pa.table(
        {
            "user_id": user_ids,
            "signup_ts": pa.array(stamp(users.signup)),
            "plan": labels(PLANS, users.plan),
            "channel": labels(CHANNELS, users.channel),
            "region": labels(REGIONS, users.region),
        }
    )

    last = _last_event_ts(events, n)
    churn_seconds = np.where(
        users.kind == CANCEL, users.leave, np.where(last >= 0, last, users.signup)
    )
    truth_table = pa.table(
        {
            "user_id": user_ids,
            "archetype": labels(tuple(a.name for a in ARCHETYPES), users.archetype),
            "churn_kind": labels(CHURN_KINDS, users.kind),
            "churn_ts": pa.array(stamp(churn_seconds), mask=users.kind == NONE),
        }
    )
    return SyntheticLog(
        events=event_table.to_pandas(),
        users=user_table.to_pandas(),
        truth=truth_table.to_pandas(),
    )
