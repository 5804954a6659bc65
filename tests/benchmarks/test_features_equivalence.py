"""The benchmark's two baselines compute the same table as our build, so its timings compare
like with like, and the three definitions cannot drift apart unnoticed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from benchmarks import features_ours, features_pandas, features_sql
from benchmarks.compare import differences
from features.synthetic import SyntheticSpec, generate

Run = Callable[[Path, Sequence[dt.date], dt.date, Path], None]

# 2025-04-15 + 30 days lies past the log, so its labels must all stay null.
CUTOFFS = (dt.date(2025, 3, 1), dt.date(2025, 4, 1), dt.date(2025, 4, 15))
OBSERVED_UNTIL = dt.date(2025, 5, 1)

# Where definitions usually part ways: the edges of T and of the label window, null values
# and sessions, a session across midnight, an unknown event type, a single active day.
EDGE_ROWS = [
    ("edge_a", "2025-02-28 23:59:59", "visit", None, None),
    ("edge_a", "2025-03-01 00:00:00", "visit", 0.0, "edge_a-1"),
    ("edge_b", "2025-01-10 12:00:00", "purchase", 12.5, "edge_b-0"),
    ("edge_c", "2025-02-27 23:59:00", "purchase", None, "edge_c-0"),
    ("edge_c", "2025-02-28 00:01:00", "purchase", 5.0, "edge_c-0"),
    ("edge_c", "2025-02-28 00:02:00", "share", 0.0, "edge_c-0"),
    ("edge_d", "2025-02-20 08:00:00", "view", 0.0, "edge_d-0"),
    ("edge_d", "2025-03-31 00:00:00", "visit", 0.0, "edge_d-1"),
]


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    log = generate(SyntheticSpec(users=300, days=120, seed=11))
    edges = pd.DataFrame(EDGE_ROWS, columns=["user_id", "ts", "event", "value", "session_id"])
    edges["ts"] = pd.to_datetime(edges["ts"]).astype("datetime64[us]")
    frame = pd.concat([log.events, edges.astype(log.events.dtypes.to_dict())], ignore_index=True)
    path = tmp_path_factory.mktemp("bench") / "events.parquet"
    frame.to_parquet(path, index=False)
    return path


def build(run: Run, events: Path, name: str) -> pa.Table:
    out = events.with_name(f"{name}.parquet")
    run(events, CUTOFFS, OBSERVED_UNTIL, out)
    return pq.read_table(out)


@pytest.fixture(scope="module")
def ours(events: Path) -> pa.Table:
    return build(features_ours.run, events, "ours")


def test_the_data_reaches_every_rule(ours: pa.Table) -> None:
    """Equal outputs prove little unless the data exercises nulls, labels and statuses."""
    assert ours.num_rows > 500
    assert set(pc.unique(ours["status"]).to_pylist()) >= {"active", "lapsed"}
    assert set(pc.unique(ours["label"]).to_pylist()) == {0, 1, None}
    for column in (
        "recency_valued_days",
        "value_mean_7d",
        "gap_std_days",
        "events_trend_ratio_30d",
    ):
        assert 0 < ours[column].null_count < ours.num_rows, column
    last = ours.filter(pc.equal(ours["cutoff"], pa.scalar(CUTOFFS[-1])))
    assert last["label"].null_count == last.num_rows


@pytest.mark.parametrize(
    ("name", "run"), [("sql", features_sql.run), ("pandas", features_pandas.run)]
)
def test_baseline_matches_our_build(events: Path, ours: pa.Table, name: str, run: Run) -> None:
    assert differences(ours, build(run, events, name), name) == []


def test_comparison_catches_small_differences(ours: pa.Table) -> None:
    """A comparison that cannot fail would make the benchmark's check worthless."""
    column = ours.schema.get_field_index("tenure_days")
    nudged = ours.set_column(column, "tenure_days", pc.multiply(ours["tenure_days"], 1 + 1e-7))
    assert any("tenure_days" in problem for problem in differences(ours, nudged, "nudged"))
    label = ours.schema.get_field_index("label")
    nulled = ours.set_column(label, "label", pa.nulls(ours.num_rows, pa.int8()))
    assert any("label" in problem for problem in differences(ours, nulled, "nulled"))
    assert differences(ours, ours.slice(1), "short") != []
