"""recall.csv: the list operations receive, and what the review reads back weeks later.

The file carries its campaign id and date on every row, so the review needs nothing else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.config import InputError
from recall.codes import CONTROL, TREATMENT
from recall.selection import recall_list

REVIEW_COLUMNS = (
    "campaign_id",
    "campaign_date",
    "user_id",
    "group",
    "strategy",
    "channel",
    "cost",
    "user_value",
)


@dataclass(frozen=True)
class CampaignList:
    id: str
    date: dt.date
    users: pd.DataFrame  # one row per listed user, with at least REVIEW_COLUMNS


def write_recall_list(decisions: pd.DataFrame, path: Path) -> pd.DataFrame:
    listed = recall_list(decisions)
    path.parent.mkdir(parents=True, exist_ok=True)
    listed.to_csv(path, index=False)
    return listed


def read_campaign(path: Path) -> CampaignList:
    try:
        frame = pd.read_csv(path, dtype={"user_id": "str", "strategy": "str", "group": "str"})
    except FileNotFoundError:
        raise InputError(f"{path}: campaign list not found (`winback recall` writes it)") from None
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: cannot read the campaign list ({error})") from None
    missing = [c for c in REVIEW_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    campaigns = frame[["campaign_id", "campaign_date"]].drop_duplicates()
    if len(campaigns) != 1:
        raise InputError(f"{path}: expected one campaign, found {len(campaigns)}")
    odd = frame.loc[~frame.group.isin([TREATMENT, CONTROL]), "group"]
    if not odd.empty:
        raise InputError(f"{path}: group {odd.iloc[0]!r} is not treatment or control")
    if frame.user_id.duplicated().any():
        raise InputError(
            f"{path}: user {frame.user_id[frame.user_id.duplicated()].iloc[0]!r} is listed twice"
        )
    for column in ("cost", "user_value"):
        number = pd.to_numeric(frame[column], errors="coerce")
        if number.isna().any():
            row = int(number.isna().to_numpy().argmax())
            raise InputError(f"{path}: line {row + 2}: {column} is not a number")
        frame[column] = number
    campaign_id, date = campaigns.iloc[0]
    try:
        day = dt.date.fromisoformat(str(date))
    except ValueError:
        raise InputError(f"{path}: campaign_date {date!r} is not a date (YYYY-MM-DD)") from None
    return CampaignList(id=str(campaign_id), date=day, users=frame)
