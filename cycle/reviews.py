"""Reviews of the cycle's campaigns, each as soon as it can say something new.

A day's campaigns (one per strategy) are reviewed on the first cycle after their window has
closed (day + window <= today: returns are known), and again as each durable outcome becomes
known (day + window + its horizon: 30, 60 and 90 days after, and `lapsed_after_days`). The
report of a campaign day is `reviews/<day>/` (the same files `winback review` writes, and an
MLflow run in `<name>-reviews`); `reviews/all/` pools every reviewed campaign, per strategy
(valid because every day holds out the same control fraction).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import ibis.expr.types as ir
import pandas as pd

from features.config import ChurnConfig
from recall.campaign_file import CampaignList
from recall.durable import Durability
from recall.outcomes import assess
from recall.report import ReportFiles, write_report
from recall.review import Review

POOLED = "all"
LIST_TYPES = {
    "user_id": "str",
    "campaign_id": "str",
    "campaign_date": "str",
    "group": "str",
    "strategy": "str",
    "channel": "str",
    "offer": "str",
}


@dataclass(frozen=True)
class Due:
    campaign_day: dt.date
    stages: tuple[int, ...]  # newly due; the review covers every stage due by today


@dataclass(frozen=True)
class Written:
    campaign_day: dt.date | None  # None: the pooled review
    stages: tuple[int, ...]
    review: Review
    files: ReportFiles


def stages(durability: Durability) -> list[int]:
    return sorted(set(durability.horizons.values()))


def due(
    days: Iterable[dt.date],
    reviewed: dict[dt.date, set[int]],
    today: dt.date,
    window_days: int,
    all_stages: list[int],
) -> list[Due]:
    found = []
    for day in sorted(days):
        ripe = [s for s in all_stages if day + dt.timedelta(days=window_days + s) <= today]
        new = tuple(s for s in ripe if s not in reviewed.get(day, set()))
        if new:
            found.append(Due(day, new))
    return found


def read_list(path: Path) -> pd.DataFrame:
    """A day's recall list as the cycle wrote it (treatment and control)."""
    return pd.read_csv(path, dtype=LIST_TYPES, keep_default_na=False, na_values=[""])


def review_list(
    events: ir.Table,
    churn: ChurnConfig,
    listed: pd.DataFrame,
    name: str,
    first_day: dt.date,
    window_days: int,
    today: dt.date,
    durability: Durability,
    folder: Path,
    charts: bool = True,
) -> tuple[Review, ReportFiles]:
    """Review listed users (one day's, or many days' pooled) with what is known by today."""
    campaign = CampaignList(id=name, date=first_day, users=listed)
    result = assess(events, churn, campaign, window_days, today, durability)
    return result, write_report(result, folder, charts)
