"""The durable outcomes written again in plain pandas, to check `recall.durable` against."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from scipy import stats

from recall.durable import Durability, active

DAY = pd.Timedelta(days=1)


def pandas_outcomes(
    events: pd.DataFrame,
    listed: pd.DataFrame,
    window: int,
    rules: Durability,
    qualifying: list[str] | None,
) -> pd.DataFrame:
    """Per listed (campaign_id, user_id): `recall.durable`'s definitions, in plain pandas."""
    returning = events[events.event.isin(qualifying)] if qualifying else events
    rows = listed.assign(start=pd.to_datetime(listed.campaign_date.astype(str)))
    inside = rows.merge(returning[["user_id", "ts"]], on="user_id")
    inside = inside[(inside.ts >= inside.start) & (inside.ts < inside.start + window * DAY)]
    first = inside.groupby(["campaign_id", "user_id"]).ts.min().rename("back").reset_index()
    first["back_day"] = first.back.dt.normalize()
    out = rows.merge(first, on=["campaign_id", "user_id"], how="left")
    later = first.merge(returning[["user_id", "ts"]], on="user_id")
    later["after"] = (later.ts.dt.normalize() - later.back_day).dt.days
    key = ["campaign_id", "user_id"]
    for k in rules.days:
        hit = later[(later.after > k - rules.active_days) & (later.after <= k)]
        out[active(k)] = out.set_index(key).index.isin(hit.set_index(key).index)
    stay = later[(later.after >= 1) & (later.after <= rules.lapsed_days)]
    out["returned"] = out.back.notna()
    out["lapsed_again"] = out.returned & ~out.set_index(key).index.isin(stay.set_index(key).index)
    spent = first.merge(events[["user_id", "ts", "value"]], on="user_id")
    spent = spent[
        (spent.ts >= spent.back) & (spent.ts < spent.back_day + (rules.value_days + 1) * DAY)
    ]
    value = spent.groupby(key).value.sum().rename("value").reset_index()
    out = out.merge(value, on=key, how="left").fillna({"value": 0.0})
    return out


def welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Mean difference and its 95% Welch interval, from the textbook formula."""
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    half = stats.t.ppf(0.975, df) * np.sqrt(va + vb)
    difference = a.mean() - b.mean()
    return difference, difference - half, difference + half


def pandas_compare(
    outcomes: pd.DataFrame, window: int, rules: Durability, observed: pd.Timestamp, pooled: str
) -> pd.DataFrame:
    """Per strategy (and all pooled) and outcome, over the rows whose outcome is known by
    `observed`: group counts, means, their difference and, for value, Welch's interval."""
    ends = pd.to_datetime(outcomes.campaign_date.astype(str)) + window * DAY
    records = []
    for outcome, horizon in rules.horizons.items():
        known = outcomes[ends + horizon * DAY <= observed]
        strategies = [*sorted(outcomes.strategy.unique()), pooled]
        for strategy in strategies:
            members = known if strategy == pooled else known[known.strategy == strategy]
            treated = members.group == "treatment"
            a = members.loc[treated, outcome].to_numpy(float)
            b = members.loc[~treated, outcome].to_numpy(float)
            record = {
                "strategy": strategy,
                "outcome": outcome,
                "treated": int(treated.sum()),
                "control": int((~treated).sum()),
                "treated_mean": a.mean() if a.size else np.nan,
                "control_mean": b.mean() if b.size else np.nan,
            }
            record["difference"] = record["treated_mean"] - record["control_mean"]
            if outcome == "value" and a.size > 1 and b.size > 1 and (a.var() or b.var()):
                record["welch"] = welch(a, b)
            records.append(record)
    return pd.DataFrame.from_records(records).set_index(["strategy", "outcome"])


def assert_same_comparison(table: pd.DataFrame, expected: pd.DataFrame) -> None:
    """`durable.compare`'s table (indexed by strategy, outcome) against the pandas one."""
    assert sorted(table.index) == sorted(expected.index)
    for index, want in expected.iterrows():
        row = table.loc[index]
        assert (row.treated, row.control) == (want.treated, want.control), index
        for column in ("treated_mean", "control_mean", "difference"):
            assert np.isclose(row[column], want[column], equal_nan=True), (index, column)
        if row.treated + row.control == 0:
            assert row.matures_on > dt.date(2025, 1, 1)
            continue
        if isinstance(want.get("welch"), tuple):
            np.testing.assert_allclose((row.difference, row.ci_low, row.ci_high), want.welch)
        if not np.isnan(row.difference):
            assert row.ci_low <= row.difference <= row.ci_high, index
