"""The other baseline: the same columns the way a data scientist writes them in pandas.

Per cutoff: filter the raw events to the history before T, group by user for each window,
and merge the pieces on user_id. Constants follow `data.SPEC` and `data.CHURN`. Events at
or after T never reach a feature; only the label looks at [T, T + 30 days).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

WINDOWS = (7, 14, 30, 90)
TREND = 30
EVENT_TYPES = ("visit", "view", "add_to_cart", "purchase", "cancel")
HORIZON_DAYS = 30
STATUS_WINDOW = 60  # active_window_days and lapsed_after_days are both 60
DAY = pd.Timedelta(days=1)


def load(events: Path) -> pd.DataFrame:
    frame = pd.read_parquet(events, columns=["user_id", "ts", "event", "value", "session_id"])
    frame["value"] = frame["value"].fillna(0.0)
    frame["valued"] = frame["value"] > 0
    frame["day"] = frame["ts"].dt.floor("D")
    return frame


def in_days(delta: pd.Series) -> pd.Series:
    """Timedeltas as fractional days, as the SQL's epoch arithmetic gives them."""
    return delta.dt.total_seconds() / DAY.total_seconds()


def ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """NaN (null in Parquet), not inf, where there is nothing to divide by."""
    return numerator / denominator.where(denominator != 0)


def window_stats(events: pd.DataFrame, suffix: str) -> pd.DataFrame:
    """Counts, active days and value over one slice of history, per user."""
    by_user = events.groupby("user_id")
    return pd.DataFrame(
        {
            f"events_{suffix}": by_user.size(),
            f"active_days_{suffix}": by_user["day"].nunique(),
            f"value_{suffix}": by_user["value"].sum(),
            f"valued_{suffix}": by_user["valued"].sum(),
        }
    )


def gap_stats(history: pd.DataFrame) -> pd.DataFrame:
    """Mean, sample std and max of the days between consecutive active days."""
    days = history[["user_id", "day"]].drop_duplicates().sort_values(["user_id", "day"])
    days["gap"] = in_days(days.groupby("user_id")["day"].diff())
    by_user = days.groupby("user_id")["gap"]
    return pd.DataFrame(
        {
            "gap_mean_days": by_user.mean(),
            "gap_std_days": by_user.std(),
            "gap_max_days": by_user.max(),
        }
    )


def features_at(events: pd.DataFrame, cutoff: dt.date, observed_until: dt.date) -> pd.DataFrame:
    """One row per user seen before `cutoff`."""
    t = pd.Timestamp(cutoff)
    history = events[events["ts"] < t]
    by_user = history.groupby("user_id")
    out = pd.DataFrame(
        {
            "first_ts": by_user["ts"].min(),
            "last_ts": by_user["ts"].max(),
            "last_valued_ts": history[history["valued"]].groupby("user_id")["ts"].max(),
        }
    )
    slices = {f"{days}d": history[history["ts"] >= t - days * DAY] for days in WINDOWS}
    slices["total"] = history
    slices["prev"] = history[
        (history["ts"] >= t - 2 * TREND * DAY) & (history["ts"] < t - TREND * DAY)
    ]
    slices["status"] = history[history["ts"] >= t - STATUS_WINDOW * DAY]
    stats = pd.concat([window_stats(part, name) for name, part in slices.items()], axis=1)
    out = out.join(stats.reindex(out.index).fillna(0))

    longest = slices[f"{WINDOWS[-1]}d"]
    kinds = longest.groupby(["user_id", "event"]).size().unstack(fill_value=0)
    kinds = kinds.reindex(index=out.index, columns=list(EVENT_TYPES), fill_value=0)
    sessions = (
        longest.dropna(subset=["session_id"])
        .drop_duplicates(["user_id", "day", "session_id"])
        .groupby("user_id")
        .size()
        .reindex(out.index, fill_value=0)
    )
    future = events[(events["ts"] >= t) & (events["ts"] < t + HORIZON_DAYS * DAY)]
    future_events = future.groupby("user_id").size().reindex(out.index, fill_value=0)
    out = out.join(gap_stats(history))

    recency = in_days(t - out["last_ts"])
    # Lapsed: nothing in the lapse window; active: something in the active window; with
    # both windows 60 days, nobody is dormant, but the rule is written out in full.
    recent_days = out["active_days_status"]
    status = np.select([recent_days == 0, recent_days > 0], ["lapsed", "active"], "dormant")
    # Only users active at T whose whole label window has been observed get a label.
    window_over = cutoff + dt.timedelta(days=HORIZON_DAYS) <= observed_until
    label = (future_events == 0).astype("Int8").where((status == "active") & window_over)

    result = pd.DataFrame(index=out.index)
    result["cutoff"] = cutoff
    result["status"] = status
    result["label"] = label
    result["recency_days"] = recency
    result["recency_valued_days"] = in_days(t - out["last_valued_ts"])
    for days in WINDOWS:
        result[f"events_{days}d"] = out[f"events_{days}d"].astype("int64")
        result[f"active_days_{days}d"] = out[f"active_days_{days}d"].astype("int64")
    result["events_total"] = out["events_total"].astype("int64")
    result["active_days_total"] = out["active_days_total"].astype("int64")
    for days in WINDOWS:
        result[f"value_{days}d"] = out[f"value_{days}d"]
        result[f"value_mean_{days}d"] = ratio(out[f"value_{days}d"], out[f"valued_{days}d"])
    result["value_total"] = out["value_total"]
    result["value_mean_total"] = ratio(out["value_total"], out["valued_total"])
    longest_name = f"{WINDOWS[-1]}d"
    result["events_per_active_day"] = out["events_total"] / out["active_days_total"]
    result[f"events_per_active_day_{longest_name}"] = ratio(
        out[f"events_{longest_name}"], out[f"active_days_{longest_name}"]
    )
    for kind in EVENT_TYPES:
        result[f"share_{kind}_{longest_name}"] = ratio(kinds[kind], out[f"events_{longest_name}"])
    result[f"sessions_{longest_name}"] = sessions.astype("int64")
    result[f"events_per_session_{longest_name}"] = ratio(out[f"events_{longest_name}"], sessions)
    trend = f"{TREND}d"
    result[f"events_trend_ratio_{trend}"] = ratio(out[f"events_{trend}"], out["events_prev"])
    result[f"events_trend_diff_{trend}"] = (out[f"events_{trend}"] - out["events_prev"]).astype(
        "int64"
    )
    result[f"active_days_trend_diff_{trend}"] = (
        out[f"active_days_{trend}"] - out["active_days_prev"]
    ).astype("int64")
    result[f"value_trend_diff_{trend}"] = out[f"value_{trend}"] - out["value_prev"]
    for name in ("gap_mean_days", "gap_std_days", "gap_max_days"):
        result[name] = out[name]
    result["gap_current_ratio"] = ratio(recency, out["gap_mean_days"])
    result["tenure_days"] = in_days(t - out["first_ts"])
    return result


def build(
    events: pd.DataFrame, cutoffs: Sequence[dt.date], observed_until: dt.date
) -> pd.DataFrame:
    parts = [features_at(events, cutoff, observed_until) for cutoff in sorted(set(cutoffs))]
    table = pd.concat(parts).rename_axis("user_id").reset_index()
    return table.sort_values(["user_id", "cutoff"], ignore_index=True)


def run(events: Path, cutoffs: Sequence[dt.date], observed_until: dt.date, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    build(load(events), cutoffs, observed_until).to_parquet(out, index=False)
