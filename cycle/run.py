"""One day of the win-back loop, start to end, safe to run again and to kill at any point.

Steps for a day D (features and scores as of D: events before it):
1. validate what is new in the sources (`features.loading.prepare`);
2. materialize the online store as of D (the live version is reused if it already is);
3. score every user with the champion, into the prediction ledger;
4. decide the recall list (`decide`, with `triggers`), write it and the day's segments
   (each file renamed into place), then record the contacts and the day as decided in one
   transaction: from here on nothing decided can be lost;
5. deliver: the day's outbox file per channel, then every pending webhook contact (of any
   day), per channel (`webhook`);
6. review every campaign whose window (or a durable outcome's horizon) has closed by D;
7. record the day as done with its summary.
A day recorded as done is not run again: running it again only retries pending deliveries
(and, with none pending, writes nothing at all). A day decided but not done (a crash, a
kill) resumes at step 5 from what was recorded. Everything is under `<workdir>/cycle/`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from artifact.tracking import TrackingStore, resolve_store
from core.config import ConfigError, DatasetConfig, InputError
from cycle import outbox, reviews, webhook
from cycle.decide import contacts, day_policy, decide_day
from cycle.files import write_atomic, write_text_atomic
from cycle.lock import held
from cycle.state import DECIDED, DELIVERED, DONE, PENDING, WITHDRAWN, State
from cycle.triggers import entered, segments_today
from features.engine import Engine
from features.loading import Prepared, canonical_events, prepare
from recall.contacts import read_opt_outs
from recall.durable import Durability
from recall.policy import CONTACT_CHANNELS, NO_CHANNEL, load_policy
from recall.review import ALL
from recall.selection import skipped_counts
from recall.tracking import log_review
from serving.batch import score_all
from serving.ledger import Entry, ledger_root, record
from serving.ledger_tracking import log_entry
from serving.materialize import load_champion, materialize
from serving.model_source import Serving, ServingSource
from serving.online_store import StoreError, open_store, read_all
from uplift.registry import champions, prefix_of

Say = Callable[[str], None]
OK, PENDING_EXIT = 0, 1  # exit codes: done; done but deliveries pending (retried next cycle)


@dataclass(frozen=True)
class Paths:
    root: Path

    @property
    def lock(self) -> Path:
        return self.root / "cycle.lock"

    @property
    def state(self) -> Path:
        return self.root / "cycle.sqlite"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def reviews(self) -> Path:
        return self.root / "reviews"

    @property
    def contacts(self) -> Path:
        return self.root / "contacts.csv"

    def day(self, day: dt.date) -> Path:
        return self.root / "days" / day.isoformat()


def cycle_paths(config: DatasetConfig) -> Paths:
    return Paths(config.workdir_path / "cycle")


@dataclass
class CycleResult:
    day: dt.date
    summary: dict[str, Any]  # what summary.json holds: no clock times, so reruns are identical
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step of this run
    already_done: bool = False

    @property
    def pending(self) -> int:
        return sum(self.summary.get("pending", {}).values())

    @property
    def exit_code(self) -> int:
        return PENDING_EXIT if self.pending else OK


@dataclass
class _Clock:
    timings: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start


def run_cycle(
    config: DatasetConfig,
    policy_path: Path,
    day: dt.date,
    engine: Engine,
    progress: Say | None = None,
    sleep: webhook.Sleep = webhook.wait,
) -> CycleResult:
    """The day's cycle under the workdir's lock (`CycleBusyError` if another one runs)."""
    paths = cycle_paths(config)
    with held(paths.lock):
        state = State(paths.state)
        try:
            return _Cycle(config, policy_path, day, engine, progress, sleep, paths, state).run()
        finally:
            state.close()


class _Cycle:
    def __init__(
        self,
        config: DatasetConfig,
        policy_path: Path,
        day: dt.date,
        engine: Engine,
        progress: Say | None,
        sleep: webhook.Sleep,
        paths: Paths,
        state: State,
    ) -> None:
        self.config = config
        self.day = day
        self.engine = engine
        self.paths = paths
        self.state = state
        self.say: Say = progress or (lambda _message: None)
        self.sleep = sleep
        self.policy = load_policy(policy_path)
        self.prefix = config.cycle.campaign_prefix or config.name
        self.durability = Durability(
            lapsed_days=config.churn.lapsed_after_days,
            days=tuple(config.cycle.durable_days),
            active_days=config.cycle.active_days,
            value_days=config.cycle.value_days,
        )
        self.clock = _Clock()
        unknown = sorted(set(config.cycle.webhooks) - set(CONTACT_CHANNELS))
        if unknown:
            raise ConfigError(
                f"cycle.webhooks: {unknown[0]!r} is not a channel; channels: "
                f"{', '.join(CONTACT_CHANNELS)}"
            )

    def run(self) -> CycleResult:
        stage = self.state.stage(self.day)
        latest = self.state.latest_day()
        if stage is None and latest is not None and self.day < latest:
            raise InputError(
                f"{self.day} is before the last cycle's day {latest}: cycles run forward "
                "(a day that ran may be run again)"
            )
        if stage == DONE:
            return self._again()
        if stage == DECIDED:
            self.say(f"resuming {self.day}: decided before, not yet done")
            summary = json.loads(self.state.summary(self.day) or "{}")
            prepared = self._validate()
        else:
            prepared = self._validate()
            summary = self._decide(prepared)
        summary["outbox"] = self._outbox()
        summary["webhooks"] = self._webhooks()
        summary["reviews"], summary["pooled"] = self._reviews(prepared)
        summary["pending"] = self.state.pending_counts()
        text = json.dumps(summary, indent=2, default=str) + "\n"
        self.state.mark_done(self.day, text)
        write_text_atomic(self.paths.day(self.day) / "summary.json", text)
        self._history()
        self._timings()
        return CycleResult(self.day, summary, self.clock.timings)

    def _again(self) -> CycleResult:
        """A finished day: only pending deliveries are retried; nothing else is touched."""
        summary = json.loads(self.state.summary(self.day) or "{}")
        if not self.state.pending_counts():
            return CycleResult(self.day, summary, already_done=True)
        summary["webhooks"] = self._webhooks()
        summary["pending"] = self.state.pending_counts()
        text = json.dumps(summary, indent=2, default=str) + "\n"
        self.state.mark_done(self.day, text)
        write_text_atomic(self.paths.day(self.day) / "summary.json", text)
        self._history()
        return CycleResult(self.day, summary, self.clock.timings, already_done=True)

    # 1-4

    def _validate(self) -> Prepared:
        with self.clock.step("validate"):
            self.say("validating what is new in the sources")
            return prepare(self.config, self.engine, progress=self.say)

    def _tracking(self) -> TrackingStore:
        return resolve_store(self.config)

    def _decide(self, prepared: Prepared) -> dict[str, Any]:
        tracking = self._tracking()
        with self.clock.step("materialize"):
            self._materialize(tracking)
        with self.clock.step("score"):
            serving, scores = self._score(tracking)
            store = read_all(serving.store.version)
        with self.clock.step("decide"):
            self.say("deciding the recall list")
            day = self.day
            policy = day_policy(self.policy, self.prefix, day)
            today = segments_today(scores, policy)
            previous = self.state.previous_day(day)
            before = None
            if previous is not None:
                before = pd.read_parquet(self.paths.day(previous) / "segments.parquet")
            triggered = entered(today, before)
            history = self.state.history_before(day)
            models = champions(tracking, prefix_of(self.config))
            decided, listed = decide_day(scores, store, policy, models, history, triggered)
            folder = self.paths.day(day)
            write_atomic(folder / "segments.parquet", lambda p: today.to_parquet(p, index=False))
            write_atomic(folder / "recall.csv", lambda p: listed.to_csv(p, index=False))
            summary = _decided_summary(day, serving, prepared, scores, today)
            summary["entered"] = _counts(today.segment[triggered.to_numpy()])
            summary["decided"] = _per_campaign(listed)
            summary["uplift_models"] = sorted(champion.label for champion in models.values())
            summary["skipped"] = {str(k): int(v) for k, v in skipped_counts(decided).items()}
            self.state.record_decided(
                day,
                contacts(listed, day),
                set(self.config.cycle.webhooks),
                json.dumps(summary, default=str),
            )
        return summary

    def _materialize(self, tracking: TrackingStore) -> None:
        """The store as of the day, unless the live one already is (a resumed day)."""
        config = self.config
        champion = load_champion(tracking, config.model.name)
        if champion is None:
            raise InputError(
                f"model {config.model.name!r} has no champion: `winback train` one first"
            )
        if _live_cutoff(config) != self.day.isoformat():
            self.say(f"materializing the online store as of {self.day}")
            materialize(config, self.engine, self.day, progress=self.say, champion=champion)

    def _score(self, tracking: TrackingStore) -> tuple[Serving, pd.DataFrame]:
        """Every user scored by the champion (`winback score`'s checks), into the ledger."""
        self.say("scoring every user with the champion")
        config = self.config
        source = ServingSource(tracking, config.model.name, open_store(config))
        source.refresh()
        serving = source.current
        assert serving is not None
        scores = score_all(serving)
        entry = Entry(serving.name, serving.version, serving.store.version.version, self.day)
        log_entry(tracking, entry, record(ledger_root(config), scores, entry), scores)
        return serving, scores

    # 5

    def _channels(self) -> list[str]:
        return sorted({s.channel for s in self.policy.strategies if s.channel != NO_CHANNEL})

    def _outbox(self) -> dict[str, int]:
        with self.clock.step("deliver"):
            made = self.state.contacts("day = ?", (self.day.isoformat(),))
            written = outbox.write_day(self.paths.outbox, self.day, made, self._channels())
            self.state.mark_outbox(self.day)
        return written

    def _webhooks(self) -> dict[str, dict[str, Any]]:
        hooks = self.config.cycle.webhooks
        if not hooks:
            return {}
        with self.clock.step("deliver"):
            said_no = read_opt_outs(self.policy.opt_outs)
            opted_out = set(zip(said_no.user_id, said_no.channel, strict=True))
            results = {}
            for channel, hook in sorted(hooks.items()):
                self.say(f"delivering {channel} to {hook.url}")
                done = webhook.deliver(self.state, channel, hook, opted_out, self.sleep)
                results[channel] = {
                    "delivered": done.delivered,
                    "pending": done.pending,
                    "withdrawn": done.withdrawn,
                    "error": done.error,
                }
        return results

    # 6

    def _reviews(self, prepared: Prepared) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        window = self.config.cycle.review_window_days
        with self.clock.step("review"):
            days = [d for d in self.state.days() if d <= self.day]
            todo = reviews.due(
                days, self.state.reviewed(), self.day, window, reviews.stages(self.durability)
            )
            if not todo:
                return [], None
            events = canonical_events(self.engine, prepared)
            tracking = self._tracking()
            written = []
            for item in todo:
                listed = reviews.read_list(self.paths.day(item.campaign_day) / "recall.csv")
                if not listed.empty:
                    self.say(f"reviewing the campaigns of {item.campaign_day}")
                    name = f"{self.prefix}-{item.campaign_day}"
                    folder = self.paths.reviews / item.campaign_day.isoformat()
                    result, files = reviews.review_list(
                        events,
                        self.config.churn,
                        listed,
                        name,
                        item.campaign_day,
                        window,
                        self.day,
                        self.durability,
                        folder,
                        self.config.cycle.review_charts,
                    )
                    log_review(result, files, tracking, f"{self.config.name}-reviews")
                    written.append(_review_summary(item, listed, result.table, files.folder))
                self.state.record_review(item.campaign_day, item.stages, self.day)
            pooled = self._pooled(events) if written else None
        return written, pooled

    def _pooled(self, events: ir.Table) -> dict[str, Any] | None:
        window = self.config.cycle.review_window_days
        closed = [d for d, done in sorted(self.state.reviewed().items()) if 0 in done]
        lists = [reviews.read_list(self.paths.day(d) / "recall.csv") for d in closed]
        listed = pd.concat([frame for frame in lists if not frame.empty], ignore_index=True)
        if listed.empty:
            return None
        result, files = reviews.review_list(
            events,
            self.config.churn,
            listed,
            f"{self.prefix}-{reviews.POOLED}",
            closed[0],
            window,
            self.day,
            self.durability,
            self.paths.reviews / reviews.POOLED,
            self.config.cycle.review_charts,
        )
        return {
            "campaign_days": [str(closed[0]), str(closed[-1])],
            "report": str(files.html),
            "returns": _records(result.table, RETURN_FIELDS),
            "durable": _records(result.durable, DURABLE_FIELDS),
        }

    # 7

    def _history(self) -> None:
        """contacts.csv: the contact history (what `recall.contacts` reads, and more)."""
        made = self.state.contacts()
        sent = made["outbox_at"].notna() & ~made["webhook"].isin([PENDING, WITHDRAWN])
        status = pd.Series("pending", index=made.index).mask(sent, "sent")
        status = status.mask(made["webhook"] == WITHDRAWN, "withdrawn")
        sent_at = made["webhook_at"].where(made["webhook"] == DELIVERED, made["outbox_at"])
        history = pd.DataFrame(
            {
                "user_id": made["user_id"],
                "channel": made["channel"],
                "contacted_at": made["day"] + "T00:00:00Z",
                "offer": made["offer"],
                "campaign_id": made["campaign_id"],
                "strategy": made["strategy"],
                "idempotency_key": made["key"],
                "status": status,
                "sent_at": sent_at.where(status == "sent"),
            }
        )
        write_atomic(self.paths.contacts, lambda p: history.to_csv(p, index=False))

    def _timings(self) -> None:
        text = json.dumps({k: round(v, 3) for k, v in self.clock.timings.items()}, indent=2)
        write_text_atomic(self.paths.day(self.day) / "timings.json", text + "\n")


def _live_cutoff(config: DatasetConfig) -> str | None:
    try:
        return open_store(config).current().cutoff
    except StoreError:
        return None


def _counts(values: pd.Series) -> dict[str, int]:
    counts = values.dropna().astype("str").value_counts()
    return {str(key): int(counts[key]) for key in sorted(counts.index)}


def _decided_summary(
    day: dt.date, serving: Serving, prepared: Prepared, scores: pd.DataFrame, today: pd.DataFrame
) -> dict[str, Any]:
    increment = prepared.increment
    validated: dict[str, Any] = {"events": prepared.events.rows_good, "new_rows": 0}
    if increment is not None:
        validated.update(
            new_files=len(increment.source.split(", ")),
            new_rows=increment.rows_read,
            new_good=increment.rows_good,
            quarantined=increment.quarantined,
        )
    return {
        "day": day.isoformat(),
        "model": {"name": serving.name, "version": serving.version},
        "store_version": serving.store.version.version,
        "validated": validated,
        "users": _counts(scores["status"]),
        "segments": _counts(today["segment"]),
    }


def _per_campaign(listed: pd.DataFrame) -> list[dict[str, Any]]:
    if listed.empty:
        return []
    treated = listed["group"] == "treatment"
    table = (
        listed.assign(treatment=treated, control=~treated)
        .groupby(["campaign_id", "strategy", "channel"], as_index=False)
        .agg(treatment=("treatment", "sum"), control=("control", "sum"), cost=("cost", "sum"))
    )
    return [
        {
            "campaign_id": row["campaign_id"],
            "strategy": row["strategy"],
            "channel": row["channel"],
            "treatment": int(row["treatment"]),
            "control": int(row["control"]),
            "cost": round(float(row["cost"]), 2),
        }
        for row in table.to_dict("records")
    ]


RETURN_FIELDS = (
    *("strategy", "treated", "control", "rate_treated", "rate_control"),
    *("uplift", "ci_low", "ci_high", "significant"),
)
DURABLE_FIELDS = (
    *("strategy", "outcome", "treated", "control", "treated_mean", "control_mean"),
    *("difference", "ci_low", "ci_high", "significant", "matures_on"),
)


def _plain(value: Any) -> Any:
    """A table cell as JSON has it: rounded floats, NaN as null, numpy scalars as Python's."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _records(table: pd.DataFrame | None, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    if table is None:
        return []
    rows = table[list(fields)].to_dict("records")
    return [{str(key): _plain(value) for key, value in row.items()} for row in rows]


def _review_summary(
    item: reviews.Due, listed: pd.DataFrame, table: pd.DataFrame, folder: Path
) -> dict[str, Any]:
    strategies = table[table.strategy != ALL]
    return {
        "campaign_day": item.campaign_day.isoformat(),
        "stages": list(item.stages),
        "campaigns": sorted(listed["campaign_id"].unique().tolist()),
        "report": str(folder / "review.html"),
        "returns": _records(strategies, RETURN_FIELDS),
    }
