"""The ledger keeps one copy of every prediction: rescoring a cutoff with the same model
version replaces its rows, other versions and cutoffs stay beside it."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from serving.ledger import (
    COLUMNS,
    Entry,
    contacted,
    entries,
    read_entry,
    record,
    record_campaign,
)


def _scores(users: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    probability = rng.random(users)
    rank = pd.array(np.argsort(np.argsort(-probability)) + 1, dtype="Int64")
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(users)],
            "status": "active",
            "churn_probability": probability,
            "risk_band": rng.choice(["low", "medium", "high", "critical"], users),
            "rank": rank,
            "reasons": "[]",  # the scores file has more columns; the ledger keeps its own
        }
    )


CUTOFFS = st.sampled_from([dt.date(2025, 6, 1), dt.date(2025, 7, 1)])
VERSIONS = st.sampled_from(["1", "2"])
WRITES = st.lists(st.tuples(CUTOFFS, VERSIONS, st.integers(1, 30)), min_size=1, max_size=8)


@settings(max_examples=30, deadline=None)
@given(writes=WRITES)
def test_rescoring_a_cutoff_and_version_replaces_never_duplicates(
    writes: list[tuple[dt.date, str, int]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        last: dict[tuple[dt.date, str], pd.DataFrame] = {}
        for seed, (cutoff, version, users) in enumerate(writes):
            scores = _scores(users, seed)
            record(root, scores, Entry("churn", version, f"store-{seed}", cutoff))
            last[cutoff, version] = scores
        found = entries(root)
        assert sorted((e.cutoff, e.model_version) for e, _ in found) == sorted(last)
        for entry, path in found:
            kept = read_entry(path)
            expected = last[entry.cutoff, entry.model_version]
            assert kept.user_id.is_unique
            pd.testing.assert_frame_equal(
                kept[list(COLUMNS)], expected[list(COLUMNS)], check_dtype=False
            )
            assert set(kept.cutoff) == {entry.cutoff}
        assert not list(root.rglob(".*"))  # no partial files left behind


def test_the_ledger_is_partitioned_by_cutoff(tmp_path: Path) -> None:
    entry = Entry("my churn/model", "3", "s1", dt.date(2025, 6, 1))
    path = record(tmp_path, _scores(5, 0), entry)
    assert path.parent.name == "cutoff=2025-06-01"
    assert path.name == "my_churn_model-v3.parquet"
    assert entries(tmp_path) == [(entry, path)]


def _listed(campaign: str, day: str, groups: list[str]) -> pd.DataFrame:
    users = len(groups)
    return pd.DataFrame(
        {
            "campaign_id": campaign,
            "campaign_date": day,
            "user_id": [f"u{i}" for i in range(users)],
            "group": groups,
            "strategy": "at_risk_coupon",
            "channel": "email",
            "churn_probability": np.linspace(0.9, 0.5, users),
            "risk_band": "high",
            "model_version": 4,
            "why": "kept out of the ledger",
        }
    )


def test_a_recall_list_is_kept_once_and_its_treated_users_found_by_date(tmp_path: Path) -> None:
    cutoff = dt.date(2025, 6, 1)
    record_campaign(tmp_path, _listed("c1", "2025-06-02", ["treatment"] * 3), cutoff)
    path = record_campaign(tmp_path, _listed("c1", "2025-06-02", ["treatment", "control"]), cutoff)
    record_campaign(tmp_path, _listed("c2", "2025-07-09", ["treatment"]), cutoff)
    assert path.parent.name == "cutoff=2025-06-01"
    assert "why" not in pd.read_parquet(path).columns
    june = contacted(tmp_path, dt.date(2025, 6, 1), dt.date(2025, 7, 1))
    assert list(june.user_id) == ["u0"] and list(june.campaign_id) == ["c1"]
    assert len(contacted(tmp_path, dt.date(2025, 6, 1), dt.date(2025, 7, 10))) == 2
    assert contacted(tmp_path / "none", cutoff, dt.date(2026, 1, 1)).empty
    assert entries(tmp_path) == []  # recall lists are not prediction snapshots
