"""Small generated campaigns for uplift tests: features, a random control group and returns
whose dependence on the contact is planted (numpy only, no event log)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from features.spec import Feature
from uplift.config import UpliftBoosterConfig, UpliftConfig
from uplift.fit import CampaignData

DATE = dt.date(2025, 9, 1)
CATALOG = [
    Feature("gap_current_ratio", "ratio", "Current gap over the usual one", "regularity"),
    Feature("recency_days", "days", "Days since the last event", "recency"),
    Feature("value_total", "currency", "Lifetime value", "monetary"),
    Feature("noise", "units", "Unrelated to anything", "test"),
    Feature("channel", "category", "Acquisition channel", "profile", "categorical"),
]
FAST = UpliftConfig(
    booster=UpliftBoosterConfig(n_estimators=100, min_child_samples=100),
    bootstrap_rounds=200,
    min_treated=100,
    min_control=100,
)


def planted_effect(features: pd.DataFrame) -> np.ndarray:
    """+30 points where the current gap is 2-4 times the usual one, -20 for the paid channel."""
    gap = features.gap_current_ratio.to_numpy()
    window = (gap >= 2) & (gap < 4)
    paid = (features.channel == "paid").to_numpy()
    return np.where(paid, -0.2, np.where(window, 0.3, 0.0))


def users(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "user_id": [f"u{seed}-{i:05d}" for i in range(n)],
            "gap_current_ratio": rng.gamma(2.0, 1.5, n),
            "recency_days": rng.exponential(20, n),
            "value_total": rng.lognormal(3, 1, n),
            "noise": rng.normal(size=n),
            "channel": rng.choice(["organic", "paid", "referral"], n, p=[0.5, 0.3, 0.2]),
        }
    )


def campaign(n: int, seed: int, planted: bool, strategy: str = "rescue") -> CampaignData:
    """Half held out; base return rate 40%, plus the planted effect for treated users."""
    rng = np.random.default_rng(seed + 1000)
    features = users(n, seed)
    treated = rng.random(n) < 0.5
    effect = planted_effect(features) if planted else np.zeros(n)
    returned = rng.random(n) < 0.4 + effect * treated
    listed = pd.DataFrame(
        {
            "user_id": features.user_id,
            "strategy": strategy,
            "group": np.where(treated, "treatment", "control"),
        }
    )
    return CampaignData(
        id=f"c{seed}",
        date=DATE,
        window_days=14,
        store_version="v1",
        listed=listed,
        features=features,
        returned=frozenset(features.user_id[returned]),
    )
