"""The simulated daily feed: a day is published once, after the effect of every earlier
day's contacts was planted, and a planted return only ever falls on days not yet published."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from cycle.simulated_feed import feed
from features.synthetic import SyntheticSpec, generate, write
from winback.cli.main import app

START = dt.date(2025, 6, 1)


def sent(outbox: Path, day: dt.date, users: list[str]) -> None:
    folder = outbox / "email"
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        {
            "user_id": user,
            "channel": "email",
            "offer": "o",
            "campaign_id": f"c-{day}-coupon",
            "strategy": "coupon",
            "day": str(day),
            "idempotency_key": f"c-{day}-coupon:{user}:email",
        }
        for user in users
    ]
    (folder / f"{day}.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_days_are_published_once_and_effects_land_after_them(tmp_path: Path) -> None:
    data, stream, outbox = tmp_path / "gen", tmp_path / "feed", tmp_path / "outbox"
    log = generate(SyntheticSpec(users=600, days=240, seed=2))
    write(log, data)
    first = feed(data, stream, START)
    assert [p.name for p in first.paths] == ["history.parquet"]
    history = pd.read_parquet(first.paths[0])
    assert history.ts.max() < pd.Timestamp(START)
    assert (pd.read_parquet(stream / "users.parquet").signup_ts < pd.Timestamp(START)).all()

    quiet = log.users.user_id[~log.users.user_id.isin(history.user_id.tail(3000))].tolist()
    sent(outbox, START, quiet[:200])
    day = START + dt.timedelta(days=1)
    fed = feed(data, stream, day, outbox, window_days=7, uplift={"coupon": 0.5}, seed=1)
    assert fed.planted[START] > 20 and [p.name for p in fed.paths] == [f"{START}.parquet"]
    planted = pd.read_parquet(data / "events.parquet")
    extra = planted.merge(log.events, how="left", indicator=True).query("_merge == 'left_only'")
    assert len(extra) == fed.planted[START] and extra.user_id.isin(quiet[:200]).all()
    window = pd.Timestamp(START), pd.Timestamp(START) + pd.Timedelta(days=7)
    assert extra.ts.between(*window, inclusive="left").all()
    published = pd.read_parquet(fed.paths[0])
    assert published.ts.between(pd.Timestamp(START), pd.Timestamp(day), inclusive="left").all()

    again = feed(data, stream, day, outbox, window_days=7, uplift={"coupon": 0.5}, seed=1)
    assert again.paths == [] and again.planted == {}  # a day is fed, and planted, once


def test_generate_afresh_forgets_what_was_planted(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "gen"
    args = ["generate", "--users", "50", "--days", "30", "--out", str(out)]
    assert runner.invoke(app, args).exit_code == 0
    (out / "planted.json").write_text('["2025-01-05"]\n')
    assert runner.invoke(app, args).exit_code == 0
    assert not (out / "planted.json").exists()
