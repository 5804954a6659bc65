"""What each endpoint answers, as plain functions of (what is being served, the request).

The BentoML service only translates HTTP to these calls, so they are tested without a
server, and batch scoring and the service share `serving.scoring`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.config import WinbackError
from features.status import ACTIVE, STATUS
from recall.campaign import decisions, input_stamp
from recall.codes import CONTROL, TREATMENT
from recall.policy import RecallPolicy, load_policy
from recall.selection import recall_list as recall_list_of
from serving.model_source import Serving
from serving.online_store import KEY, object_array, read_all
from serving.scoring import SCORED, UNKNOWN, score_rows, score_store_rows

Result = dict[str, Any]


class RequestError(WinbackError):
    """The request itself is wrong (the client's mistake): answered with 400 and this text."""


def _result(user_id: str | None, status: str, model_version: str) -> Result:
    return {
        "user_id": user_id,
        "status": status,
        "churn_probability": None,
        "risk_percentile": None,
        "risk_band": None,
        "reasons": [],
        "model_version": model_version,
    }


def _scored(
    base: Result, probability: float, percentile: float, band: str, reasons: list[Result]
) -> Result:
    return {
        **base,
        "status": SCORED,
        "churn_probability": float(probability),
        "risk_percentile": float(percentile),
        "risk_band": str(band),
        "reasons": reasons,
    }


def check_batch(size: int, limit: int, field: str) -> None:
    if size == 0:
        raise RequestError(f"{field}: give at least one")
    if size > limit:
        raise RequestError(f"{field}: {size} items, more than the maximum of {limit} per request")


def score_users(serving: Serving, user_ids: Sequence[str]) -> list[Result]:
    """Known active users are scored; others report their status; unknown ids say so."""
    found = serving.store.lookup(list(dict.fromkeys(user_ids)))
    status = dict(zip(found[KEY].tolist(), found[STATUS].tolist(), strict=True))
    active = np.flatnonzero(found[STATUS] == ACTIVE)
    scored: dict[str, Result] = {}
    if len(active):
        rows = {name: values[active] for name, values in found.items()}
        scores = score_rows(serving.model, rows)
        for i, user_id in enumerate(rows[KEY].tolist()):
            base = _result(user_id, SCORED, serving.version)
            scored[user_id] = _scored(
                base, scores.probability[i], scores.percentile[i], scores.band[i], scores.reasons[i]
            )
    store = serving.store.version.version  # with model_version: the pair that answered
    return [
        {
            **(
                scored.get(user_id)
                or _result(user_id, str(status.get(user_id, UNKNOWN)), serving.version)
            ),
            "store_version": store,
        }
        for user_id in user_ids
    ]


def _finite(value: int | float) -> bool:
    """Also False for an integer too big for a float (JSON allows `1` and 400 zeros)."""
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _feature_rows(serving: Serving, rows: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Posted rows as model inputs: unknown names and non-finite numbers are the client's error."""
    meta = serving.model.metadata
    known = set(meta.input_names)
    categorical = {info.name for info in meta.features if info.kind == "categorical"}
    for index, row in enumerate(rows):
        unknown = sorted(set(row) - known - {KEY})
        if unknown:
            raise RequestError(
                f"rows[{index}]: unknown feature(s) {', '.join(unknown)}; "
                "GET /model lists the features"
            )
        for name, value in row.items():
            if name == KEY or value is None:
                continue
            if name in categorical:
                if not isinstance(value, str):
                    raise RequestError(f"rows[{index}].{name}: a category must be text")
            elif isinstance(value, bool) or not isinstance(value, int | float):
                raise RequestError(f"rows[{index}].{name}: must be a number or null")
            elif not _finite(value):
                shown = str(value) if len(str(value)) <= 40 else f"{str(value)[:20]}..."
                raise RequestError(f"rows[{index}].{name}: {shown} is not a finite number")
    return {
        name: object_array([row.get(name) for row in rows]) for name in (KEY, *meta.input_names)
    }


def score_features(serving: Serving, rows: Sequence[Mapping[str, Any]]) -> list[Result]:
    columns = _feature_rows(serving, rows)
    scores = score_rows(serving.model, columns)
    return [
        _scored(
            _result(user_id if isinstance(user_id, str) else None, SCORED, serving.version),
            scores.probability[i],
            scores.percentile[i],
            scores.band[i],
            scores.reasons[i],
        )
        for i, user_id in enumerate(columns[KEY].tolist())
    ]


class RecallCache:
    """Scores of every user in the store, computed once per (model, store) pair; and, with a
    policy, the recall decisions on them, recomputed when the policy or its files change or
    a strategy's champion uplift model does."""

    def __init__(self, policy_path: Path | None = None) -> None:
        self.policy_path = policy_path
        self._scores: tuple[tuple[str, str], pd.DataFrame] | None = None
        self._decisions: tuple[tuple[object, ...], Campaign] | None = None
        self._lock = threading.Lock()

    def table(self, serving: Serving) -> pd.DataFrame:
        key = (serving.version, serving.store.version.version)
        with self._lock:
            if self._scores is None or self._scores[0] != key:
                rows = read_all(serving.store.version).to_pandas()
                self._scores = (key, score_store_rows(serving.model, rows, serving.version))
            return self._scores[1]

    def campaign(self, serving: Serving, policy_path: Path) -> Campaign:
        """The policy is read on every call (a YAML file: cheap), so an edit shows at once."""
        scores = self.table(serving)
        policy = load_policy(policy_path)
        uplift = tuple(sorted(champion.label for champion in serving.uplift.values()))
        stamp = input_stamp(policy_path, policy)
        key = (serving.version, serving.store.version.version, stamp, uplift)
        with self._lock:
            if self._decisions is None or self._decisions[0] != key:
                store = read_all(serving.store.version)
                decided = decisions(scores, store, policy, serving.uplift)
                self._decisions = (key, Campaign(policy, recall_list_of(decided)))
            return self._decisions[1]


@dataclass(frozen=True)
class Campaign:
    policy: RecallPolicy
    listed: pd.DataFrame  # treatment and control, best first: what recall.csv holds


def _plain(value: object) -> object:
    """A JSON-ready Python value: numpy scalars unwrapped, missing values null, dates ISO."""
    if value is None or (not isinstance(value, str | list) and pd.isna(value)):  # type: ignore[call-overload]
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _ranked(table: pd.DataFrame, limit: int) -> list[Result]:
    ranked = table[table["rank"].notna()].head(limit)
    return [
        {
            "rank": int(row["rank"]),
            "user_id": row["user_id"],
            "churn_probability": float(row["churn_probability"]),
            "risk_band": row["risk_band"],
            "reasons": json.loads(row["reasons"]),
            "model_version": row["model_version"],
        }
        for row in ranked.to_dict("records")
    ]


def _decided(campaign: Campaign, table: pd.DataFrame, limit: int) -> Result:
    listed = campaign.listed.head(limit)
    scored = table.set_index("user_id").reindex(listed["user_id"])
    results = []
    for row, rank, reasons in zip(
        listed.to_dict("records"), scored["rank"], scored["reasons"], strict=True
    ):
        record = {key: _plain(value) for key, value in row.items()}
        record["rank"] = _plain(rank)
        record["reasons"] = json.loads(reasons) if isinstance(reasons, str) else []
        results.append(record)
    everyone = campaign.listed
    policy = campaign.policy
    return {
        "campaign": {
            "id": policy.campaign.id,
            "date": policy.campaign.date.isoformat(),
            "budget": policy.budget,
            "cost": float(everyone["cost"].sum()),
            "treatment": int((everyone["group"] == TREATMENT).sum()),
            "control": int((everyone["group"] == CONTROL).sum()),
        },
        "results": results,
    }


def recall_list(serving: Serving, cache: RecallCache, limit: int) -> Result:
    """With a recall policy: the campaign `winback recall` would write, best first, each row
    with its strategy, group and why. Without one: the users most at risk first (rank 1)."""
    table = cache.table(serving)
    if cache.policy_path is None:
        return {"results": _ranked(table, limit)}
    return _decided(cache.campaign(serving, cache.policy_path), table, limit)


def model_info(serving: Serving, aliases: list[str]) -> Result:
    meta = serving.model.metadata
    return {
        "name": serving.name,
        "version": serving.version,
        "aliases": aliases,
        "train_cutoffs": [str(day) for day in meta.train_cutoffs],
        "validation_cutoffs": [str(day) for day in meta.validation_cutoffs],
        "test_cutoff": str(meta.test_cutoff),
        "refit": meta.refit,  # fitted on the test cutoff too; `metrics` are the evaluated fit's
        "family": meta.family,
        "horizon_days": meta.horizon_days,
        "metrics": meta.metrics,
        "features": [
            {"name": info.name, "unit": info.unit, "description": info.description}
            for info in meta.features
            if not info.derived
        ],
        "online_store": {
            "version": serving.store.version.version,
            "cutoff": serving.store.version.cutoff,
            "users": serving.store.version.rows,
        },
    }
