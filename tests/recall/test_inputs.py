"""Inputs recall reads (scores, contact history, opt-outs) fail with the file, row and column."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from core.config import InputError
from recall.contacts import read_contacts, read_opt_outs, recently_contacted
from recall.scores import campaign_frame, read_scores
from tests.recall.builders import CUTOFF, policy, users


def test_contact_times_with_offsets_become_naive_utc(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text(
        "user_id,channel,contacted_at\n"
        "u1,sms,2025-08-31T23:30:00-02:00\n"  # 2025-09-01 01:30 UTC
        "u2,email,2025-08-10\n"
    )
    contacts = read_contacts(str(path))
    assert contacts.contacted_at.tolist() == [
        pd.Timestamp("2025-09-01 01:30"),
        pd.Timestamp("2025-08-10"),
    ]
    ids = pd.Series(["u1", "u2", "u3"])
    assert recently_contacted(ids, contacts, dt.date(2025, 9, 1), 14).tolist() == [
        True,
        False,
        False,
    ]
    assert not recently_contacted(ids, contacts, dt.date(2025, 9, 1), 0).any()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("user_id,channel,contacted_at\nu1,fax,2025-08-01\n", "line 2: channel 'fax' is not one"),
        (
            "user_id,channel,contacted_at\nu1,sms,2025-08-01\nu2,sms,yesterday\n",
            "line 3: contacted_at",
        ),
        ("user_id,contacted_at\nu1,2025-08-01\n", "missing column(s) channel"),
    ],
)
def test_bad_contact_rows_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text(text)
    with pytest.raises(InputError) as error:
        read_contacts(str(path))
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)


def test_opt_outs_read_from_parquet_and_missing_files_are_named(tmp_path: Path) -> None:
    path = tmp_path / "opt_outs.parquet"
    pd.DataFrame({"user_id": ["u1"], "channel": ["push"], "note": ["asked"]}).to_parquet(path)
    assert read_opt_outs(str(path)).to_dict("records") == [{"user_id": "u1", "channel": "push"}]
    with pytest.raises(InputError, match=r"nope\.csv: file not found"):
        read_opt_outs(str(tmp_path / "nope.csv"))


Frames = tuple[pd.DataFrame, pd.DataFrame]
Change = Callable[[pd.DataFrame, pd.DataFrame], Frames]


def scores_and_features(n: int = 20) -> Frames:
    frame = users(n)
    features = frame[["user_id", "recency_days", "active_days_total", "value_total", "tenure_days"]]
    scores = frame.drop(columns=features.columns[1:])
    return scores, features.assign(cutoff=CUTOFF.isoformat())


def test_scores_join_the_store_features() -> None:
    scores, features = scores_and_features()
    joined = campaign_frame(scores, features, policy())
    assert len(joined) == len(scores) and joined.value_total.notna().all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s, f: (s, f.assign(cutoff="2025-08-01")), "score the current store again"),
        (lambda s, f: (s, f.iloc[1:]), "1 scored users are not in the online store"),
        (lambda s, f: (s, f.drop(columns="value_total")), "no feature value_total"),
    ],
)
def test_scores_that_do_not_match_the_store_are_refused(change: Change, message: str) -> None:
    scores, features = change(*scores_and_features())
    with pytest.raises(InputError, match=message):
        campaign_frame(scores, features, policy())


def test_a_campaign_cannot_go_out_before_the_scores_cutoff() -> None:
    scores, features = scores_and_features()
    early = policy(campaign={"id": "x", "date": CUTOFF - dt.timedelta(days=1)})
    with pytest.raises(InputError, match="is before the scores' cutoff 2025-09-01"):
        campaign_frame(scores, features, early)


def test_scores_files_are_checked_against_the_contract(tmp_path: Path) -> None:
    scores, _ = scores_and_features()
    path = tmp_path / "scores.parquet"
    scores.drop(columns="risk_band").to_parquet(path)
    with pytest.raises(InputError, match="scores lack column\\(s\\) risk_band"):
        read_scores(path)
    pd.concat([scores, scores.iloc[:1]]).to_parquet(path)
    with pytest.raises(InputError, match="has more than one score row"):
        read_scores(path)
    with pytest.raises(InputError, match="batch scoring writes it"):
        read_scores(tmp_path / "missing.parquet")
