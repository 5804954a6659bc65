"""Synthetic user event logs with planted, known churn dynamics.

Real logs never tell us who truly churned or why, so the features and models are checked
against data whose answer is known: a few user archetypes with different habits, weekly
seasonality, signups spread over time, churners whose activity decays before they leave
(silently, or with an explicit `cancel` event), and leavers who come back after a long gap
(their events after the return are drawn from a random stream of their own, so the log up
to the returns is the same with or without them). `truth` records what was planted.

An optional `Drift` makes the log non-stationary, so drift detection and retraining can be
tested against a known answer: the churn base rate can move linearly over the log's days,
and later signups can be drawn from a different archetype and channel mix; from a given date
on, one segment's activity can fall and signups can come from a channel never seen before.
Without a drift the log is exactly what it always was, byte for byte.

Everything is drawn with numpy in whole-array steps (no loop over users or events), so
100k users x 365 days (about 10M events) takes seconds, and one seed always gives the same
bytes.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
# Some users who left come back after a long gap, as in real logs (many CDNOW customers buy
# again after months): the gap after leaving is RETURN_MIN_GAP_DAYS plus an exponential with
# mean RETURN_GAP_MEAN_DAYS, after which they are active at their old rate to the log's end.
RETURN_MIN_GAP_DAYS = 30.0
RETURN_GAP_MEAN_DAYS = 90.0
RETURN_STREAM = 1  # the returns' random stream: seeded by (seed, RETURN_STREAM)


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


DRIFT_FILE = "drift.json"
DRIFT_COLUMNS = ("churn_multiplier", "mix_weight", "activity_factor")  # truth of a drifting log
SEGMENT_LEVELS = {"plan": PLANS, "channel": CHANNELS, "region": REGIONS}


@dataclass(frozen=True)
class Drift:
    """How the log changes over its days; every default leaves that part unchanged.

    Churn: a multiplier m(t) on the churn hazard moves linearly from `churn_start` on the
    log's first day to `churn_end` at its end. A user's odds of being picked as a churner
    are multiplied by the mean of m over their active span (from signup, or the log's start,
    to its end), and a churner's leave time has density proportional to m(t) on that span,
    so the share of active users who churn within a fixed horizon rises (or falls) with m.
    `cancel_share` and `fade_share` are the shares at m = 1: they scale with the users'
    mean multiplier.

    Mix: a user who signs up a fraction w of the way through the log (w = 0 for signups
    before it) draws their archetype, and hence plan, from (1 - w) x the base shares +
    w x `late_archetype_share`, and their channel likewise from `late_channel_share`.
    Shares are in the order of ARCHETYPES and CHANNELS; None keeps the base shares.

    From `since` on (a step, where the above are gradual): the session rate of the users in
    `segment` (attribute, level), e.g. ("plan", "free"), is multiplied by
    `segment_activity`, so they look less active and more of them look churned; and every
    user who signs up on or after `since` comes from the channel `new_channel`, a level the
    log had never had. A preset with a step leaves `since` None: the log's date is given
    when it is generated (`winback generate --drift-from`).
    """

    churn_start: float = 1.0
    churn_end: float = 1.0
    late_archetype_share: tuple[float, ...] | None = None
    late_channel_share: tuple[float, ...] | None = None
    since: datetime.date | None = None
    segment: tuple[str, str] | None = None
    segment_activity: float = 1.0
    new_channel: str | None = None

    def __post_init__(self) -> None:
        rates = (self.churn_start, self.churn_end)
        if not all(np.isfinite(rates)) or min(rates) <= 0:
            raise ValueError(f"churn multipliers must be finite and > 0, got {rates}")
        for name, share, size in (
            ("late_archetype_share", self.late_archetype_share, len(ARCHETYPES)),
            ("late_channel_share", self.late_channel_share, len(CHANNELS)),
        ):
            if share is None:
                continue
            if len(share) != size or min(share) < 0 or abs(sum(share) - 1) > 1e-9:
                raise ValueError(f"{name} needs {size} shares >= 0 summing to 1, got {share}")
        if not 0 < self.segment_activity <= 1:
            raise ValueError(f"segment_activity must be in (0, 1], got {self.segment_activity}")
        if self.segment is not None:
            attribute, level = self.segment
            if level not in SEGMENT_LEVELS.get(attribute, ()):
                raise ValueError(f"segment needs (attribute, level) of {SEGMENT_LEVELS}")
        if self.new_channel is not None and (not self.new_channel or self.new_channel in CHANNELS):
            raise ValueError(f"new_channel must be a channel other than {CHANNELS}")
        if self.since is not None and not self.stepped:
            raise ValueError("since needs a segment or a new_channel to change on that day")

    @property
    def stepped(self) -> bool:
        """Whether something changes on `since` (which a log then needs)."""
        return self.segment is not None or self.new_channel is not None

    @property
    def churn_slope(self) -> float:
        """Change of the churn multiplier per unit of `fraction` of the log."""
        return self.churn_end - self.churn_start

    def churn_multiplier(self, fraction: Floats) -> Floats:
        """m at `fraction` (0 = start, 1 = end) of the log."""
        return self.churn_start + self.churn_slope * fraction

    def to_json(self) -> str:
        """The drift as JSON, shares keyed by archetype and channel name."""
        data: dict[str, Any] = {"churn_start": self.churn_start, "churn_end": self.churn_end}
        for field, labels in _SHARE_LABELS.items():
            share = getattr(self, field)
            data[field] = None if share is None else dict(zip(labels, share, strict=True))
        data["since"] = None if self.since is None else self.since.isoformat()
        segment = self.segment
        data["segment"] = (
            None if segment is None else dict(zip(_SEGMENT_KEYS, segment, strict=True))
        )
        data["segment_activity"] = self.segment_activity
        data["new_channel"] = self.new_channel
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Drift:
        """What `to_json` wrote; ValueError for anything else."""
        try:
            data = json.loads(text)
            shares = {
                field: _shares(data.pop(field), labels) for field, labels in _SHARE_LABELS.items()
            }
            churn_start, churn_end = float(data.pop("churn_start")), float(data.pop("churn_end"))
            # Drift files written before steps existed have none of these keys.
            since = data.pop("since", None)
            segment = data.pop("segment", None)
            steps: dict[str, Any] = {
                "since": None if since is None else datetime.date.fromisoformat(since),
                "segment": None if segment is None else tuple(segment[k] for k in _SEGMENT_KEYS),
                "segment_activity": float(data.pop("segment_activity", 1.0)),
                "new_channel": data.pop("new_channel", None),
            }
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"not a drift description: {error!r}") from None
        if data:
            raise ValueError(f"unknown drift fields {sorted(data)}")
        return cls(
            churn_start,
            churn_end,
            late_archetype_share=shares["late_archetype_share"],
            late_channel_share=shares["late_channel_share"],
            **steps,
        )


_SHARE_LABELS = {
    "late_archetype_share": tuple(a.name for a in ARCHETYPES),
    "late_channel_share": CHANNELS,
}
_SEGMENT_KEYS = ("attribute", "level")


def _shares(named: dict[str, float] | None, labels: tuple[str, ...]) -> tuple[float, ...] | None:
    if named is None:
        return None
    if set(named) != set(labels):
        raise ValueError(f"shares need exactly {labels}, got {sorted(named)}")
    return tuple(float(named[label]) for label in labels)


# Named drifts for `winback generate --drift`. In `churn-rise` the churn multiplier goes
# 0.5 -> 2.0, so its mean over the last quarter of the log (1.81) is 2.6 times that over the
# first (0.69), while later signups shift toward casual and bargain users (who churn more)
# and the paid channel. (It was 0.625 -> 1.625 before leavers could return; the returns
# diluted the rise until the score's PSI on 3,000 users fell from 0.11 to 0.085, below the
# warning line; now it is 0.21.) `mix-shift` is the same mix shift with the churn multiplier at 1.
# The stepped ones need a date: from it, `segment-drop` cuts the free plan's session rate to
# 30% (on 3,000 users the score's PSI a month later is 0.36, the 30-day activity features'
# 0.26-0.40), and in `new-channel` every signup comes from a channel called `influencer`.
LATE_ARCHETYPE_SHARE = (0.01, 0.09, 0.50, 0.40)
LATE_CHANNEL_SHARE = (0.30, 0.50, 0.12, 0.08)
DRIFT_PRESETS: dict[str, Drift] = {
    "churn-rise": Drift(0.5, 2.0, LATE_ARCHETYPE_SHARE, LATE_CHANNEL_SHARE),
    "mix-shift": Drift(1.0, 1.0, LATE_ARCHETYPE_SHARE, LATE_CHANNEL_SHARE),
    "segment-drop": Drift(segment=("plan", "free"), segment_activity=0.3),
    "new-channel": Drift(new_channel="influencer"),
}


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
    return_share: float = 0.3  # share of leavers who come back after a long gap
    drift: Drift | None = None  # None: the same stationary log as always

    def __post_init__(self) -> None:
        if self.users < 1 or self.days < 1:
            raise ValueError(f"need at least one user and one day, got {self.users}x{self.days}")
        shares = (self.cancel_share, self.fade_share)
        if min(shares) < 0 or sum(shares) > 1:
            raise ValueError(f"churn shares must be >= 0 and sum to <= 1, got {shares}")
        if not 0 <= self.return_share <= 1:
            raise ValueError(f"return_share must be in [0, 1], got {self.return_share}")
        if self.drift is not None and self.drift.stepped:
            since, end = self.drift.since, self.start + datetime.timedelta(days=self.days)
            if since is None or not self.start < since < end:
                raise ValueError(f"the drift's step needs a date after {self.start}, before {end}")

    @property
    def step_seconds(self) -> int:
        """When the drift's step happens, relative to `start`; the log's end if never."""
        since = None if self.drift is None else self.drift.since
        return self.days * DAY if since is None else (since - self.start).days * DAY


@dataclass(frozen=True)
class SyntheticLog:
    """The generated tables: `events` and `users` as a source would give them, `truth` planted
    (with DRIFT_COLUMNS when the log drifts), and the drift itself if there was one."""

    events: pd.DataFrame
    users: pd.DataFrame
    truth: pd.DataFrame
    drift: Drift | None = None


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
    churn_multiplier: Floats  # factor on the churn odds: mean drift multiplier while active
    mix_weight: Floats  # w of the drift's mix interpolation: 0 before the log, 1 at its end
    activity_factor: Floats  # factor on the session rate from the drift's step on
    back: Ints  # when a leaver comes back (after `leave`); the end of the period otherwise


@dataclass(frozen=True)
class _Events:
    """Regular events grouped by user (ascending), then session, then order in the session
    (a returner's sessions after the return come after those before leaving); after them one
    `cancel` event per canceller, also by user."""

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
    back_rng = np.random.default_rng([spec.seed, RETURN_STREAM])
    users = _draw_users(spec, rng, back_rng)
    events = _draw_events(spec, users, rng, back_rng)
    return _assemble(spec, users, events)


def write(log: SyntheticLog, out_dir: Path) -> dict[str, Path]:
    """Write the three tables as Parquet under `out_dir`, so benchmarks can load them as files,
    and the drift, if any, as DRIFT_FILE beside them.

    A log without a drift removes a DRIFT_FILE left in `out_dir` by an earlier log, unless its
    truth still has the drift columns: then it is that log read back and rewritten in place
    (e.g. by `simulate-campaign`), and the file still describes it.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, frame in (("events", log.events), ("users", log.users), ("truth", log.truth)):
        path = out_dir / f"{name}.parquet"
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
        paths[name] = path
    drift_path = out_dir / DRIFT_FILE
    if log.drift is not None:
        drift_path.write_text(log.drift.to_json())
        paths["drift"] = drift_path
    elif not set(DRIFT_COLUMNS) <= set(log.truth.columns):
        drift_path.unlink(missing_ok=True)
    return paths


def read(folder: Path) -> SyntheticLog:
    """What `write` wrote, e.g. to plant a campaign into a generated log."""
    frames = {}
    for name in ("events", "users", "truth"):
        path = folder / f"{name}.parquet"
        if not path.is_file():
            raise InputError(f"{path}: not found (`winback generate --out {folder}` writes it)")
        frames[name] = pd.read_parquet(path)
    drift_path = folder / DRIFT_FILE
    drift = None
    if drift_path.is_file():
        try:
            drift = Drift.from_json(drift_path.read_text())
        except ValueError as error:
            raise InputError(f"{drift_path}: {error}") from None
    return SyntheticLog(**frames, drift=drift)


def _pick(rng: np.random.Generator, probabilities: Floats, rows: Ints) -> Ints:
    """One category per row, drawn from the distribution in `probabilities[rows[i]]`."""
    return _choose(rng.random(rows.size), probabilities, rows)


def _choose(u: Floats, probabilities: Floats, rows: Ints) -> Ints:
    """`_pick` with the uniforms `u` already drawn."""
    cumulative = np.cumsum(probabilities, axis=1) / probabilities.sum(axis=1, keepdims=True)
    choice = np.zeros(rows.size, dtype=np.int64)
    for bound in cumulative[:, :-1].T:  # a loop over categories, not rows
        choice += u >= bound[rows]
    return choice


def _mixed(base: Floats, late: tuple[float, ...] | None, weight: Floats) -> tuple[Floats, Ints]:
    """Per-user category shares (base -> late as `weight` goes 0 -> 1) and rows for `_choose`."""
    if late is None:
        return base[None], np.zeros(weight.size, dtype=np.int64)
    shares = (1 - weight)[:, None] * base[None] + weight[:, None] * np.array(late)[None]
    return shares, np.arange(weight.size)


def _leave_times(u: Floats, active_from: Ints, end: int, drift: Drift | None) -> Ints:
    """Leave times on [active_from, end), uniform, or with density m(t) under a drift."""
    if drift is None or drift.churn_slope == 0:
        return active_from + (u * (end - active_from)).astype(np.int64)
    # M(t) = integral of m = m0 t + k t^2 / 2; invert it at M(lo) + u (M(end) - M(lo)).
    m0, k = drift.churn_start, drift.churn_slope / end
    lo = active_from.astype(np.float64)
    cumulative_lo = m0 * lo + k * lo**2 / 2
    target = cumulative_lo + u * (m0 * end + k * end**2 / 2 - cumulative_lo)
    t = 2 * target / (m0 + np.sqrt(np.maximum(m0**2 + 2 * k * target, 0.0)))
    return np.clip(np.floor(t).astype(np.int64), active_from, end - 1)


def _return_times(spec: SyntheticSpec, kind: Ints, leave: Ints, rng: np.random.Generator) -> Ints:
    """When each leaver comes back: `return_share` of them, after RETURN_MIN_GAP_DAYS plus an
    exponential gap; the end of the period for everyone else (and for returns after it)."""
    n, end = kind.size, spec.days * DAY
    returns = (kind != NONE) & (rng.random(n) < spec.return_share)
    gap = (RETURN_MIN_GAP_DAYS + rng.exponential(RETURN_GAP_MEAN_DAYS, size=n)) * DAY
    back = leave + gap.astype(np.int64)
    return np.where(returns & (back < end), back, end)


def _draw_users(
    spec: SyntheticSpec, rng: np.random.Generator, back_rng: np.random.Generator
) -> _Users:
    n, end, drift = spec.users, spec.days * DAY, spec.drift
    # The uniforms behind the categories come first, as they always have (so a log without a
    # drift keeps its bytes); under a drift the shares they are read against depend on the
    # signup date drawn after them.
    u_archetype, u_plan, u_channel, u_region = (rng.random(n) for _ in range(4))
    signup = np.where(
        rng.random(n) < PRE_START_SHARE,
        rng.integers(-365 * DAY, 0, size=n),
        rng.integers(0, end, size=n),
    )
    mix_weight = np.clip(signup / end, 0.0, 1.0)
    late_archetype = None if drift is None else drift.late_archetype_share
    late_channel = None if drift is None else drift.late_channel_share
    archetype = _choose(u_archetype, *_mixed(ARCH_SHARE, late_archetype, mix_weight))
    plan = _choose(u_plan, ARCH_PLAN_MIX, archetype)
    channel = _choose(u_channel, *_mixed(np.array(CHANNEL_SHARE), late_channel, mix_weight))
    if drift is not None and drift.new_channel is not None:
        channel = np.where(signup >= spec.step_seconds, len(CHANNELS), channel)
    region = _choose(u_region, np.array([REGION_SHARE]), np.zeros(n, dtype=np.int64))
    activity_factor = np.ones(n)
    if drift is not None and drift.segment is not None:
        attribute, level = drift.segment
        codes = {"plan": plan, "channel": channel, "region": region}[attribute]
        member = codes == SEGMENT_LEVELS[attribute].index(level)
        activity_factor[member] = drift.segment_activity
    rate = ARCH_SESSIONS_PER_DAY[archetype] * rng.lognormal(0.0, RATE_NOISE_SIGMA, size=n)

    # Weighted sampling without replacement (exponential keys): exact counts, skewed odds.
    # Under a drift the odds also scale with m averaged over the active span [from, end),
    # which for a linear m is m at the span's midpoint, and so do the counts.
    active_from = np.maximum(signup, 0)
    weight = ARCH_CHURN_WEIGHT[archetype] * np.array(PLAN_CHURN_WEIGHT)[plan]
    multiplier = np.ones(n)
    if drift is not None:
        multiplier = drift.churn_multiplier((active_from + end) / (2 * end))
        weight = weight * multiplier
    scale = float(multiplier.mean()) if drift is not None else 1
    n_cancel = min(round(spec.cancel_share * n * scale), n)
    n_fade = min(round(spec.fade_share * n * scale), n - n_cancel)
    by_risk = np.argsort(rng.exponential(size=n) / weight, kind="stable")
    churners = rng.permutation(by_risk[: n_cancel + n_fade])
    kind = np.full(n, NONE, dtype=np.int64)
    kind[churners[:n_cancel]] = CANCEL
    kind[churners[n_cancel:]] = FADE

    leave_draw = _leave_times(rng.random(n), active_from, end, drift)
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
        churn_multiplier=multiplier,
        mix_weight=mix_weight,
        activity_factor=activity_factor,
        back=_return_times(spec, kind, leave, back_rng),
    )


@dataclass(frozen=True)
class _Span:
    """Sessions and their events on one active span [lo, hi) per user (empty where lo >= hi),
    events grouped by user (ascending), then session, then order in the session."""

    user: Ints
    ts: Ints
    code: Ints
    value: Floats
    session: Ints  # per event: index into the session arrays
    session_user: Ints  # per session
    session_number: Ints  # per session: 0, 1, ... in time order within the user


def _span_events(
    spec: SyntheticSpec,
    users: _Users,
    rng: np.random.Generator,
    lo: Ints,
    hi: Ints,
    decay_start: Floats,
) -> _Span:
    n = spec.users
    # Session starts form a Poisson process with rate(t) = rate x weekday x decay on each user's
    # active span [lo, hi). Drawn by thinning: candidates at the peak rate, each kept with
    # probability rate(t) / peak, which costs O(sessions) instead of O(users x days).
    span = np.maximum(hi - lo, 0)
    weekday = (spec.start.weekday() + np.arange(7)) % 7
    weekday_factor = np.where(weekday >= 5, WEEKEND_FACTOR, 1.0)
    peak = weekday_factor.max()
    candidates = rng.poisson(users.rate * peak * span / DAY)
    candidate_user = np.repeat(np.arange(n), candidates)
    # Sorting user + U(0, 1) orders each user's uniforms while keeping users in order.
    fraction = np.sort(candidate_user + rng.random(candidate_user.size)) - candidate_user
    candidate_ts = np.minimum(
        np.repeat(lo, candidates) + (fraction * np.repeat(span, candidates)).astype(np.int64),
        np.repeat(hi - 1, candidates),
    )
    since_decay = candidate_ts - np.repeat(decay_start, candidates)
    decay = np.exp(-np.maximum(since_decay, 0.0) / np.repeat(users.decay_tau, candidates))
    stepped = np.where(candidate_ts >= spec.step_seconds, users.activity_factor[candidate_user], 1)
    intensity = weekday_factor[(candidate_ts // DAY) % 7] * decay * stepped
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
    cut = np.repeat(hi[session_user] - 1, per_session)
    # A session cut short by the span's end (the user leaving, the log ending) keeps one event
    # at the cut, not several identical ones that validation would rightly call duplicates.
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
    return _Span(
        user=np.repeat(session_user, per_session),
        ts=ts,
        code=code,
        value=value,
        session=np.repeat(np.arange(n_sessions), per_session),
        session_user=session_user,
        session_number=np.arange(n_sessions) - user_session_first[session_user],
    )


def _draw_events(
    spec: SyntheticSpec, users: _Users, rng: np.random.Generator, back_rng: np.random.Generator
) -> _Events:
    """Sessions up to each user's leave time (decaying for churners), a `cancel` for each
    canceller, and the sessions of users who come back after leaving (`_Users.back`), drawn
    from a stream of their own so that everything before the returns is as it always was."""
    n = spec.users
    lo = np.maximum(users.signup, 0)
    first = _span_events(spec, users, rng, lo, users.leave, users.decay_start)
    end = np.full(n, spec.days * DAY, dtype=np.int64)
    again = _span_events(spec, users, back_rng, users.back, end, np.full(n, np.inf))

    # Cancellers end their first span with one `cancel` event, alone in its own session,
    # numbered after their first span's sessions; sessions after a return come after both.
    cancellers = np.flatnonzero(users.kind == CANCEL)
    first_sessions = np.bincount(first.session_user, minlength=n)
    numbered_from = first_sessions + (users.kind == CANCEL)
    order = np.argsort(np.concatenate([first.user, again.user]), kind="stable")
    n_first = first.session_user.size
    n_sessions = n_first + again.session_user.size

    def merged(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return np.concatenate([a, b])[order]

    return _Events(
        user=np.concatenate([merged(first.user, again.user), cancellers]),
        ts=np.concatenate([merged(first.ts, again.ts), users.leave[cancellers]]),
        code=np.concatenate(
            [merged(first.code, again.code), np.full(cancellers.size, CANCEL_EVENT)]
        ),
        value=np.concatenate([merged(first.value, again.value), np.zeros(cancellers.size)]),
        session=np.concatenate(
            [
                merged(first.session, again.session + n_first),
                n_sessions + np.arange(cancellers.size),
            ]
        ),
        session_user=np.concatenate([first.session_user, again.session_user, cancellers]),
        session_number=np.concatenate(
            [
                first.session_number,
                again.session_number + numbered_from[again.session_user],
                first_sessions[cancellers],
            ]
        ),
    )


def _time_order(events: _Events, n_users: int) -> Ints:
    """Row order by (ts, user_id), ties kept in generation order, via a plain sort of keys.

    Every key is unique (ts, then a rank that rises with user and generation order), so the
    result does not depend on the sort algorithm, and sorting keys beats an argsort.
    """
    # Cancel events come after all regular events, which are grouped by user. Each user's block
    # of ranks is shifted by the user index to leave one free rank after it, which that user's
    # cancel event (if any) takes; a rank only breaks ties of ts, and nothing else of that user
    # happens at the moment they cancel, so generation order still holds.
    n_regular = events.user.size - int(np.count_nonzero(events.code == CANCEL_EVENT))
    regular_user, canceller = events.user[:n_regular], events.user[n_regular:]
    block_end = np.searchsorted(regular_user, np.arange(n_users), side="right")
    rank = np.concatenate([np.arange(n_regular) + regular_user, block_end[canceller] + canceller])
    n_ranks = n_regular + n_users
    row_of_rank = np.empty(n_ranks, dtype=np.int64)
    row_of_rank[rank] = np.arange(rank.size)
    return row_of_rank[np.sort(events.ts * n_ranks + rank) % n_ranks]


def _last_event_ts(events: _Events, before: Ints) -> Ints:
    """Each user's last event time before `before` (per user), or -1 for users without one."""
    last = np.full(before.size, -1, dtype=np.int64)
    early = events.ts < before[events.user]
    np.maximum.at(last, events.user[early], events.ts[early])
    return last


def _first_event_ts(events: _Events, after: Ints) -> Ints:
    """Each user's first event time after `after` (per user), or -1 for users without one."""
    first = np.full(after.size, np.iinfo(np.int64).max, dtype=np.int64)
    late = events.ts > after[events.user]
    np.minimum.at(first, events.user[late], events.ts[late])
    return np.where(first == np.iinfo(np.int64).max, -1, first)


def _channels(drift: Drift | None) -> tuple[str, ...]:
    """Channel names by code: a new channel, if any, is the last one."""
    new = None if drift is None else drift.new_channel
    return CHANNELS if new is None else (*CHANNELS, new)


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
            "channel": labels(_channels(spec.drift), users.channel),
            "region": labels(REGIONS, users.region),
        }
    )

    last = _last_event_ts(events, users.leave)
    churn_seconds = np.where(
        users.kind == CANCEL, users.leave, np.where(last >= 0, last, users.signup)
    )
    back = np.where(users.kind == NONE, -1, _first_event_ts(events, users.leave))
    truth_columns = {
        "user_id": user_ids,
        "archetype": labels(tuple(a.name for a in ARCHETYPES), users.archetype),
        "churn_kind": labels(CHURN_KINDS, users.kind),
        "churn_ts": pa.array(stamp(churn_seconds), mask=users.kind == NONE),
        "return_ts": pa.array(stamp(np.maximum(back, 0)), mask=back < 0),
    }
    if spec.drift is not None:
        truth_columns["churn_multiplier"] = pa.array(users.churn_multiplier)
        truth_columns["mix_weight"] = pa.array(users.mix_weight)
        truth_columns["activity_factor"] = pa.array(users.activity_factor)
    return SyntheticLog(
        events=event_table.to_pandas(),
        users=user_table.to_pandas(),
        truth=pa.table(truth_columns).to_pandas(),
        drift=spec.drift,
    )
