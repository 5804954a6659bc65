"""A generated log fed one day at a time, as a daily export would arrive, with the effect of
what the daily cycle sent planted into it as it goes.

`publish` writes everything before `until` not yet written: the first time all of it as one
file (`<feed>/events/history.parquet`: the history a service has when its daily cycle
begins), then one file per day (`<feed>/events/<day>.parquet`); and the users who signed up
before `until` (`<feed>/users.parquet`). A config whose events path is
`<feed>/events/*.parquet` then sees the log grow by one file a day.

`plant_sent` plants the effect of a day's contacts into the whole log (`synthetic_campaign`:
treated users who would not have come back inside the window get a visit in it, per
strategy's planted uplift) before that day is published, so a cycle only ever sees the
effect of what it sent, after it sent it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from features.synthetic import SyntheticLog
from features.synthetic_campaign import TREATMENT, CampaignLog, CampaignSpec, plant_campaign

PLANTED_FILE = "planted.json"  # beside the generated log: the days whose contacts are planted


def planted_days(folder: Path) -> list[dt.date]:
    path = folder / PLANTED_FILE
    if not path.is_file():
        return []
    return [dt.date.fromisoformat(day) for day in json.loads(path.read_text())]


def forget_planted(folder: Path) -> None:
    """A log generated afresh has nothing planted in it."""
    (folder / PLANTED_FILE).unlink(missing_ok=True)


def mark_planted(folder: Path, days: list[dt.date]) -> None:
    (folder / PLANTED_FILE).write_text(json.dumps(sorted(str(day) for day in set(days))) + "\n")


def plant_sent(
    log: SyntheticLog,
    sent: pd.DataFrame,
    day: dt.date,
    window_days: int,
    uplift: Mapping[str, float],
    seed: int,
) -> CampaignLog:
    """`sent`: the day's contacts (user_id, strategy); each strategy's planted uplift among them."""
    assignment = pd.DataFrame(
        {
            "user_id": sent["user_id"].astype("str").to_numpy(),
            "strategy": sent["strategy"].astype("str").to_numpy(),
            "group": TREATMENT,
        }
    ).drop_duplicates("user_id")
    spec = CampaignSpec(day, window_days, uplift, seed, rounding="random")
    return plant_campaign(log, assignment, spec)


PUBLISHED_FILE = "published.json"  # in the feed: the first day not written yet


def published_until(feed: Path) -> dt.date | None:
    path = feed / PUBLISHED_FILE
    return dt.date.fromisoformat(json.loads(path.read_text())) if path.is_file() else None


def _write(frame: pd.DataFrame, path: Path) -> None:
    partial = path.with_name(f".{path.name}.partial")
    frame.to_parquet(partial, index=False)
    os.replace(partial, path)


def publish(log: SyntheticLog, feed: Path, until: dt.date) -> list[Path]:
    """Events before `until` not yet written, as files (see the module doc); returns them."""
    folder = feed / "events"
    folder.mkdir(parents=True, exist_ok=True)
    stamps = log.events["ts"].to_numpy()

    def rows(lo: dt.date | None, hi: dt.date) -> pd.DataFrame:
        start = 0 if lo is None else np.searchsorted(stamps, np.datetime64(lo, "us"))
        end = np.searchsorted(stamps, np.datetime64(hi, "us"))
        return log.events.iloc[start:end].reset_index(drop=True)

    first = published_until(feed)
    paths = []
    if first is None:
        paths.append(folder / "history.parquet")
        _write(rows(None, until), paths[-1])
    else:
        day = first
        while day < until:
            paths.append(folder / f"{day.isoformat()}.parquet")
            _write(rows(day, day + dt.timedelta(days=1)), paths[-1])
            day += dt.timedelta(days=1)
    signed_up = log.users[log.users["signup_ts"] < pd.Timestamp(until)]
    _write(signed_up.reset_index(drop=True), feed / "users.parquet")
    if first is None or until > first:
        (feed / PUBLISHED_FILE).write_text(json.dumps(until.isoformat()) + "\n")
    return paths
