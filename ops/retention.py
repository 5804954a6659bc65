"""Retention from the event log: cohorts by month of first activity, active users per day,
week and month, and stickiness (DAU/MAU).

Definitions (stated on the page too):
- a user is active on a day (UTC) with at least one event that day;
- a cohort is the users whose first active day falls in one calendar month;
- day-N retention of a cohort: the share of its users active on day N after their first
  active day (day 0). It is given only once every user of the cohort has reached day N
  inside the log, so a young cohort's number is never a half-observed one;
- DAU, WAU (weeks from Monday), MAU (calendar months): distinct active users per period;
  stickiness: mean DAU over the month's days divided by its MAU. Periods the log covers only
  in part are flagged.

The heavy part (distinct user-days of millions of events) runs on the engine; what comes
back is a few hundred rows per figure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from features.pipeline import observed_until

RETENTION_DAYS = (1, 7, 30, 90)
CURVE_DAYS = 90
USER, DAY, FIRST, COHORT, OFFSET, USERS = "user_id", "day", "first_day", "cohort", "offset", "users"


@dataclass(frozen=True)
class Cohorts:
    table: pd.DataFrame  # cohort (month start), users, day_<N> shares (NaN: not reached yet)
    curves: pd.DataFrame  # cohort, offset (day N), retained (share); reached days only
    observed_until: dt.date  # first day the log does not cover


@dataclass(frozen=True)
class ActiveUsers:
    daily: pd.DataFrame  # day, users: every day of the log, zeros included
    weekly: pd.DataFrame  # week (its Monday), users, partial
    monthly: pd.DataFrame  # month, users (MAU), mean_daily (DAU), stickiness, partial
    observed_until: dt.date


def active_days(events: ir.Table) -> ir.Table:
    """One row per user and UTC day with an event (the day of features.timeline)."""
    return events.select(**{USER: events.user_id, DAY: events.ts.date()}).distinct()


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.date


def cohorts(
    events: ir.Table, days: Sequence[int] = RETENTION_DAYS, curve_days: int = CURVE_DAYS
) -> Cohorts:
    active = active_days(events)
    first = active.group_by(USER).aggregate(**{FIRST: active[DAY].min()})
    sizes = first.group_by(**{COHORT: first[FIRST].truncate("M")}).aggregate(
        **{USERS: first.count(), "last_first": first[FIRST].max()}
    )
    joined = active.join(first, USER)
    dated = joined.mutate(
        **{
            COHORT: joined[FIRST].truncate("M"),
            OFFSET: joined[DAY].delta(joined[FIRST], unit="day"),
        }
    )
    early = dated.filter(dated[OFFSET] <= max(curve_days, *days))
    came_back = early.group_by([COHORT, OFFSET]).aggregate(**{USERS: early.count()})
    return retention_table(
        sizes.to_pandas(), came_back.to_pandas(), observed_until(events), days, curve_days
    )


def retention_table(
    sizes: pd.DataFrame,
    came_back: pd.DataFrame,
    until: dt.date,
    days: Sequence[int],
    curve_days: int,
) -> Cohorts:
    """`sizes`: cohort, users, last_first; `came_back`: cohort, offset, users (active that
    day). A cohort has reached day N when its last first day + N is before `until`."""
    sizes = sizes.assign(cohort=_dates(sizes[COHORT]), last_first=_dates(sizes["last_first"]))
    sizes = sizes.sort_values(COHORT).reset_index(drop=True)
    back = came_back.assign(cohort=_dates(came_back[COHORT])).astype({OFFSET: "int64"})
    reached = dict(
        zip(sizes[COHORT], [(until - last).days - 1 for last in sizes["last_first"]], strict=True)
    )
    grid = pd.MultiIndex.from_product(
        [sizes[COHORT], range(max(curve_days, *days) + 1)], names=[COHORT, OFFSET]
    )
    counts = back.set_index([COHORT, OFFSET])[USERS].reindex(grid, fill_value=0)
    share = counts / sizes.set_index(COHORT)[USERS].reindex(grid.get_level_values(COHORT)).values
    frame = share.rename("retained").reset_index()
    frame = frame[frame[OFFSET] <= frame[COHORT].map(reached)]
    table = sizes[[COHORT, USERS]].copy()
    for n in days:
        at = frame[frame[OFFSET] == n].set_index(COHORT)["retained"]
        table[f"day_{n}"] = table[COHORT].map(at).astype("float64")
    curves = frame[frame[OFFSET] <= curve_days].reset_index(drop=True)
    return Cohorts(table=table, curves=curves, observed_until=until)


def active_users(events: ir.Table) -> ActiveUsers:
    active = active_days(events)
    daily = active.group_by(DAY).aggregate(**{USERS: active.count()})
    periods = {}
    for name, unit in (("week", "W"), ("month", "M")):
        spans = active.select(USER, **{name: active[DAY].truncate(unit)}).distinct()
        periods[name] = spans.group_by(name).aggregate(**{USERS: spans.count()}).to_pandas()
    return active_user_tables(
        daily.to_pandas(), periods["week"], periods["month"], observed_until(events)
    )


def _partial(starts: pd.Series, ends: pd.Series, first: dt.date, until: dt.date) -> pd.Series:
    """A period the log does not cover whole: it starts before the first day or ends after
    the last one."""
    return (starts < pd.Timestamp(first)) | (ends > pd.Timestamp(until))


def active_user_tables(
    daily: pd.DataFrame, weekly: pd.DataFrame, monthly: pd.DataFrame, until: dt.date
) -> ActiveUsers:
    """Per-period counts from the engine, filled and joined into the page's tables."""
    counts = daily.assign(day=pd.to_datetime(daily[DAY])).set_index(DAY)[USERS]
    first = counts.index.min().date() if len(counts) else until
    every_day = pd.date_range(first, until - dt.timedelta(days=1), freq="D", name=DAY)
    per_day = counts.reindex(every_day, fill_value=0).astype("int64")
    week = weekly.assign(week=pd.to_datetime(weekly["week"])).sort_values("week")
    week["partial"] = _partial(week["week"], week["week"] + pd.Timedelta(days=7), first, until)
    month = monthly.assign(month=pd.to_datetime(monthly["month"])).sort_values("month")
    month_of_day = pd.DatetimeIndex(per_day.index).to_period("M").to_timestamp()
    mean_daily = per_day.groupby(month_of_day).mean()
    month["mean_daily"] = month["month"].map(mean_daily).astype("float64")
    month["stickiness"] = month["mean_daily"] / month[USERS].where(month[USERS] > 0, np.nan)
    month_end = month["month"] + pd.offsets.MonthBegin(1)
    month["partial"] = _partial(month["month"], month_end, first, until)
    return ActiveUsers(
        daily=per_day.rename(USERS).reset_index(),
        weekly=week.reset_index(drop=True),
        monthly=month.reset_index(drop=True),
        observed_until=until,
    )
