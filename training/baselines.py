"""The scores a churn model must beat to be worth its complexity.

- recency rule: the longer since a user's last event, the likelier they churn;
- RFM logistic regression: log recency, frequency and monetary value, standardised.
Both are fitted (where there is anything to fit) on the model's training rows only.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from artifact.model import LinearTerm

Floats = npt.NDArray[np.float64]

RECENCY_RULE = "recency_rule"
RFM_LOGREG = "rfm_logreg"
RECENCY, FREQUENCY, MONETARY = "recency_days", "events_total", "value_total"


def recency_rule(frame: pd.DataFrame) -> Floats:
    return frame[RECENCY].to_numpy("float64")


def rfm_columns(columns: pd.Index) -> list[str]:
    """Monetary only when the log has values; recency and frequency always exist."""
    return [name for name in (RECENCY, FREQUENCY, MONETARY) if name in columns]


def fit_rfm_logreg(frame: pd.DataFrame, y: Floats) -> Pipeline:
    pipeline = make_pipeline(
        FunctionTransformer(np.log1p, feature_names_out="one-to-one"),
        StandardScaler(),
        LogisticRegression(),
    )
    return pipeline.fit(frame[rfm_columns(frame.columns)], y)


def rfm_logreg_margin(pipeline: Pipeline, frame: pd.DataFrame) -> Floats:
    """The log odds: what the model families blend and calibrate."""
    columns = rfm_columns(frame.columns)
    return np.asarray(pipeline.decision_function(frame[columns]), dtype="float64")


def linear_term(pipeline: Pipeline) -> LinearTerm:
    """The fitted regression as numbers, so a registered model carries it without a pickle."""
    scaler: StandardScaler = pipeline.named_steps["standardscaler"]
    regression: LogisticRegression = pipeline.named_steps["logisticregression"]
    return LinearTerm(
        features=[str(name) for name in scaler.feature_names_in_],
        mean=scaler.mean_.tolist(),
        scale=scaler.scale_.tolist(),
        coef=regression.coef_[0].tolist(),
        intercept=float(regression.intercept_[0]),
    )


def rfm_logreg_scores(pipeline: Pipeline, frame: pd.DataFrame) -> Floats:
    return np.asarray(
        pipeline.predict_proba(frame[rfm_columns(frame.columns)])[:, 1], dtype="float64"
    )
