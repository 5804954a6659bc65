"""A drifting synthetic log: the churn base rate and the user mix move over time exactly as
the `Drift` says, the truth records what each user got, and no drift changes nothing."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from typer.testing import CliRunner

from features.synthetic import (
    ARCH_SHARE,
    ARCHETYPES,
    CHANNEL_SHARE,
    CHANNELS,
    DAY,
    DRIFT_COLUMNS,
    DRIFT_FILE,
    DRIFT_PRESETS,
    Drift,
    SyntheticLog,
    SyntheticSpec,
    generate,
    read,
    write,
)
from tests.features.test_synthetic import assert_log_invariants
from winback.cli.main import app

RISE = DRIFT_PRESETS["churn-rise"]
STATIONARY = SyntheticSpec(users=8_000, days=365, seed=3)
DRIFTING = dataclasses.replace(STATIONARY, drift=RISE)
EARLY_DAY, LATE_DAY, HORIZON_DAYS = 60, 270, 30
ARCHETYPE_NAMES = tuple(a.name for a in ARCHETYPES)


@pytest.fixture(scope="module")
def stationary() -> SyntheticLog:
    return generate(STATIONARY)


@pytest.fixture(scope="module")
def drifting() -> SyntheticLog:
    return generate(DRIFTING)


def churn_rate(log: SyntheticLog, spec: SyntheticSpec, day: int) -> float:
    """Of the users signed up and not yet churned at `day`, the share whose truth says they
    churn within the next HORIZON_DAYS."""
    cutoff = pd.Timestamp(spec.start) + pd.Timedelta(days=day)
    frame = log.truth.merge(log.users, on="user_id", validate="one_to_one")
    at_risk = (frame["signup_ts"] <= cutoff) & ~(frame["churn_ts"] < cutoff)
    churns = frame["churn_ts"].ge(cutoff) & frame["churn_ts"].lt(
        cutoff + pd.Timedelta(days=HORIZON_DAYS)
    )
    assert at_risk.sum() > 2_000
    return float(churns[at_risk].mean())


def late_over_early(log: SyntheticLog, spec: SyntheticSpec) -> float:
    return churn_rate(log, spec, LATE_DAY) / churn_rate(log, spec, EARLY_DAY)


def digests(log: SyntheticLog) -> dict[str, str]:
    return {
        name: hashlib.sha256(getattr(log, name).to_csv(index=False).encode()).hexdigest()
        for name in ("events", "users", "truth")
    }


# Computed with the generator as it was before drift existed (and returns: without them the
# log is still exactly that one, apart from the truth's `return_ts`, then empty).
BEFORE_DRIFT = {
    SyntheticSpec(users=500, days=90, seed=11, return_share=0.0): {
        "events": "ef6b8ec1968741da712cbf280a284155841681671ffb52e26dfea5ea41839994",
        "users": "f582485ba3a690535b1c8084ba2f6209c9cfc23330d430cdda6d2bd7b40fd94d",
        "truth": "22331bb407fbe253301f271c15e881f1a4a8cd7c5819289abb33d0a8b4dd4e5d",
    },
    SyntheticSpec(
        users=300,
        days=400,
        seed=3,
        start=datetime.date(2024, 2, 29),
        cancel_share=0.3,
        fade_share=0.2,
        return_share=0.0,
    ): {
        "events": "653efce90c734cf1273bb884b74ae6781826d246258f31b26eaf55d5695dfb13",
        "users": "3aef4f65799eb18e5ed30179ec6f5b66f32442c2f303456284502440084c559f",
        "truth": "c58472dde5ff20b05a950d9eaad1e0694784269f149b6a84b16bd35a6540f491",
    },
}


@pytest.mark.parametrize("spec", list(BEFORE_DRIFT), ids=["short", "leap-start"])
def test_without_drift_the_log_is_what_it_was_before_drift_existed(spec: SyntheticSpec) -> None:
    log = generate(spec)
    assert log.drift is None and log.truth["return_ts"].isna().all()
    before = SyntheticLog(log.events, log.users, log.truth.drop(columns="return_ts"))
    assert digests(before) == BEFORE_DRIFT[spec]


def test_a_drift_that_changes_nothing_only_adds_the_truth_columns(
    stationary: SyntheticLog,
) -> None:
    neutral = generate(dataclasses.replace(STATIONARY, drift=Drift()))
    pd.testing.assert_frame_equal(neutral.events, stationary.events)
    pd.testing.assert_frame_equal(neutral.users, stationary.users)
    assert list(neutral.truth.columns) == [*stationary.truth.columns, *DRIFT_COLUMNS]
    pd.testing.assert_frame_equal(neutral.truth[stationary.truth.columns], stationary.truth)
    assert (neutral.truth["churn_multiplier"] == 1.0).all()


def test_churn_rise_makes_late_cutoffs_churn_far_more_than_early_ones(
    stationary: SyntheticLog, drifting: SyntheticLog
) -> None:
    """The stationary log's rate already rises toward the end (churners leave uniformly over
    what remains of the log), so the drift is measured against it on the same seed: the
    planted multiplier alone makes the late/early ratio m(285/365) / m(75/365) = 2.07 times
    the stationary one."""
    drift_ratio = late_over_early(drifting, DRIFTING)
    assert drift_ratio > 2.5
    assert drift_ratio > 1.3 * late_over_early(stationary, STATIONARY)


def test_a_falling_churn_multiplier_makes_late_cutoffs_churn_less(
    stationary: SyntheticLog,
) -> None:
    spec = dataclasses.replace(STATIONARY, drift=Drift(churn_start=1.5, churn_end=0.75))
    ratio = late_over_early(generate(spec), spec)
    assert ratio < 0.85 * late_over_early(stationary, STATIONARY)


def test_churners_leave_with_the_planted_density_over_the_log(drifting: SyntheticLog) -> None:
    """Cancellers who signed up before the log are active on all of it, so their leave time,
    as a fraction x of the log, has density m(x) / mean(m): CDF (m0 x + d x^2 / 2) / (m0 + d/2)."""
    frame = drifting.truth.merge(drifting.users, on="user_id")
    start = pd.Timestamp(DRIFTING.start)
    cancels = frame[(frame["churn_kind"] == "cancel") & (frame["signup_ts"] < start)]
    assert len(cancels) > 500
    fraction = (cancels["churn_ts"] - start) / pd.Timedelta(days=DRIFTING.days)
    m0, d = RISE.churn_start, RISE.churn_slope

    def planted(x: np.ndarray) -> np.ndarray:
        return (m0 * x + d * x**2 / 2) / (m0 + d / 2)

    assert stats.kstest(fraction, planted).pvalue > 0.01
    assert stats.kstest(fraction, "uniform").pvalue < 1e-6


def test_truth_records_the_multiplier_and_mix_weight_each_user_got(
    drifting: SyntheticLog,
) -> None:
    frame = drifting.truth.merge(drifting.users, on="user_id")
    start = pd.Timestamp(DRIFTING.start)
    seconds = (frame["signup_ts"] - start).dt.total_seconds().to_numpy(dtype=np.float64)
    signup = seconds / (DRIFTING.days * DAY)  # fraction of the log, < 0 before it
    np.testing.assert_allclose(frame["mix_weight"].to_numpy(), signup.clip(0, 1), atol=1e-12)
    middle_of_active_span = (signup.clip(0, None) + 1) / 2
    np.testing.assert_allclose(
        frame["churn_multiplier"].to_numpy(), RISE.churn_multiplier(middle_of_active_span)
    )
    assert frame["churn_multiplier"].between(RISE.churn_start, RISE.churn_end).all()


def test_churner_counts_scale_with_the_mean_recorded_multiplier(drifting: SyntheticLog) -> None:
    scale = drifting.truth["churn_multiplier"].mean()
    assert scale > 1.1
    kinds = drifting.truth["churn_kind"].value_counts()
    assert kinds["cancel"] == round(DRIFTING.cancel_share * DRIFTING.users * scale)
    assert kinds["fade"] == round(DRIFTING.fade_share * DRIFTING.users * scale)


@pytest.mark.parametrize(
    ("column", "names", "base", "late"),
    [
        ("archetype", ARCHETYPE_NAMES, ARCH_SHARE, RISE.late_archetype_share),
        ("channel", CHANNELS, np.array(CHANNEL_SHARE), RISE.late_channel_share),
    ],
)
def test_late_signups_are_drawn_from_the_planted_late_mix(
    drifting: SyntheticLog,
    column: str,
    names: tuple[str, ...],
    base: np.ndarray,
    late: tuple[float, ...] | None,
) -> None:
    """Signups before the log get the base shares, those in its last quarter nearly the late
    ones: each group's shares match the mean of (1 - w) base + w late over its users."""
    assert late is not None
    frame = drifting.truth.merge(drifting.users, on="user_id")
    weight = frame["mix_weight"]
    observed_by_group = {}
    for group, members in (("early", weight == 0), ("late", weight >= 0.75)):
        w = weight[members].to_numpy()[:, None]
        expected = ((1 - w) * base + w * np.array(late)).mean(axis=0)
        counts = frame.loc[members, column].value_counts(normalize=True)
        observed = counts.reindex(list(names), fill_value=0).to_numpy()
        tolerance = 4 * np.sqrt(expected * (1 - expected) / int(members.sum()))
        assert (np.abs(observed - expected) <= tolerance).all(), (group, observed, expected)
        observed_by_group[group] = observed
    # The planted move is beyond the tolerance, so base shares for late signups would fail.
    assert (np.abs(expected - base) > 1.5 * tolerance).any()
    moved = observed_by_group["late"] - observed_by_group["early"]
    clear = np.abs(expected - base) > 0.03
    assert (np.sign(moved[clear]) == np.sign((np.array(late) - base)[clear])).all()


def test_same_seed_and_drift_give_identical_files(drifting: SyntheticLog, tmp_path: Path) -> None:
    first = write(drifting, tmp_path / "a")
    second = write(generate(DRIFTING), tmp_path / "b")
    assert set(first) == {"events", "users", "truth", "drift"}
    for name, path in first.items():
        assert path.read_bytes() == second[name].read_bytes(), name
    other = generate(dataclasses.replace(DRIFTING, drift=DRIFT_PRESETS["mix-shift"]))
    assert not other.truth.equals(drifting.truth)


def test_saved_truth_and_drift_round_trip_through_write_and_read(
    drifting: SyntheticLog, tmp_path: Path
) -> None:
    write(drifting, tmp_path)
    back = read(tmp_path)
    assert back.drift == RISE
    for name in ("events", "users", "truth"):
        pd.testing.assert_frame_equal(getattr(back, name), getattr(drifting, name))
    for preset in DRIFT_PRESETS.values():
        assert Drift.from_json(preset.to_json()) == preset
    assert Drift.from_json(Drift().to_json()) == Drift()


def test_drift_file_follows_the_log_written_into_a_folder(
    stationary: SyntheticLog, drifting: SyntheticLog, tmp_path: Path
) -> None:
    write(drifting, tmp_path)
    # Read back and rewritten in place without its drift (as `simulate-campaign` does): the
    # truth still has the drift columns, so the file still describes it and stays.
    write(dataclasses.replace(read(tmp_path), drift=None), tmp_path)
    assert read(tmp_path).drift == RISE
    # A stationary log written over it takes the stale file away.
    write(stationary, tmp_path)
    assert not (tmp_path / DRIFT_FILE).exists()
    assert read(tmp_path).drift is None


def test_a_drift_file_that_is_not_a_drift_is_an_input_error(
    stationary: SyntheticLog, tmp_path: Path
) -> None:
    from core.config import InputError

    write(stationary, tmp_path)
    for text in ("{", '{"churn_start": 1.0}', RISE.to_json().replace("power", "whale")):
        (tmp_path / DRIFT_FILE).write_text(text)
        with pytest.raises(InputError, match=DRIFT_FILE):
            read(tmp_path)


@pytest.mark.parametrize(
    "fields",
    [
        {"churn_start": 0.0},
        {"churn_end": -1.0},
        {"churn_end": float("inf")},
        {"late_archetype_share": (0.5, 0.5)},
        {"late_archetype_share": (0.5, 0.5, 0.5, -0.5)},
        {"late_channel_share": (0.3, 0.3, 0.3, 0.3)},
    ],
)
def test_rejects_impossible_drifts(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Drift(**fields)  # type: ignore[arg-type]


def shares(size: int) -> st.SearchStrategy[tuple[float, ...] | None]:
    def normalised(raw: list[float]) -> tuple[float, ...]:
        return tuple(x / sum(raw) for x in raw)

    weights = st.lists(st.floats(0.0, 1.0), min_size=size, max_size=size)
    return st.none() | weights.filter(lambda raw: sum(raw) > 0.01).map(normalised)


@settings(max_examples=25, deadline=None)
@given(
    users=st.integers(1, 60),
    days=st.integers(1, 60),
    seed=st.integers(0, 2**32 - 1),
    cancel_share=st.sampled_from([0.0, 0.15, 0.5, 1.0]),
    churn=st.tuples(st.floats(0.05, 5.0), st.floats(0.05, 5.0)),
    late_archetype_share=shares(len(ARCHETYPES)),
    late_channel_share=shares(len(CHANNELS)),
)
def test_invariants_hold_for_any_small_spec_with_any_drift(
    users: int,
    days: int,
    seed: int,
    cancel_share: float,
    churn: tuple[float, float],
    late_archetype_share: tuple[float, ...] | None,
    late_channel_share: tuple[float, ...] | None,
) -> None:
    drift = Drift(*churn, late_archetype_share, late_channel_share)
    spec = SyntheticSpec(
        users,
        days,
        seed,
        cancel_share=cancel_share,
        fade_share=min(0.35, 1 - cancel_share),
        drift=drift,
    )
    log = generate(spec)
    assert_log_invariants(log, spec)
    assert log.truth["churn_multiplier"].between(min(churn) - 1e-9, max(churn) + 1e-9).all()
    assert log.truth["mix_weight"].between(0, 1).all()
    assert (log.events["ts"] < pd.Timestamp(spec.start) + pd.Timedelta(seconds=days * DAY)).all()


def test_generate_cli_writes_the_named_drift_and_refuses_unknown_ones(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["generate", "--users", "300", "--days", "60", "--out", str(tmp_path)]
    result = runner.invoke(app, [*args, "--drift", "churn-rise"])
    assert result.exit_code == 0, result.output
    assert Drift.from_json((tmp_path / DRIFT_FILE).read_text()) == RISE
    assert set(DRIFT_COLUMNS) <= set(pd.read_parquet(tmp_path / "truth.parquet").columns)
    result = runner.invoke(app, [*args, "--drift", "churn-fall"])
    assert result.exit_code == 2
    assert "churn-rise" in result.output


STEP_DAY = datetime.date(2025, 3, 2)  # day 60 of a 120-day log from 2025-01-01
SHORT = SyntheticSpec(users=2_000, days=120, seed=3)


def stepped(preset: str) -> SyntheticSpec:
    return dataclasses.replace(
        SHORT, drift=dataclasses.replace(DRIFT_PRESETS[preset], since=STEP_DAY)
    )


def sessions_by_segment(log: SyntheticLog, attribute: str, level: str) -> pd.Series:
    """Sessions (each opens with a visit) of the segment's users and the others, before and
    from STEP_DAY."""
    visits = log.events[log.events["event"] == "visit"].merge(log.users, on="user_id")
    member = (visits[attribute] == level).rename("member")
    return visits.groupby([member, (visits["ts"] >= pd.Timestamp(STEP_DAY)).rename("after")]).size()


def test_segment_drop_thins_the_segments_sessions_from_the_date_and_nobody_elses() -> None:
    """The step reuses the stationary log's draws: a session the stationary log has is kept
    with probability `segment_activity` for a segment user from the date on, and always
    otherwise, so only that one count moves, and by the planted factor."""
    spec = stepped("segment-drop")
    assert spec.drift is not None and spec.drift.segment is not None
    log = generate(spec)
    drifted = sessions_by_segment(log, *spec.drift.segment)
    base = sessions_by_segment(generate(SHORT), *spec.drift.segment)
    ratio = drifted / base
    assert ratio.drop((True, True)).eq(1.0).all()
    expected, n = spec.drift.segment_activity, base[(True, True)]
    assert abs(ratio[(True, True)] - expected) < 4 * np.sqrt(expected * (1 - expected) / n)
    attribute, level = spec.drift.segment
    frame = log.truth.merge(log.users, on="user_id")
    member = frame[attribute] == level
    assert (frame.loc[member, "activity_factor"] == expected).all()
    assert (frame.loc[~member, "activity_factor"] == 1.0).all()


def test_new_channel_takes_every_signup_from_the_date_and_no_earlier_one() -> None:
    spec = stepped("new-channel")
    assert spec.drift is not None
    log = generate(spec)
    new = log.users["channel"] == spec.drift.new_channel
    from_the_date = log.users["signup_ts"] >= pd.Timestamp(STEP_DAY)
    assert from_the_date.sum() > 100
    assert (new == from_the_date).all()
    base = generate(SHORT).users
    assert (log.users.loc[~new, "channel"] == base.loc[~new, "channel"]).all()


def test_stepped_drifts_round_trip_through_their_file(tmp_path: Path) -> None:
    for preset in ("segment-drop", "new-channel"):
        log = generate(stepped(preset))
        write(log, tmp_path)
        assert read(tmp_path).drift == log.drift
        assert log.drift is not None and log.drift.since == STEP_DAY


@pytest.mark.parametrize(
    "fields",
    [
        {"segment": ("plan", "gold")},
        {"segment": ("archetype", "power")},
        {"segment": ("plan", "free"), "segment_activity": 0.0},
        {"segment": ("plan", "free"), "segment_activity": 1.5},
        {"new_channel": "paid"},
        {"new_channel": ""},
        {"since": STEP_DAY},  # a date with nothing to change on it
    ],
)
def test_rejects_impossible_steps(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Drift(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "since", [None, SHORT.start, SHORT.start + datetime.timedelta(days=SHORT.days)]
)
def test_a_step_needs_a_date_inside_the_log(since: datetime.date | None) -> None:
    drift = dataclasses.replace(DRIFT_PRESETS["new-channel"], since=since)
    with pytest.raises(ValueError, match="date"):
        dataclasses.replace(SHORT, drift=drift)


def test_generate_cli_plants_a_step_on_the_given_date_and_only_there(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["generate", "--users", "300", "--days", "60", "--out", str(tmp_path)]
    result = runner.invoke(app, [*args, "--drift", "new-channel", "--drift-from", "2025-02-01"])
    assert result.exit_code == 0, result.output
    planted = Drift.from_json((tmp_path / DRIFT_FILE).read_text())
    assert planted == dataclasses.replace(
        DRIFT_PRESETS["new-channel"], since=datetime.date(2025, 2, 1)
    )
    for wrong in (
        ["--drift", "segment-drop"],  # no date
        ["--drift", "churn-rise", "--drift-from", "2025-02-01"],  # not a step
        ["--drift", "segment-drop", "--drift-from", "2026-02-01"],  # after the log
        ["--drift", "segment-drop", "--drift-from", "soon"],
    ):
        result = runner.invoke(app, [*args, *wrong])
        assert result.exit_code == 2, (wrong, result.output)
        assert "--drift-from" in result.output
