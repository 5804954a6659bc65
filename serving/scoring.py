"""Feature rows -> probability, percentile, band and reasons: one function for the service,
batch scoring and the recall list, so they cannot disagree."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

from features.labels import ACTIVE, STATUS
from serving.reasons import top_reasons
from serving.risk import risk_band, risk_percentile
from training.model_files import ChurnModel

SCORED = "scored"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Scores:
    """Per-row results, aligned with the rows that were scored."""

    probability: np.ndarray
    percentile: np.ndarray
    band: np.ndarray
    reasons: list[list[dict[str, object]]]


def score_rows(model: ChurnModel, rows: pd.DataFrame, reasons: int = 3) -> Scores:
    """Score every row (the caller decides who is scorable); columns are matched by name."""
    probability = model.predict_proba(rows)
    percentile = risk_percentile(probability, model.metadata.reference_scores)
    records = cast(list[dict[str, object]], model.inputs(rows).to_dict("records"))
    explained = top_reasons(
        model.contributions(rows),
        records,
        model.catalog,
        count=reasons,
    )
    return Scores(
        probability=probability,
        percentile=percentile,
        band=risk_band(percentile),
        reasons=[[reason.to_dict() for reason in row] for row in explained],
    )


def score_store_rows(model: ChurnModel, rows: pd.DataFrame, model_version: str) -> pd.DataFrame:
    """Online-store rows -> the scores table: active users scored and ranked, others by status.

    Columns: user_id, status, churn_probability, risk_percentile, risk_band, rank, reasons
    (JSON), top_reason, model_version, cutoff.
    """
    active = (rows[STATUS] == ACTIVE).to_numpy()
    size = len(rows)
    probability = np.full(size, np.nan)
    percentile = np.full(size, np.nan)
    band = np.full(size, None, dtype=object)
    reasons = np.full(size, "[]", dtype=object)
    top_reason = np.full(size, None, dtype=object)
    if active.any():
        scores = score_rows(model, rows.loc[active])
        probability[active] = scores.probability
        percentile[active] = scores.percentile
        band[active] = scores.band
        reasons[active] = [json.dumps(r, default=str) for r in scores.reasons]
        top_reason[active] = [r[0]["sentence"] if r else None for r in scores.reasons]
    out = pd.DataFrame(
        {
            "user_id": rows["user_id"].to_numpy(),
            "status": rows[STATUS].to_numpy(),
            "churn_probability": probability,
            "risk_percentile": percentile,
            "risk_band": band,
            "rank": pd.Series(probability).rank(method="first", ascending=False).astype("Int64"),
            "reasons": reasons,
            "top_reason": top_reason,
            "model_version": model_version,
            "cutoff": rows["cutoff"].to_numpy(),
        }
    )
    return out.sort_values(["rank", "user_id"], na_position="last").reset_index(drop=True)
