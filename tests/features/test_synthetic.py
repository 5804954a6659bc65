"""The synthetic log is the yardstick for features and models: its shape and planted dynamics
must be exactly what the rest of the project is told they are."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.synthetic import RETURN_MIN_GAP_DAYS, SyntheticLog, SyntheticSpec, generate, write

SPEC = SyntheticSpec(users=2_000, days=365, seed=7)
DAYS_30 = pd.Timedelta(days=30)


@pytest.fixture(scope="module")
def log() -> SyntheticLog:
    return generate(SPEC)


def period_end(spec: SyntheticSpec) -> pd.Timestamp:
    return pd.Timestamp(spec.start) + pd.Timedelta(days=spec.days)


def with_truth(log: SyntheticLog) -> pd.DataFrame:
    return log.events.merge(log.truth, on="user_id", validate="many_to_one")


def before_return(frame: pd.DataFrame) -> pd.DataFrame:
    """Events before each user's return (all of them for users who never come back)."""
    return frame[~(frame["ts"] >= frame["return_ts"])]


def assert_log_invariants(log: SyntheticLog, spec: SyntheticSpec) -> None:
    """What must hold for every spec, however small or skewed."""
    events, users, truth = log.events, log.users, log.truth
    assert users["user_id"].is_unique and truth["user_id"].is_unique
    assert users["user_id"].tolist() == truth["user_id"].tolist()
    assert len(users) == spec.users
    assert events["ts"].between(pd.Timestamp(spec.start), period_end(spec), "left").all()
    assert events["user_id"].isin(users["user_id"]).all()
    signup = events["user_id"].map(users.set_index("user_id")["signup_ts"])
    assert (events["ts"] >= signup).all()
    assert (
        events[["ts", "user_id"]].sort_values(["ts", "user_id"], kind="stable").index
        == events.index
    ).all()

    joined = with_truth(log)
    churned = before_return(joined[joined["churn_kind"] != "none"])
    assert (churned["ts"] <= churned["churn_ts"]).all()
    assert truth.loc[truth["churn_kind"] == "none", "return_ts"].isna().all()
    returned = truth.dropna(subset=["return_ts"])
    assert (returned["return_ts"] > returned["churn_ts"]).all()
    cancels = joined[joined["event"] == "cancel"]
    assert cancels["user_id"].is_unique
    assert set(cancels["user_id"]) == set(truth.loc[truth["churn_kind"] == "cancel", "user_id"])
    assert (cancels["ts"] == cancels["churn_ts"]).all()
    fade_truth = truth[truth["churn_kind"] == "fade"].set_index("user_id")["churn_ts"]
    last_ts = before_return(joined).groupby("user_id")["ts"].max()
    fade_signup = users.set_index("user_id")["signup_ts"].reindex(fade_truth.index)
    expected_fade_ts = last_ts.reindex(fade_truth.index).fillna(fade_signup)
    assert (fade_truth == expected_fade_ts).all()
    assert truth.loc[truth["churn_kind"] == "none", "churn_ts"].isna().all()

    first = events.drop_duplicates("session_id")
    assert (first["event"].isin(["visit", "cancel"])).all()
    assert events.groupby("session_id")["user_id"].nunique().eq(1).all()
    purchase = events["event"] == "purchase"
    assert (events.loc[purchase, "value"] > 0).all()
    assert (events.loc[~purchase, "value"] == 0).all()


def test_same_seed_gives_identical_frames_and_parquet_bytes(
    log: SyntheticLog, tmp_path: Path
) -> None:
    again = generate(SPEC)
    for name in ("events", "users", "truth"):
        pd.testing.assert_frame_equal(getattr(log, name), getattr(again, name))
    first = write(log, tmp_path / "a")
    second = write(again, tmp_path / "b")
    assert set(first) == {"events", "users", "truth"}
    for name, path in first.items():
        assert path == tmp_path / "a" / f"{name}.parquet"
        assert path.read_bytes() == second[name].read_bytes()


def test_different_seed_gives_different_log(log: SyntheticLog) -> None:
    other = generate(SyntheticSpec(users=SPEC.users, days=SPEC.days, seed=SPEC.seed + 1))
    assert not log.events.equals(other.events)
    assert not log.users.equals(other.users)
    assert not log.truth.equals(other.truth)


def test_written_parquet_reads_back_as_the_same_frames(log: SyntheticLog, tmp_path: Path) -> None:
    for name, path in write(log, tmp_path).items():
        pd.testing.assert_frame_equal(pd.read_parquet(path), getattr(log, name))


def test_schema_and_dtypes_are_exact(log: SyntheticLog) -> None:
    us = np.dtype("datetime64[us]")
    expected = {
        "events": {
            "user_id": "str",
            "ts": us,
            "event": "str",
            "value": "float64",
            "session_id": "str",
        },
        "users": {
            "user_id": "str",
            "signup_ts": us,
            "plan": "str",
            "channel": "str",
            "region": "str",
        },
        "truth": {
            "user_id": "str",
            "archetype": "str",
            "churn_kind": "str",
            "churn_ts": us,
            "return_ts": us,
        },
    }
    for name, columns in expected.items():
        frame: pd.DataFrame = getattr(log, name)
        assert list(frame.columns) == list(columns)
        for column, dtype in columns.items():
            assert frame[column].dtype == dtype, (name, column, frame[column].dtype)
    assert log.events["user_id"].str.fullmatch(r"u\d{7}").all()
    assert log.users["user_id"].tolist() == [f"u{i:07d}" for i in range(1, SPEC.users + 1)]
    assert (log.events["ts"].dt.microsecond == 0).all()
    assert set(log.events["event"]) == {"visit", "view", "add_to_cart", "purchase", "cancel"}
    assert set(log.users["plan"]) == {"free", "basic", "premium"}
    assert set(log.users["channel"]) == {"organic", "paid", "referral", "partner"}
    assert set(log.users["region"]) == {"north", "south", "east", "west"}
    assert set(log.truth["churn_kind"]) == {"cancel", "fade", "none"}
    assert log.truth["archetype"].nunique() in (3, 4)


def test_events_are_in_period_after_signup_for_known_users_and_churn_is_consistent(
    log: SyntheticLog,
) -> None:
    assert_log_invariants(log, SPEC)


def test_signups_spread_before_and_during_the_period(log: SyntheticLog) -> None:
    signup = log.users["signup_ts"]
    start = pd.Timestamp(SPEC.start)
    assert 0.4 < (signup < start).mean() < 0.8
    during = signup[signup >= start]
    assert during.max() - during.min() > pd.Timedelta(days=300)


def test_no_event_between_churn_and_return_for_churners(log: SyntheticLog) -> None:
    joined = with_truth(log)
    churned = joined[joined["churn_kind"] != "none"]
    assert len(churned) > 0
    gone = churned[(churned["ts"] > churned["churn_ts"]) & ~(churned["ts"] >= churned["return_ts"])]
    assert gone.empty


def test_some_leavers_come_back_after_a_long_gap_and_stay(log: SyntheticLog) -> None:
    """About `return_share` of the leavers come back, at least RETURN_MIN_GAP_DAYS later
    (unless the log ends first), and keep coming: a natural return rate for win-back."""
    truth = log.truth[log.truth["churn_kind"] != "none"]
    returned = truth.dropna(subset=["return_ts"])
    assert len(returned) > 50
    gap = returned["return_ts"] - returned["churn_ts"]
    assert (gap >= pd.Timedelta(days=RETURN_MIN_GAP_DAYS)).all()
    # returns after the log's end are not seen: early leavers show the planted share
    early = truth[truth["churn_ts"] < period_end(SPEC) - pd.Timedelta(days=300)]
    assert early["return_ts"].notna().mean() == pytest.approx(SPEC.return_share, abs=0.1)
    events = log.events.merge(returned[["user_id", "return_ts"]], on="user_id")
    after = events[events["ts"] >= events["return_ts"]].groupby("user_id").size()
    assert after.median() > 3


def test_returns_leave_everything_before_them_as_it_was(log: SyntheticLog) -> None:
    """The returns have a random stream of their own: without them the log is the same minus
    the events after each return."""
    without = generate(SyntheticSpec(SPEC.users, SPEC.days, SPEC.seed, return_share=0.0))
    kept = before_return(with_truth(log))[list(log.events.columns)].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, without.events)
    pd.testing.assert_frame_equal(
        log.truth.drop(columns="return_ts"), without.truth.drop(columns="return_ts")
    )


def test_cancel_users_have_exactly_one_cancel_event_and_it_is_last_before_any_return(
    log: SyntheticLog,
) -> None:
    joined = before_return(with_truth(log))
    cancellers = joined[joined["churn_kind"] == "cancel"]
    n_cancel = cancellers.groupby("user_id")["event"].agg(lambda e: int((e == "cancel").sum()))
    assert len(n_cancel) == (log.truth["churn_kind"] == "cancel").sum()
    assert (n_cancel == 1).all()
    last = cancellers.groupby("user_id").tail(1)
    assert (last["event"] == "cancel").all()
    assert (last["ts"] == last["churn_ts"]).all()
    assert (joined.loc[joined["churn_kind"] != "cancel", "event"] != "cancel").all()


def test_staying_users_are_active_in_the_last_30_days(log: SyntheticLog) -> None:
    stayers = log.truth.loc[log.truth["churn_kind"] == "none", "user_id"]
    last = log.events.groupby("user_id")["ts"].max().reindex(stayers)
    assert (last >= period_end(SPEC) - DAYS_30).mean() >= 0.9


def test_fade_churners_activity_decays_before_churn(log: SyntheticLog) -> None:
    """Events in [churn-30d, churn) are clearly fewer than in [churn-60d, churn-30d).

    The event at churn_ts is the churn marker itself (a fader's last event), so it is left
    out; only faders with 60 observable days of tenure before churning are compared.
    """
    fades = log.truth[log.truth["churn_kind"] == "fade"].merge(log.users, on="user_id")
    window_start = fades["churn_ts"] - 2 * DAYS_30
    fades = fades[(fades["signup_ts"] <= window_start) & (window_start >= pd.Timestamp(SPEC.start))]
    assert len(fades) > 200
    events = log.events.merge(fades[["user_id", "churn_ts"]], on="user_id")
    before = events["churn_ts"] - events["ts"]
    recent = ((before > pd.Timedelta(0)) & (before <= DAYS_30)).sum()
    earlier = ((before > DAYS_30) & (before <= 2 * DAYS_30)).sum()
    assert recent / earlier < 0.7


def test_weekends_are_busier_than_weekdays(log: SyntheticLog) -> None:
    per_day = log.events["ts"].dt.floor("D").value_counts()
    weekend = per_day.index.day_of_week >= 5
    assert per_day[weekend].mean() > 1.1 * per_day[~weekend].mean()


def test_churn_shares_match_spec(log: SyntheticLog) -> None:
    shares = log.truth["churn_kind"].value_counts(normalize=True)
    assert shares["cancel"] == pytest.approx(SPEC.cancel_share, abs=0.03)
    assert shares["fade"] == pytest.approx(SPEC.fade_share, abs=0.03)


def test_churn_is_likelier_for_casual_bargain_and_free_users(log: SyntheticLog) -> None:
    frame = log.truth.merge(log.users, on="user_id")
    churned = frame["churn_kind"] != "none"
    by_archetype = churned.groupby(frame["archetype"]).mean()
    assert min(by_archetype["casual"], by_archetype["bargain"]) > by_archetype["power"]
    by_plan = churned.groupby(frame["plan"]).mean()
    assert by_plan["free"] > by_plan["premium"]


def test_archetypes_differ_in_activity_and_correlate_with_plan(log: SyntheticLog) -> None:
    frame = log.truth.merge(log.users, on="user_id")
    events_per_user = log.events["user_id"].value_counts().reindex(frame["user_id"], fill_value=0)
    activity = events_per_user.groupby(frame["archetype"].to_numpy()).mean()
    assert activity["power"] > activity["regular"] > activity["casual"] > activity["bargain"]
    premium = (frame["plan"] == "premium").groupby(frame["archetype"]).mean()
    assert premium["power"] > premium["casual"]


def test_rejects_impossible_specs() -> None:
    with pytest.raises(ValueError):
        SyntheticSpec(users=0, days=10)
    with pytest.raises(ValueError):
        SyntheticSpec(users=10, days=0)
    with pytest.raises(ValueError):
        SyntheticSpec(users=10, days=10, cancel_share=0.6, fade_share=0.6)
    with pytest.raises(ValueError):
        SyntheticSpec(users=10, days=10, return_share=1.5)


@settings(max_examples=25, deadline=None)
@given(
    users=st.integers(1, 60),
    days=st.integers(1, 60),
    seed=st.integers(0, 2**32 - 1),
    cancel_share=st.sampled_from([0.0, 0.15, 0.5, 1.0]),
    fade_share=st.sampled_from([0.0, 0.35, 0.5]),
    start=st.dates(datetime.date(2000, 1, 1), datetime.date(2040, 1, 1)),
)
def test_invariants_hold_for_any_small_spec(
    users: int, days: int, seed: int, cancel_share: float, fade_share: float, start: datetime.date
) -> None:
    fade_share = min(fade_share, 1.0 - cancel_share)
    spec = SyntheticSpec(users, days, seed, start, cancel_share, fade_share)
    assert_log_invariants(generate(spec), spec)


def test_sessions_cut_at_the_end_leave_no_exact_duplicate_events() -> None:
    """Many busy users over two days: plenty of sessions run past the end of the log."""
    log = generate(SyntheticSpec(users=3000, days=2, seed=5, cancel_share=0.0, fade_share=0.0))
    assert not log.events.duplicated().any()
