"""A small world for the daily cycle: a generated log fed one day at a time, a champion
trained on its history, a policy with opt-outs and an external contact history, and a
config whose events grow by one file a day."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from artifact.tracking import resolve_store
from core.config import DatasetConfig, load_config
from cycle.run import CycleResult, run_cycle
from cycle.simulated_feed import Fed, feed
from features.engine import DuckDBEngine
from features.synthetic import EVENT_COLUMNS, SyntheticSpec, generate, write
from tests.tracking_seed import seeded
from tests.trained import SMALL_LOG_BOOSTER
from training.pipeline import train

REPO = Path(__file__).resolve().parents[2]
SPEC = SyntheticSpec(users=1_000, days=330, seed=3)
START = dt.date(2025, 8, 1)  # the first cycle; training saw labels up to 2025-07-29
WINDOW = 7
UPLIFT = {"at_risk_coupon": 0.25, "win_back_valuable": 0.25}


def config_data(**cycle: Any) -> dict[str, Any]:
    """Relative paths: a copied world works where it is copied to."""
    return {
        "name": "daily",
        "workdir": "work",
        "events": {
            "path": "feed/events/*.parquet",
            "format": "parquet",
            "columns": EVENT_COLUMNS,
            "event_types": ["visit", "view", "add_to_cart", "purchase", "cancel"],
        },
        "users": {
            "path": "feed/users.parquet",
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
            "churn_events": ["cancel"],
        },
        "cutoffs": {"start": "2025-03-01", "end": "2025-06-29", "step_days": 30},
        "model": {
            "name": "daily-churn",
            "lightgbm": SMALL_LOG_BOOSTER,
            "search": {"trials": 1},
            "backtest": {"folds": 2},
            "bootstrap_rounds": 50,
        },
        "cycle": {"review_window_days": WINDOW, **cycle},
    }


def policy_data() -> dict[str, Any]:
    """The demo policy with the files a cycle must respect."""
    data = yaml.safe_load((REPO / "configs" / "recall.yaml").read_text())
    data.update(
        frequency_cap_days=14, contact_history="contacts.csv", opt_outs="opt_outs.csv", budget=400
    )
    return data


@dataclass(frozen=True)
class World:
    root: Path

    @property
    def config_path(self) -> Path:
        return self.root / "config.yaml"

    @property
    def policy_path(self) -> Path:
        return self.root / "policy.yaml"

    @property
    def workdir(self) -> Path:
        return self.root / "work"

    @property
    def outbox(self) -> Path:
        return self.workdir / "cycle" / "outbox"

    def config(self) -> DatasetConfig:
        return load_config(self.config_path)

    def set_cycle(self, **cycle: Any) -> None:
        self.config_path.write_text(yaml.safe_dump(config_data(**cycle), sort_keys=False))

    def feed(self, until: dt.date) -> Fed:
        return feed(self.root / "gen", self.root / "feed", until, self.outbox, WINDOW, UPLIFT, 1)

    def cycle(self, day: dt.date, **options: Any) -> CycleResult:
        """The day's feed, then its cycle, in this process."""
        self.feed(day)
        return run_cycle(self.config(), self.policy_path, day, DuckDBEngine(threads=2), **options)

    def opt_out(self, rows: list[tuple[str, str]]) -> None:
        path = self.root / "opt_outs.csv"
        known = pd.read_csv(path, dtype="str")
        more = pd.DataFrame(rows, columns=["user_id", "channel"])
        pd.concat([known, more]).to_csv(path, index=False)

    def digests(self) -> dict[str, str]:
        """Every file the cycle wrote (SQLite's own side files and the lock aside)."""
        found = {}
        for path in sorted(self.workdir.rglob("*")):
            transient = path.name.endswith(("-wal", "-shm", ".lock"))
            if path.is_file() and not transient:
                found[str(path.relative_to(self.root))] = hashlib.sha256(
                    path.read_bytes()
                ).hexdigest()
        return found


def build(root: Path) -> World:
    """Generate, feed the history before START, train the champion on it."""
    world = World(root)
    write(generate(SPEC), root / "gen")
    world.set_cycle()
    world.policy_path.write_text(yaml.safe_dump(policy_data(), sort_keys=False))
    pd.DataFrame({"user_id": [], "channel": []}).to_csv(root / "opt_outs.csv", index=False)
    pd.DataFrame({"user_id": [], "channel": [], "contacted_at": []}).to_csv(
        root / "contacts.csv", index=False
    )
    world.feed(START)
    config = world.config()
    seeded(config.workdir_path)
    train(config, DuckDBEngine(threads=2), resolve_store(config))
    return world


def copy(template: World, root: Path) -> World:
    shutil.copytree(template.root, root, dirs_exist_ok=True)
    return World(root)
