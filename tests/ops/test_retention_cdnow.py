"""Cohort retention and active users on the real CDNOW log equal an independent pandas
computation from the raw text file (not from our validated Parquet)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.config import load_config
from features.engine import DuckDBEngine
from features.loading import canonical_events, prepare
from ops.retention import CURVE_DAYS, RETENTION_DAYS, ActiveUsers, Cohorts, active_users, cohorts

REPO = Path(__file__).resolve().parents[2]
RAW = REPO / "data" / "cdnow" / "CDNOW_master.txt"


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cohorts, ActiveUsers]:
    shipped = load_config(REPO / "configs" / "cdnow.yaml")
    config = shipped.model_copy(update={"workdir": str(tmp_path_factory.mktemp("cdnow"))})
    engine = DuckDBEngine()
    events = canonical_events(engine, prepare(config, engine))
    return cohorts(events), active_users(events)


@pytest.fixture(scope="module")
def days() -> pd.DataFrame:
    """Distinct (customer, purchase day) straight from the text file."""
    raw = pd.read_csv(RAW, sep=r"\s+", dtype={"customer_id": str, "date": str})
    raw["day"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    return raw[["customer_id", "day"]].drop_duplicates()


def test_cohort_retention_equals_pandas(
    ours: tuple[Cohorts, ActiveUsers], days: pd.DataFrame
) -> None:
    found, _ = ours
    until = days.day.max() + pd.Timedelta(days=1)
    assert found.observed_until == until.date()
    first = days.groupby("customer_id").day.min().rename("first")
    cohort = first.dt.to_period("M").dt.to_timestamp()
    sizes = cohort.value_counts().sort_index()
    last_first = first.groupby(cohort).max()
    dated = days.join(first, on="customer_id")
    dated["offset"] = (dated.day - dated["first"]).dt.days
    dated["cohort"] = dated["first"].dt.to_period("M").dt.to_timestamp()
    table = found.table.set_index("cohort")
    assert [pd.Timestamp(c) for c in table.index] == list(sizes.index)
    assert table.users.tolist() == sizes.tolist()
    assert sizes.sum() == 23_570  # every CDNOW customer is in a cohort
    for n in RETENTION_DAYS:
        back = dated[dated.offset == n].groupby("cohort").customer_id.nunique()
        share = (back.reindex(sizes.index, fill_value=0) / sizes).where(
            last_first + pd.Timedelta(days=n) < until
        )
        np.testing.assert_allclose(table[f"day_{n}"].to_numpy(), share.to_numpy(), rtol=1e-12)
    early = dated[dated.offset <= CURVE_DAYS]
    curve = early.groupby(["cohort", "offset"]).customer_id.nunique()
    grid = pd.MultiIndex.from_product([sizes.index, range(CURVE_DAYS + 1)])
    expected = curve.reindex(grid, fill_value=0) / sizes.reindex(grid.get_level_values(0)).values
    ours_curve = found.curves.assign(cohort=pd.to_datetime(found.curves.cohort))
    ours_curve = ours_curve.set_index(["cohort", "offset"])["retained"]
    np.testing.assert_allclose(ours_curve.to_numpy(), expected.reindex(ours_curve.index).to_numpy())
    assert len(ours_curve) == len(grid)  # CDNOW's cohorts all reached day 90 long ago


def test_active_users_and_stickiness_equal_pandas(
    ours: tuple[Cohorts, ActiveUsers], days: pd.DataFrame
) -> None:
    _, active = ours
    span = pd.date_range(days.day.min(), days.day.max(), freq="D")
    dau = days.groupby("day").size().reindex(span, fill_value=0)
    assert active.daily.day.tolist() == list(span)
    assert active.daily.users.tolist() == dau.tolist()
    monday = days.day - pd.to_timedelta(days.day.dt.weekday, unit="D")
    wau = days.assign(week=monday).drop_duplicates(["customer_id", "week"]).groupby("week").size()
    assert active.weekly.week.tolist() == list(wau.index)
    assert active.weekly.users.tolist() == wau.tolist()
    month = days.day.dt.to_period("M").dt.to_timestamp()
    mau = days.assign(month=month).drop_duplicates(["customer_id", "month"]).groupby("month").size()
    mean_dau = dau.groupby(dau.index.to_period("M").to_timestamp()).mean()
    monthly = active.monthly.set_index("month")
    assert monthly.users.tolist() == mau.tolist()
    np.testing.assert_allclose(monthly.mean_daily, mean_dau.reindex(mau.index), rtol=1e-12)
    np.testing.assert_allclose(monthly.stickiness, (mean_dau / mau).reindex(mau.index), rtol=1e-12)
    # 1997-01-01 is a Wednesday: the first week is partial, every month is whole
    assert active.weekly.partial.tolist() == [True] + [False] * (len(wau) - 2) + [
        bool(wau.index[-1] + pd.Timedelta(days=7) > days.day.max() + pd.Timedelta(days=1))
    ]
    assert not monthly.partial.any()
