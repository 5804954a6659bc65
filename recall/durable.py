"""Did the ones who came back stay? Durable outcomes of a campaign, treated against control.

Returning within the window can be a coupon collected and nothing more. So, for a listed user
of a campaign on day d with a window of W days, whose first returning event in [d, d + W) is
at r (on day R):
- `active_<k>d`: still active k days after returning, i.e. a returning event on one of the
  `active_days` days up to k days after R: on a day in (R + k - active_days, R + k];
- `lapsed_again`: came back, then nothing: no returning event on the `lapsed_days` days after R
  (the dataset's `lapsed_after_days`), so the user is lapsed again;
- `value`: the value of all the user's events from r through the `value_days` days after R.
Users who did not return count as not active, not lapsed again and 0 value: every outcome is
over the whole group, so treated against control compares like with like (intent to treat).
An outcome is known once its last day is observed for every listed user: d + W + its
horizon (k, `lapsed_days`, `value_days`) days, the latest return plus the horizon; until then
it is reported with the day it matures on instead of a number.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy.stats import ttest_ind

from features.config import ChurnConfig
from recall.codes import TREATMENT
from recall.returning import is_return
from recall.stats import newcombe, z_value

DAY_SECONDS = 86_400
RETURNED, LAPSED_AGAIN, VALUE = "returned", "lapsed_again", "value"
KEY = ("campaign_id", "user_id")


@dataclass(frozen=True)
class Durability:
    """What "durable" means: the days after returning at which activity is looked for."""

    lapsed_days: int
    days: tuple[int, ...] = (30, 60, 90)
    active_days: int = 30
    value_days: int = 90

    @property
    def horizons(self) -> dict[str, int]:
        """Each outcome and the days after the window it needs observed."""
        return {
            RETURNED: 0,
            **{active(k): k for k in self.days},
            LAPSED_AGAIN: self.lapsed_days,
            VALUE: self.value_days,
        }


def active(days: int) -> str:
    return f"active_{days}d"


def outcomes(
    events: ir.Table,
    churn: ChurnConfig,
    listed: pd.DataFrame,
    window_days: int,
    durability: Durability,
) -> pd.DataFrame:
    """Per listed row (campaign_id, user_id, campaign_date): every outcome of the module doc,
    computed where the events are (DuckDB or Spark), whether or not it has matured yet."""
    start = pd.to_datetime(listed["campaign_date"].astype("str")).astype("datetime64[us]")
    people = ibis.memtable(
        pd.DataFrame(
            {
                "campaign_id": listed["campaign_id"].astype("str").to_numpy(),
                "user_id": listed["user_id"].astype("str").to_numpy(),
                "start": start.to_numpy(),
                "end": (start + pd.Timedelta(days=window_days)).to_numpy(),
            }
        )
    )
    stamped = events.mutate(secs=events.ts.epoch_seconds(), back_event=is_return(events, churn))
    returning = stamped.filter(stamped.back_event)
    inside = people.join(returning, "user_id").filter(lambda t: (t.ts >= t.start) & (t.ts < t.end))
    first = inside.group_by(list(KEY)).aggregate(back=inside.secs.min())
    first = first.mutate(back_day=first.back - first.back % DAY_SECONDS)
    later = first.join(stamped, "user_id")
    later = later.mutate(day=(later.secs - later.back_day) // DAY_SECONDS)
    returned_on = later.back_event
    flags = later.group_by(list(KEY)).aggregate(
        back=later.back.max(),
        stayed=(returned_on & (later.day >= 1) & (later.day <= durability.lapsed_days)).any(),
        value=later.value.fill_null(0)
        .sum(where=(later.secs >= later.back) & (later.day <= durability.value_days))
        .fill_null(0),
        **{
            active(k): (
                returned_on & (later.day > k - durability.active_days) & (later.day <= k)
            ).any()
            for k in durability.days
        },
    )
    found = flags.to_pandas()
    frame = listed.astype({"campaign_id": "str", "user_id": "str"}).merge(
        found, on=list(KEY), how="left", validate="one_to_one"
    )
    came_back = frame["back"].notna()
    columns: dict[str, pd.Series] = {
        RETURNED: came_back,
        LAPSED_AGAIN: came_back & ~frame["stayed"].fillna(False).astype(bool),
        VALUE: frame["value"].fillna(0.0).astype("float64"),
    }
    for k in durability.days:
        columns[active(k)] = frame[active(k)].fillna(False).astype(bool)
    stale = ["back", "stayed", *columns]
    return frame.drop(columns=stale, errors="ignore").assign(**columns)


def matures_on(campaign_date: pd.Series, window_days: int, horizon: int) -> pd.Series:
    days = pd.Timedelta(days=window_days + horizon)
    return (pd.to_datetime(campaign_date.astype("str")) + days).dt.date


def _welch(treated: np.ndarray, control: np.ndarray, confidence: float) -> tuple[float, ...]:
    """Mean difference with Welch's t interval (NaN when a group has fewer than 2 users)."""
    if treated.size < 2 or control.size < 2:
        return (np.nan, np.nan, np.nan)
    difference = float(treated.mean() - control.mean())
    if treated.var() == 0 and control.var() == 0:
        return (difference, difference, difference)
    test = ttest_ind(treated, control, equal_var=False)
    interval = test.confidence_interval(confidence)
    return (difference, float(interval.low), float(interval.high))


def compare(
    rows: pd.DataFrame,
    window_days: int,
    durability: Durability,
    observed_until: dt.date,
    confidence: float,
    pooled: str,
) -> pd.DataFrame:
    """One row per (strategy, outcome), then the strategies pooled (`pooled`): treated and
    control counts, the outcome in each group (share, or mean value), their difference with
    its interval (Newcombe for shares, Welch for value), and when it matures. Rows of a
    campaign whose outcome has not matured are left out of that outcome."""
    records = []
    groups = [*rows.groupby("strategy", sort=True), (pooled, rows)]
    window_end = pd.to_datetime(rows["campaign_date"].astype("str")) + pd.Timedelta(
        days=window_days
    )
    for outcome, horizon in durability.horizons.items():
        known_on = window_end + pd.Timedelta(days=horizon)
        ripe = known_on <= pd.Timestamp(observed_until)
        for strategy, members in groups:
            known = members[ripe.loc[members.index]]
            treated = known["group"] == TREATMENT
            record = {
                "strategy": strategy,
                "outcome": outcome,
                "treated": int(treated.sum()),
                "control": int((~treated).sum()),
                "matures_on": known_on.loc[members.index].max().date(),
            }
            values = known[outcome].to_numpy(np.float64)
            a, b = values[treated.to_numpy()], values[~treated.to_numpy()]
            if outcome == VALUE:
                difference, low, high = _welch(a, b, confidence)
            else:
                between = newcombe(
                    np.array([a.sum()]),
                    np.array([float(a.size)]),
                    np.array([b.sum()]),
                    np.array([float(b.size)]),
                    z_value(confidence),
                )
                difference, low, high = (
                    float(between.estimate[0]),
                    float(between.low[0]),
                    float(between.high[0]),
                )
            record.update(
                treated_mean=float(a.mean()) if a.size else np.nan,
                control_mean=float(b.mean()) if b.size else np.nan,
                difference=difference,
                ci_low=low,
                ci_high=high,
                significant=bool(low > 0 or high < 0),
            )
            records.append(record)
    return pd.DataFrame.from_records(records)
