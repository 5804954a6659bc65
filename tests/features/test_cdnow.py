"""The real CDNOW log: validation totals, and a few customers checked against plain pandas."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from core.config import DatasetConfig, load_config
from features.engine import DuckDBEngine
from features.loading import Prepared, prepare
from features.pipeline import snapshots

REPO = Path(__file__).resolve().parents[2]
RAW = REPO / "data" / "cdnow" / "CDNOW_master.txt"
CUTOFF = dt.date(1997, 10, 1)
# Two each: active and back within 90 days, active and gone, lapsed, heavy buyers; one single.
CUSTOMERS = ["01310", "22329", "13305", "04527", "07122", "08492", "19947", "16517", "00010"]


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> DatasetConfig:
    shipped = load_config(REPO / "configs" / "cdnow.yaml")
    return shipped.model_copy(update={"workdir": str(tmp_path_factory.mktemp("cdnow"))})


@pytest.fixture(scope="module")
def prepared(config: DatasetConfig) -> Prepared:
    return prepare(config, DuckDBEngine())


def test_validation_reads_every_purchase_and_quarantines_none(prepared: Prepared) -> None:
    report = prepared.events
    assert (report.rows_read, report.rows_good, report.users) == (69_659, 69_659, 23_570)
    assert report.quarantined == {}
    assert (report.first_ts, report.last_ts) == ("1997-01-01 00:00:00", "1998-06-30 00:00:00")


@pytest.fixture(scope="module")
def by_pandas() -> pd.DataFrame:
    raw = pd.read_csv(RAW, sep=r"\s+", dtype={"customer_id": str, "date": str})
    raw["ts"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    before = raw[(raw.ts < pd.Timestamp(CUTOFF)) & raw.customer_id.isin(CUSTOMERS)]
    cutoff = pd.Timestamp(CUTOFF)
    rows = {}
    for user, grp in before.groupby("customer_id"):
        days = grp.ts.drop_duplicates().sort_values()
        recent = grp[grp.ts >= cutoff - pd.Timedelta(days=90)]
        ahead = raw[
            (raw.customer_id == user)
            & (raw.ts >= cutoff)
            & (raw.ts < cutoff + pd.Timedelta(days=90))
        ]
        recency = (cutoff - grp.ts.max()).days
        rows[user] = {
            "recency_days": float(recency),
            "events_total": len(grp),
            "active_days_total": len(days),
            "events_90d": len(recent),
            "value_90d": recent.dollar_value.sum(),
            "value_total": grp.dollar_value.sum(),
            "tenure_days": float((cutoff - grp.ts.min()).days),
            "gap_mean_days": days.diff().dt.days.mean(),
            "status": "active" if recency <= 180 else "lapsed",
            "label": float(ahead.empty) if recency <= 180 else float("nan"),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def test_features_for_sample_customers_match_pandas(
    config: DatasetConfig, prepared: Prepared, by_pandas: pd.DataFrame
) -> None:
    engine = DuckDBEngine()
    table, _ = snapshots(config, engine, [CUTOFF])
    ours = engine.con.to_pandas(table.filter(table.user_id.isin(CUSTOMERS))).set_index("user_id")
    assert sorted(ours.index) == sorted(by_pandas.index)
    for column in by_pandas.columns:
        expected = by_pandas[column].sort_index()
        actual = ours[column].sort_index()
        if column == "status":
            assert actual.tolist() == expected.tolist()
        else:
            pd.testing.assert_series_equal(
                actual.astype("float64"), expected.astype("float64"), check_names=False, rtol=1e-9
            )
