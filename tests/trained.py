"""A small synthetic log with planted churn and a config for it: shared by every test package
that needs a trained model (the fixtures are in tests/conftest.py).

1,000 users over 240 days with cutoffs every 30 days: test on the last labelled cutoff, one
validation cutoff before it, four training cutoffs; a full training run takes seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.config import DatasetConfig
from features.synthetic import EVENT_COLUMNS, SyntheticSpec

SPEC = SyntheticSpec(users=1_000, days=240, seed=11)
SMALL_LOG_BOOSTER = {"min_data_in_leaf": 40, "num_leaves": 3, "learning_rate": 0.05}
ConfigFactory = Callable[..., DatasetConfig]


def config_data(data: Path, workdir: Path, **model: Any) -> dict[str, Any]:
    return {
        "name": "synthetic",
        "workdir": str(workdir),
        "events": {
            "path": str(data / "events.parquet"),
            "format": "parquet",
            "columns": EVENT_COLUMNS,
            "event_types": ["visit", "view", "add_to_cart", "purchase", "cancel"],
        },
        "users": {
            "path": str(data / "users.parquet"),
            "format": "parquet",
            "columns": {
                "user_id": "user_id",
                "signup_ts": "signup_ts",
                "attributes": ["plan", "channel", "region"],
            },
        },
        "churn": {
            "mode": "inactivity",
            "horizon_days": 30,
            "active_window_days": 60,
            "lapsed_after_days": 60,
            "qualifying_events": ["visit", "view", "add_to_cart", "purchase"],
        },
        "cutoffs": {"start": "2025-03-01", "end": "2025-07-29", "step_days": 30},
        # 1,000 users: small-log booster settings, like configs/cdnow.yaml
        # one setting (no search) and fewer resamples: the search has tests of its own
        "model": {
            "name": "synthetic-churn",
            "lightgbm": SMALL_LOG_BOOSTER,
            "search": {"trials": 1},
            "bootstrap_rounds": 200,
            **model,
        },
    }
