"""60 daily cycles (long enough for 30-day durable outcomes and four frequency-cap periods)
over a generated log fed one day at a time, with the effect of each day's contacts planted
into the days after it: nobody is contacted twice within the frequency cap,
no opted-out user is contacted, every campaign is reviewed once its window has closed (and
none before), the durable outcomes equal pandas, and running any day again changes no byte.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from cycle import outbox
from cycle.reviews import read_list
from cycle.run import CycleResult
from recall.durable import Durability
from recall.review import ALL
from tests.cycle.world import START, WINDOW, World
from tests.recall.durable_oracle import assert_same_comparison, pandas_compare, pandas_outcomes

DAYS = 60
CAP = 14
OPT_OUT_DAY = 20


def day(k: int) -> dt.date:
    return START + dt.timedelta(days=k)


@pytest.fixture(scope="module")
def run(template: World, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from tests.cycle.world import copy

    world = copy(template, tmp_path_factory.mktemp("sixty") / "world")
    world.set_cycle(review_charts=False)  # 50 small reviews: the charts have tests of their own
    users = pd.read_parquet(world.root / "gen" / "users.parquet").user_id
    blocked = users.sample(40, random_state=1).tolist()
    world.opt_out([(user, channel) for user in blocked for channel in ("email", "sms", "push")])
    external = users.drop(users[users.isin(blocked)].index).sample(30, random_state=2).tolist()
    pd.DataFrame(
        {"user_id": external, "channel": "email", "contacted_at": f"{day(10)}T09:00:00Z"}
    ).to_csv(world.root / "contacts.csv", index=False)
    results: list[CycleResult] = []
    later: list[tuple[str, str]] = []
    for k in range(DAYS):
        if k == OPT_OUT_DAY:  # users contacted before now say no, on the channel they got
            sent = outbox.read(world.outbox).drop_duplicates("user_id")
            later = list(zip(sent.user_id[:15], sent.channel[:15], strict=True))
            world.opt_out(later)
        results.append(world.cycle(day(k)))
    return {
        "world": world,
        "results": results,
        "blocked": set(blocked),
        "external": set(external),
        "later": set(later),
    }


@pytest.mark.slow
def test_every_day_ran_and_sent_something(run: dict) -> None:
    results: list[CycleResult] = run["results"]
    assert [r.exit_code for r in results] == [0] * DAYS
    sent = outbox.read(run["world"].outbox)
    assert sent.day.nunique() > DAYS / 2 and len(sent) > 100
    assert sent.idempotency_key.is_unique
    assert set(sent.strategy) >= {"at_risk_coupon", "win_back_valuable"}
    assert sum(r.summary["validated"]["new_rows"] for r in results[1:]) > 0


@pytest.mark.slow
def test_nobody_is_contacted_twice_within_the_cap(run: dict) -> None:
    sent = outbox.read(run["world"].outbox)
    days = pd.to_datetime(sent.day).sort_values()
    gaps = days.groupby(sent.loc[days.index, "user_id"]).diff().dropna()
    assert len(gaps) > 0 and gaps.min() >= pd.Timedelta(days=CAP)
    external = sent[sent.user_id.isin(run["external"])]
    assert (pd.to_datetime(external.day) >= pd.Timestamp(day(10 + CAP))).all()


@pytest.mark.slow
def test_no_opted_out_user_is_ever_contacted(run: dict) -> None:
    sent = outbox.read(run["world"].outbox)
    assert not sent.user_id.isin(run["blocked"]).any()
    after = sent[pd.to_datetime(sent.day) >= pd.Timestamp(day(OPT_OUT_DAY))]
    pairs = set(zip(after.user_id, after.channel, strict=True))
    assert run["later"] and not pairs & run["later"]


@pytest.mark.slow
def test_every_campaign_is_reviewed_once_its_window_closes(run: dict) -> None:
    world: World = run["world"]
    last = day(DAYS - 1)
    reviewed = 0
    for k in range(DAYS):
        listed = read_list(world.workdir / "cycle" / "days" / str(day(k)) / "recall.csv")
        folder = world.workdir / "cycle" / "reviews" / str(day(k))
        if listed.empty or day(k) + dt.timedelta(days=WINDOW) > last:
            assert not folder.exists(), day(k)
            continue
        table = pd.read_csv(folder / "review.csv").set_index("strategy")
        counts = listed.groupby("strategy").group.value_counts().unstack(fill_value=0)
        for strategy, row in counts.iterrows():
            assert table.loc[strategy].treated == row.get("treatment", 0)
            assert table.loc[strategy].control == row.get("control", 0)
        reviewed += 1
    assert reviewed > 30
    # the campaigns old enough had their 30-day outcomes reviewed too, on their own day
    summaries = [r.summary for r in run["results"]]
    stages = {(s["campaign_day"], tuple(s["stages"])) for r in summaries for s in r["reviews"]}
    assert (str(day(0)), (30,)) in stages and (str(day(0)), (0,)) in stages


@pytest.mark.slow
def test_durable_outcomes_of_all_campaigns_equal_pandas(run: dict) -> None:
    """The last pooled review (every campaign reviewed so far) against an independent
    computation from the events the cycle was fed."""
    world: World = run["world"]
    with_pooled = [r for r in run["results"] if r.summary.get("pooled")]
    last = with_pooled[-1]
    closed = sorted(
        d for d in (day(k) for k in range(DAYS)) if d + dt.timedelta(days=WINDOW) <= last.day
    )
    lists = [read_list(world.workdir / "cycle" / "days" / str(d) / "recall.csv") for d in closed]
    listed = pd.concat([frame for frame in lists if not frame.empty], ignore_index=True)
    events = pd.concat(
        pd.read_parquet(path) for path in sorted((world.root / "feed" / "events").glob("*"))
    )
    events = events[events.ts < pd.Timestamp(last.day)]
    rules = Durability(lapsed_days=60)
    qualifying = ["visit", "view", "add_to_cart", "purchase"]
    theirs = pandas_outcomes(events, listed, WINDOW, rules, qualifying)
    expected = pandas_compare(theirs, WINDOW, rules, pd.Timestamp(last.day), ALL)
    pooled = world.workdir / "cycle" / "reviews" / "all" / "durable.csv"
    table = pd.read_csv(pooled, parse_dates=False).set_index(["strategy", "outcome"])
    table["matures_on"] = pd.to_datetime(table.matures_on).dt.date
    assert_same_comparison(table, expected)
    known = expected.xs("active_30d", level="outcome")
    assert known.treated.sum() > 0 and np.isnan(table.loc[(ALL, "active_90d")].difference)
    # the planted uplift (+25 points among the treated) shows, within the interval
    planted = table.loc[("at_risk_coupon", "returned")]
    assert planted.difference > 0.1 and planted.ci_low <= 0.25 <= planted.ci_high


@pytest.mark.slow
def test_running_any_day_again_leaves_every_output_byte_identical(run: dict) -> None:
    world: World = run["world"]
    before = world.digests()
    assert any(name.endswith(".jsonl") for name in before)
    for k in range(DAYS):
        again = world.cycle(day(k))
        assert again.already_done and again.exit_code == 0
        assert again.summary == json.loads(json.dumps(run["results"][k].summary, default=str))
    assert world.digests() == before
