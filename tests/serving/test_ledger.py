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

from serving.ledger import COLUMNS, Entry, entries, read_entry, record


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
