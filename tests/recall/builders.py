"""Test data for recall: policies and score frames built in code, per the scores contract."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd

from recall.policy import BANDS, RecallPolicy

CUTOFF = dt.date(2025, 9, 1)
STATUSES = ("active", "lapsed", "new", "dormant")

BASE_POLICY: dict[str, Any] = {
    "campaign": {"id": "test-campaign", "date": CUTOFF},
    "warning_line": {"probability": 0.3},
    "tiers": [{"name": "high", "min_score": 11}, {"name": "low", "min_score": 3}],
    "strategies": [
        {
            "name": "rescue_sms",
            "when": {"status": "at_risk", "tier": "high"},
            "channel": "sms",
            "offer": "sms-20",
            "unit_cost": 1.0,
            "save_rate": 0.2,
        },
        {
            "name": "rescue_email",
            "when": {"status": "at_risk", "tier": "low"},
            "channel": "email",
            "offer": "mail-10",
            "unit_cost": 0.3,
            "save_rate": 0.1,
        },
        {
            "name": "win_back",
            "when": {"status": ["lapsed", "dormant"], "tier": "high"},
            "channel": "push",
            "offer": "push-15",
            "unit_cost": 0.2,
            "save_rate": 0.05,
        },
        {
            "name": "let_go",
            "when": {"status": ["lapsed", "dormant"], "tier": "low"},
            "channel": "none",
        },
        {
            "name": "onboard",
            "when": {"status": "new"},
            "channel": "in_app",
            "offer": "welcome",
            "unit_cost": 0.01,
            "save_rate": 0.02,
        },
    ],
    "budget": 1e9,
    "control_fraction": 0.1,
}


def policy(**changes: Any) -> RecallPolicy:
    return RecallPolicy.model_validate({**BASE_POLICY, **changes})


def band_of(percentile: pd.Series) -> pd.Series:
    """Quartiles of risk among active users, as batch scoring bands them."""
    index = np.clip((percentile.to_numpy() // 25).astype("int64"), 0, len(BANDS) - 1)
    return pd.Series(np.asarray(BANDS, dtype=object)[index], index=percentile.index)


def scores_for(features: pd.DataFrame, probability: pd.Series) -> pd.DataFrame:
    """A scores.parquet-shaped frame: `probability` is used for active users only."""
    active = features.status == "active"
    p = probability.where(active).astype("float64")
    percentile = p.rank(pct=True) * 100
    reason = "recency_days is high: last seen long ago"
    return pd.DataFrame(
        {
            "user_id": features.user_id.astype("str"),
            "status": features.status,
            "churn_probability": p,
            "risk_percentile": percentile,
            "risk_band": band_of(percentile.fillna(0)).where(active),
            "rank": p.rank(ascending=False, method="first").astype("Int64"),
            "reasons": json.dumps([{"feature": "recency_days", "sentence": reason}]),
            "top_reason": pd.Series(reason, index=features.index).where(active),
            "model_version": "test-1",
            "cutoff": pd.to_datetime(features.cutoff).dt.date,
        }
    )


def users(n: int, seed: int = 0) -> pd.DataFrame:
    """Random scored users with the features recall reads: the scores + features frame."""
    rng = np.random.default_rng(seed)
    features = pd.DataFrame(
        {
            "user_id": pd.Series([f"u{i:06d}" for i in range(n)], dtype="str"),
            "cutoff": CUTOFF.isoformat(),
            "status": rng.choice(STATUSES, size=n, p=[0.6, 0.25, 0.1, 0.05]),
            "recency_days": rng.exponential(30, size=n),
            "active_days_total": rng.integers(1, 200, size=n),
            "value_total": np.round(rng.lognormal(3, 1.5, size=n) * (rng.random(n) < 0.7), 2),
            "tenure_days": rng.uniform(5, 700, size=n),
        }
    )
    scores = scores_for(features, pd.Series(rng.random(n)))
    return scores.merge(features.drop(columns=["status", "cutoff"]), on="user_id")
