"""An uplift model as plain files: LightGBM text boosters and JSON metadata. No pickles.

Every meta-learner's prediction is a weighted sum of the boosters it fitted, each predicting
on the same encoded features: the X-learner's p tau_c(x) + (1 - p) tau_t(x), the DR-learner's
mean of its fold models, the T-learner's P(return | treated, x) - P(return | control, x) (its
boosters are classifiers, whose `predict` is a probability). So the policy and the service
predict uplift from LightGBM and this file alone; causalml is needed only to fit.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from artifact.model import Columns, FeatureInfo, Floats, encode

METADATA_FILE = "uplift.json"
FORMAT_VERSION = 1


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Term(_Record):
    file: str = Field(description="LightGBM text model in the model's folder")
    weight: float


class UpliftMetadata(_Record):
    format_version: int = FORMAT_VERSION
    name: str = Field(description="Registered model name")
    strategy: str
    campaign_id: str
    campaign_date: dt.date
    window_days: int
    store_version: str = Field(description="Online-store version the features were read from")
    learner: str
    features: list[FeatureInfo] = Field(description="Booster inputs in booster order")
    terms: list[Term]
    treated_share: float
    treated: int
    control: int
    metrics: dict[str, float] = Field(default_factory=dict, description="Held-out metrics")
    lightgbm_version: str = lgb.__version__

    @property
    def input_names(self) -> list[str]:
        return [info.name for info in self.features]


class UpliftModel:
    """Predicted uplift in the return rate (treated minus control), one per row."""

    def __init__(self, boosters: list[lgb.Booster], metadata: UpliftMetadata) -> None:
        if len(boosters) != len(metadata.terms):
            raise ValueError(f"{len(boosters)} boosters for {len(metadata.terms)} terms")
        width = len(metadata.features)
        if any(booster.num_feature() != width for booster in boosters):
            raise ValueError(f"a booster does not take the metadata's {width} features")
        self.boosters = boosters
        self.metadata = metadata

    @classmethod
    def load(cls, directory: Path) -> UpliftModel:
        metadata = UpliftMetadata.model_validate_json((directory / METADATA_FILE).read_text())
        boosters = [lgb.Booster(model_file=str(directory / term.file)) for term in metadata.terms]
        return cls(boosters, metadata)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for booster, term in zip(self.boosters, self.metadata.terms, strict=True):
            booster.save_model(str(directory / term.file))
        text = json.dumps(self.metadata.model_dump(mode="json"), indent=1)
        (directory / METADATA_FILE).write_text(text)

    def predict_matrix(self, matrix: Floats) -> Floats:
        """From features already encoded in booster order (`encode`)."""
        total = np.zeros(len(matrix))
        for booster, term in zip(self.boosters, self.metadata.terms, strict=True):
            total += term.weight * np.asarray(booster.predict(matrix, num_threads=1), "float64")
        return total

    def predict(self, frame: Columns) -> Floats:
        return self.predict_matrix(encode(frame, self.metadata.features))


@dataclass(frozen=True)
class Champion:
    """A strategy's champion uplift model as the policy uses it, with its registry version."""

    model: UpliftModel
    version: str

    @property
    def label(self) -> str:
        return f"{self.model.metadata.name} v{self.version}"
