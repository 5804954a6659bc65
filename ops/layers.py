"""Every user's layer: lifecycle status, value tier and risk band, as the recall policy sees it.

Status is the store's (new, active, dormant, lapsed) with active users above the warning
line called at risk; tiers are the policy's RFM tiers. Both come from the functions
`recall.selection.decide` uses (`segments`, `rfm_scores`, `tier_of`), over every user in the
store as there, so a user's layer on the page is the one the recall list acted on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from core.config import InputError
from features.status import ACTIVE, DORMANT, LAPSED, NEW
from recall.policy import AT_RISK, BANDS, RecallPolicy
from recall.scores import USER_ID, feature_columns, store_features
from recall.segments import segments
from recall.tiers import rfm_scores, tier_of

STATUSES = (NEW, ACTIVE, AT_RISK, DORMANT, LAPSED)
SCORED_STATUSES = (AT_RISK, ACTIVE)  # the model scores active users only
BAND_ORDER = tuple(reversed(BANDS))  # critical first
ALL_TIERS = "all"  # without a policy there are no tiers
COLUMNS = (USER_ID, "status", "churn_probability", "risk_band", "reasons", "top_reason")


@dataclass(frozen=True)
class Layers:
    users: pd.DataFrame  # COLUMNS + tier; status is one of STATUSES
    tiers: tuple[str, ...]  # highest first
    line: float | None  # the warning line as a probability; None without a policy
    line_rule: str  # how the policy draws it, in words

    @property
    def scored(self) -> pd.DataFrame:
        return self.users[self.users["churn_probability"].notna()]

    @property
    def above_line(self) -> int:
        return int((self.users["status"] == AT_RISK).sum())


def _with_features(scores: pd.DataFrame, store: pa.Table, policy: RecallPolicy) -> pd.DataFrame:
    features = store_features(store, policy).drop(columns="cutoff", errors="ignore")
    absent = [name for name in feature_columns(policy) if name not in features.columns]
    if absent:
        raise InputError(
            f"the online store has no feature {', '.join(absent)} (named in the policy's "
            "rfm/user_value); `winback features list` shows what there is"
        )
    known = features.astype({USER_ID: "str"})
    return scores.merge(known, on=USER_ID, how="left", validate="one_to_one")


def layers(scores: pd.DataFrame, store: pa.Table, policy: RecallPolicy | None) -> Layers:
    """`scores` is the scores table (serving.scoring.score_store_rows) of every store user."""
    frame = scores.loc[:, list(COLUMNS)].astype({USER_ID: "str"}).reset_index(drop=True)
    if policy is None:
        return Layers(frame.assign(tier=ALL_TIERS), (ALL_TIERS,), None, "no recall policy")
    valued = _with_features(frame, store, policy)
    segment = segments(valued, policy.warning_line)
    frame["status"] = frame["status"].where(segment != AT_RISK, AT_RISK)
    frame["tier"] = tier_of(rfm_scores(valued, policy.rfm).sum(axis=1), policy.tiers)
    at_risk = frame.loc[frame["status"] == AT_RISK, "churn_probability"]
    line = policy.warning_line
    if line.probability is not None:
        value: float | None = line.probability
        rule = f"churn probability at or above {line.probability:.2f}"
    else:
        value = float(at_risk.min()) if len(at_risk) else None
        shown = f" (here p >= {value:.3f})" if value is not None else ""
        rule = f"the riskiest {line.top_percent:g}% of active users{shown}"
    return Layers(frame, tuple(tier.name for tier in policy.tiers), value, rule)


def status_by_tier(layered: Layers) -> pd.DataFrame:
    """Users per status (rows, lifecycle order) and tier (columns, highest first), totals."""
    counts = pd.crosstab(layered.users["status"], layered.users["tier"])
    table = counts.reindex(index=list(STATUSES), columns=list(layered.tiers), fill_value=0)
    table = table.astype("int64")
    table["total"] = table.sum(axis=1)
    table.loc["total"] = table.sum(axis=0)
    return table


def band_counts(layered: Layers) -> pd.Series:
    """Scored users per risk band, critical first."""
    scored = layered.scored["risk_band"].value_counts()
    return scored.reindex(list(BAND_ORDER), fill_value=0).astype("int64")


def risk_histogram(layered: Layers, bins: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Scored users per probability bin of width 1/bins (the service's /metrics buckets)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts, _ = np.histogram(layered.scored["churn_probability"].to_numpy(float), bins=edges)
    return counts, edges
