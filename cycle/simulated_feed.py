"""The daily feed of a generated log, for demos and tests of the cycle: before the cycle of a
day, plant the effect of the contacts every earlier cycle sent (its outbox) into the log,
then publish the days not yet published (`features.synthetic_feed`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cycle import outbox
from features import synthetic
from features.synthetic_feed import mark_planted, plant_sent, planted_days, publish


@dataclass(frozen=True)
class Fed:
    paths: list[Path]  # event files written
    planted: dict[dt.date, int]  # planted returns per campaign day


def sent_days(root: Path, before: dt.date) -> list[dt.date]:
    stems = {path.stem for path in root.glob("*/*.jsonl")} if root.is_dir() else set()
    return sorted(day for day in map(dt.date.fromisoformat, stems) if day < before)


def feed(
    data: Path,
    folder: Path,
    until: dt.date,
    sent: Path | None = None,
    window_days: int = 28,
    uplift: Mapping[str, float] | None = None,
    seed: int = 0,
) -> Fed:
    """`data`: the generated log (rewritten in place with what is planted); `folder`: the
    feed the cycle reads; `sent`: the cycle's outbox folder."""
    log = synthetic.read(data)
    done = set(planted_days(data))
    todo = [] if sent is None else [d for d in sent_days(sent, until) if d not in done]
    planted = {}
    for day in todo:
        assert sent is not None
        contacts = outbox.read(sent, day)
        if contacts.empty:
            continue
        result = plant_sent(log, contacts, day, window_days, uplift or {}, seed + day.toordinal())
        log, planted[day] = result.log, int(result.outcomes.planted.sum())
    if planted:
        synthetic.write(log, data)
    if todo:
        mark_planted(data, [*done, *todo])
    return Fed(paths=publish(log, folder, until), planted=planted)
