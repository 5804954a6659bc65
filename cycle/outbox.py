"""Per channel and day one JSON Lines file, one contact a line: what a sender picks up.

`<workdir>/cycle/outbox/<channel>/<day>.jsonl`, best first. The file is written whole from
the day's decided contacts and renamed into place, so a reader never sees half of it and
writing it again (after a crash) gives the same bytes: a key is in it exactly once.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Hashable, Iterable, Mapping
from pathlib import Path

import pandas as pd

from cycle.files import write_text_atomic

FIELDS = ("user_id", "channel", "offer", "campaign_id", "strategy", "day", "idempotency_key")


def line(contact: Mapping[Hashable, object]) -> dict[str, object]:
    """One contact as the outbox, and a webhook batch, carry it."""
    values = {**contact, "idempotency_key": contact["key"]}
    return {name: values[name] for name in FIELDS}


def path(root: Path, channel: str, day: dt.date) -> Path:
    return root / channel / f"{day.isoformat()}.jsonl"


def write_day(
    root: Path, day: dt.date, contacts: pd.DataFrame, channels: Iterable[str]
) -> dict[str, int]:
    """A file for every channel in `channels` (empty when nobody is contacted on it today);
    returns the lines per channel."""
    written = {}
    for channel in sorted(set(channels)):
        rows = contacts[contacts["channel"] == channel].sort_values(["priority", "key"])
        text = "".join(json.dumps(line(row)) + "\n" for row in rows.to_dict("records"))
        write_text_atomic(path(root, channel, day), text)
        written[channel] = len(rows)
    return written


def read(root: Path, day: dt.date | None = None) -> pd.DataFrame:
    """Every outbox line (of one day, if given), for people, tests and the demo's simulator."""
    pattern = f"*/{day.isoformat()}.jsonl" if day else "*/*.jsonl"
    rows = [
        json.loads(text)
        for file in sorted(root.glob(pattern))
        for text in file.read_text().splitlines()
    ]
    return pd.DataFrame(rows, columns=list(FIELDS))
