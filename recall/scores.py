"""Batch scores joined with online-store features: the one input frame selection works on.

Scores (from batch scoring) say how likely each user is to leave and why; the store's
features say what the user is worth (RFM, value). Both must describe the same cutoff, and
the campaign cannot go out before it, or the list would be built on stale or future data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa

from core.config import InputError
from recall.policy import RecallPolicy

USER_ID = "user_id"
SCORE_COLUMNS = (
    USER_ID,
    "status",
    "churn_probability",
    "risk_band",
    "top_reason",
    "model_version",
    "cutoff",
)
TENURE = "tenure_days"


def read_scores(path: Path) -> pd.DataFrame:
    """scores.parquet as batch scoring writes it, with the columns recall relies on."""
    try:
        frame = pd.read_parquet(path)
    except FileNotFoundError:
        raise InputError(f"{path}: scores file not found (batch scoring writes it)") from None
    except (OSError, pa.ArrowException) as error:
        raise InputError(f"{path}: cannot read scores as Parquet ({error})") from None
    missing = [column for column in SCORE_COLUMNS if column not in frame.columns]
    if missing:
        raise InputError(f"{path}: scores lack column(s) {', '.join(missing)}")
    repeated = frame[USER_ID][frame[USER_ID].duplicated()]
    if not repeated.empty:
        raise InputError(f"{path}: user_id {repeated.iloc[0]!r} has more than one score row")
    return frame.astype({USER_ID: "str"})


def feature_columns(policy: RecallPolicy) -> list[str]:
    """Online-store features the policy reads: RFM, the value feature and tenure."""
    rfm, value = policy.rfm, policy.user_value
    names = [rfm.recency, rfm.frequency, rfm.monetary, value.feature, TENURE]
    return list(dict.fromkeys(names))


def store_features(
    table: pa.Table, policy: RecallPolicy, extra: Sequence[str] = ()
) -> pd.DataFrame:
    """The online-store columns `campaign_frame` needs (absent ones are reported there), and
    `extra` ones (the uplift models' inputs)."""
    wanted = list(dict.fromkeys([USER_ID, "cutoff", *feature_columns(policy), *extra]))
    return table.select([name for name in wanted if name in table.column_names]).to_pandas()


def _cutoffs(values: pd.Series) -> set[dt.date]:
    return set(pd.to_datetime(values.dropna().astype("str")).dt.date)


def campaign_frame(
    scores: pd.DataFrame,
    features: pd.DataFrame,
    policy: RecallPolicy,
    extra: Sequence[str] = (),
) -> pd.DataFrame:
    """One row per scored user with the features the policy needs (see `feature_columns`)
    and the `extra` ones the uplift models read."""
    needed = feature_columns(policy)
    absent = [name for name in needed if name not in features.columns]
    if absent:
        raise InputError(
            f"the online store has no feature {', '.join(absent)} (named in the policy's "
            "rfm/user_value); `winback features list` shows what there is"
        )
    unread = [name for name in dict.fromkeys(extra) if name not in features.columns]
    if unread:
        raise InputError(
            f"the online store has no feature {', '.join(unread)}, which an uplift model reads: "
            "fit the uplift models again on a store of this feature set"
        )
    needed = list(dict.fromkeys([*needed, *extra]))
    score_cutoffs, store_cutoffs = _cutoffs(scores["cutoff"]), _cutoffs(features["cutoff"])
    if score_cutoffs != store_cutoffs:
        raise InputError(
            f"scores are as of {sorted(map(str, score_cutoffs))} but the online store as of "
            f"{sorted(map(str, store_cutoffs))}: score the current store again"
        )
    late = [cutoff for cutoff in score_cutoffs if cutoff > policy.campaign.date]
    if late:
        raise InputError(
            f"campaign date {policy.campaign.date} is before the scores' cutoff {late[0]}"
        )
    known = features[[USER_ID, *needed]].astype({USER_ID: "str"})
    joined = scores.merge(known, on=USER_ID, how="left", validate="one_to_one", indicator=True)
    unknown = joined.loc[joined["_merge"] == "left_only", USER_ID]
    if not unknown.empty:
        raise InputError(
            f"{len(unknown):,} scored users are not in the online store (e.g. {unknown.iloc[0]!r})"
        )
    return joined.drop(columns="_merge")
