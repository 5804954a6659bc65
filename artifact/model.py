"""The model as two plain files, LightGBM's text model and JSON metadata, and beside them the
explainer's tree tables as numbers. No pickles.

`ChurnModel` is everything serving needs to turn snapshot rows into calibrated churn
probabilities and per-feature contributions, built from those two files alone; the tables
only save rebuilding them (checked against the model text and LightGBM before use). Training
scores its test snapshot through this same class, so what was evaluated is what is served.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field

from artifact.bgnbd import BgNbdParams, probabilities
from artifact.reference import Reference
from artifact.tree_tables import StaleTables, Tables
from core.config import WinbackError
from features.definition import FeatureDefinition
from features.spec import Feature, Kind

if TYPE_CHECKING:  # numba is imported only by a model that explains
    from artifact.explainer import Explainer

MODEL_FILE = "model.txt"
METADATA_FILE = "metadata.json"
# The explainer's tree tables, built when the model is saved (registered) so that loading it
# for scoring costs a file read, not a rebuild; numbers only (an .npz without pickles).
TABLES_FILE = "tables.npz"
# 2: model families (linear term, blend weight), refit flag; 3: definition; 4: drift reference
FORMAT_VERSION = 4

Floats = npt.NDArray[np.float64]
log = logging.getLogger(__name__)
CalibrationMethod = Literal["isotonic", "sigmoid"]


class ModelInputError(WinbackError):
    """Rows handed to a model lack a feature it needs or carry an unusable value."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeatureInfo(_Record):
    """One booster input, with what a person needs to read it and the levels it was fit on."""

    name: str
    unit: str
    description: str
    family: str
    kind: Kind = "numeric"
    levels: list[str] | None = Field(None, description="Categorical codes are list positions")
    derived: bool = Field(False, description="Computed by the model, not read from snapshots")

    @classmethod
    def of(
        cls, feature: Feature, levels: list[str] | None = None, derived: bool = False
    ) -> FeatureInfo:
        return cls(
            name=feature.name,
            unit=feature.unit,
            description=feature.description,
            family=feature.family,
            kind=feature.kind,
            levels=levels,
            derived=derived,
        )

    def feature(self) -> Feature:
        return Feature(self.name, self.unit, self.description, self.family, self.kind)


class CalibrationMap(_Record):
    """Raw booster margin -> probability, as numbers: isotonic knots or sigmoid a, b.

    The isotonic map runs straight lines through the centres of the isotonic steps (centred
    isotonic regression) and extends its end segments, clipped to [floor, 1 - floor]. It is
    strictly increasing, so calibration never ties users the booster tells apart: plain
    isotonic steps would give hundreds of users one score and blunt the riskiest-first order.
    """

    method: CalibrationMethod
    x: list[float] = Field(default_factory=list, description="isotonic: margins, ascending")
    y: list[float] = Field(default_factory=list, description="isotonic: probabilities")
    a: float = 0.0
    b: float = 0.0
    floor: float = 1e-3

    def apply(self, margin: Floats) -> Floats:
        if self.method == "sigmoid":
            return 1.0 / (1.0 + np.exp(-(self.a * margin + self.b)))
        x, y = np.asarray(self.x), np.asarray(self.y)
        probability = np.interp(margin, x, y)
        if len(x) > 1:
            below, above = margin < x[0], margin > x[-1]
            first = (y[1] - y[0]) / (x[1] - x[0])
            last = (y[-1] - y[-2]) / (x[-1] - x[-2])
            probability[below] = y[0] + first * (margin[below] - x[0])
            probability[above] = y[-1] + last * (margin[above] - x[-1])
        return np.clip(probability, self.floor, 1.0 - self.floor)


class LinearTerm(_Record):
    """A logistic regression on a few features, as numbers: margin = intercept + sum(coef * z)
    with z = (log1p(x) - mean) / scale. A missing value counts as the training mean (z = 0).
    Its contributions, coef * z, add up to the margin with the intercept as the bias: exact
    for a linear model, as LightGBM's are for the trees."""

    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float

    def standardised(self, values: Floats) -> Floats:
        """`values`: one column per feature of the term, in its order."""
        z = (np.log1p(values) - np.asarray(self.mean)) / np.asarray(self.scale)
        return np.where(np.isnan(z), 0.0, z)

    def margin(self, values: Floats) -> Floats:
        return self.intercept + self.standardised(values) @ np.asarray(self.coef)

    def contributions(self, values: Floats) -> Floats:
        return self.standardised(values) * np.asarray(self.coef)


Family = Literal["lightgbm", "rfm_logreg", "blend"]


class ModelMetadata(_Record):
    format_version: int = FORMAT_VERSION
    name: str
    dataset: str
    horizon_days: int
    features: list[FeatureInfo] = Field(description="Booster inputs in booster order")
    calibration: CalibrationMap
    reference_scores: list[float] = Field(
        description="Quantiles of calibrated scores on the test snapshot (active users), "
        "for risk percentiles"
    )
    bgnbd: BgNbdParams | None = None
    family: Family = "lightgbm"
    blend_weight: Annotated[float, Field(ge=0, le=1)] = Field(
        1.0, description="Weight of the booster's margin; the linear term has the rest"
    )
    linear: LinearTerm | None = None
    train_cutoffs: list[dt.date]
    validation_cutoffs: list[dt.date] = Field(
        description="Cutoffs whose held-out predictions chose the settings and calibration "
        "(the backtest folds; format 1: the validation cutoff)"
    )
    test_cutoff: dt.date
    refit: bool = Field(False, description="Fitted on every labelled cutoff, the test one included")
    best_iteration: int
    seed: int
    metrics: dict[str, dict[str, float | None]] = Field(
        default_factory=dict, description="Test-snapshot metrics of the model and baselines"
    )
    lightgbm_version: str = lgb.__version__
    definition: FeatureDefinition | None = Field(
        None,
        description="The feature definition trained with, checked against every online store "
        "(`artifact.compatibility`); None: trained before it was recorded (format < 3), unknown",
    )
    reference: Reference | None = Field(
        None,
        description="Inputs and score binned on the test snapshot, for drift (`winback "
        "monitor`); None: trained before it was recorded (format < 4)",
    )

    @property
    def input_names(self) -> list[str]:
        """Snapshot columns a caller must provide."""
        return [info.name for info in self.features if not info.derived]


# Rows for a model: a DataFrame, or column name -> one value per row (the service's few
# rows as plain arrays, without building a DataFrame per request). Both index by name.
Columns = pd.DataFrame | Mapping[str, Any]


def add_derived(frame: pd.DataFrame, params: BgNbdParams | None, horizon_days: int) -> pd.DataFrame:
    """Snapshot rows plus the model-based features, as both training and serving compute them."""
    if params is None:
        return frame
    return frame.assign(**probabilities(frame, params, horizon_days))


def numeric(values: Any, name: str) -> Floats:
    """float64 with NaN for missing (None, NaN or pandas' NA alike)."""
    try:
        if isinstance(values, pd.Series):
            return values.to_numpy(dtype="float64", na_value=np.nan)
        return np.asarray(values, dtype="float64")
    except (TypeError, ValueError):
        raise ModelInputError(f"feature {name!r} must be numeric") from None


def categories(values: Any) -> npt.NDArray[np.object_]:
    """Text per row, None where missing: how categorical values are compared with levels."""
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.StringDtype):
        arrow = pa.array(values.array)  # text already: nulls become None, nothing converted
        return np.asarray(arrow.to_numpy(zero_copy_only=False), dtype=object)
    raw = np.asarray(values, dtype=object)
    if not raw.size:
        return raw
    text = _text_already(raw) if len(raw) > DICT_LOOKUP_ROWS else None  # Arrow pays off
    if text is not None:
        return text
    missing = pd.isna(raw).tolist()
    text = np.empty(len(raw), dtype=object)  # str() of each: numpy's text drops a trailing NUL
    text[:] = [
        None if gone else str(value) for value, gone in zip(raw.tolist(), missing, strict=True)
    ]
    return text


def _text_already(raw: npt.NDArray[np.object_]) -> npt.NDArray[np.object_] | None:
    """A copy of `raw` with None for every missing value, when every other value is text
    already (as `ChurnModel.inputs` gives them): no value is converted then."""
    try:
        arrow = pa.array(raw, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if not pa.types.is_string(arrow.type) and not pa.types.is_large_string(arrow.type):
        return None
    text = raw.copy()
    if arrow.null_count:
        text[np.asarray(arrow.is_null())] = None
    return text


# Up to this many rows, categories are looked up in a dict: building pandas Indexes costs
# more than the lookups for a request's few rows; a batch's million rows go through pandas.
DICT_LOOKUP_ROWS = 64


@lru_cache(maxsize=64)
def _level_codes(levels: tuple[str, ...]) -> dict[str, float]:
    return {level: float(code) for code, level in enumerate(levels)}


def _codes(values: Any, levels: Sequence[str]) -> Floats:
    """Position in the training levels; unseen or missing values are NaN (LightGBM: missing)."""
    text = categories(values)
    if len(text) <= DICT_LOOKUP_ROWS:
        lookup = _level_codes(tuple(levels))
        return np.array([lookup.get(value, np.nan) for value in text], dtype="float64")
    found = pc.index_in(pa.array(text, pa.large_string()), pa.array(levels, pa.large_string()))
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype="float64")


def encode(
    frame: Columns, features: Sequence[FeatureInfo], order: Literal["C", "F"] = "C"
) -> Floats:
    """A float matrix in model order, picked by name: input column order never matters.
    `order` "F" (column by column) is written at memory speed and read by the tree tables
    along each feature; "C" is what LightGBM's training reads row by row."""
    missing = [info.name for info in features if info.name not in frame]
    if missing:
        raise ModelInputError(f"rows lack the model's features: {', '.join(missing)}")
    rows = len(frame[features[0].name]) if features else 0
    matrix = np.empty((rows, len(features)), order=order)
    for column, info in enumerate(features):
        values = frame[info.name]
        matrix[:, column] = (
            _codes(values, info.levels or [])
            if info.kind == "categorical"
            else numeric(values, info.name)
        )
    return matrix


def _threads(num_threads: int | None) -> dict[str, Any]:
    """LightGBM's `num_threads` when given; otherwise the booster's own setting applies."""
    return {} if num_threads is None else {"num_threads": num_threads}


def fingerprint(model_text: bytes) -> str:
    """What stored tables are checked against: the model text they were built from."""
    return hashlib.sha256(model_text).hexdigest()


def _stored_tables(directory: Path, model: str) -> Tables | None:
    """The folder's tables for this model text; None (logged) when absent or unusable."""
    path = directory / TABLES_FILE
    if not path.exists():
        return None
    try:
        return Tables.from_bytes(path, model)
    except StaleTables as error:
        log.warning("%s not used (%s): the tree tables will be built", path.name, error)
        return None


class ChurnModel:
    """Calibrated churn probabilities and contributions from snapshot rows."""

    def __init__(
        self,
        booster: lgb.Booster,
        metadata: ModelMetadata,
        explainer: Explainer | None = None,
        stored: Tables | None = None,
    ) -> None:
        """`explainer`: tables already built for this booster (a Spark executor gets the
        driver's); `stored`: tables read from the model's folder, checked before first use;
        else they are built on first use."""
        names = [info.name for info in metadata.features]
        if booster.feature_name() != names:
            raise ValueError("booster features differ from the metadata's feature list")
        linear = metadata.linear
        unknown = [name for name in linear.features if name not in names] if linear else []
        if unknown:
            raise ValueError(f"the linear term's features {unknown} are not model features")
        self.booster = booster
        self.metadata = metadata
        self._stored = stored
        if explainer is not None:
            self.__dict__["explainer"] = explainer  # the cached property's value
        self._linear_columns = [names.index(name) for name in linear.features] if linear else []

    @classmethod
    def load(cls, directory: Path) -> ChurnModel:
        text = (directory / MODEL_FILE).read_bytes()
        booster = lgb.Booster(model_str=text.decode())
        metadata = ModelMetadata.model_validate_json((directory / METADATA_FILE).read_text())
        return cls(booster, metadata, stored=_stored_tables(directory, fingerprint(text)))

    def save(self, directory: Path) -> None:
        """The two model files, and the explainer's tables when the trees have a say."""
        directory.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(directory / MODEL_FILE))
        text = json.dumps(self.metadata.model_dump(mode="json"), indent=1)
        (directory / METADATA_FILE).write_text(text)
        if self._weights()[0]:
            tables = self.explainer.tables.to_bytes(
                fingerprint((directory / MODEL_FILE).read_bytes())
            )
            (directory / TABLES_FILE).write_bytes(tables)

    @cached_property
    def catalog(self) -> list[Feature]:
        """Booster inputs in booster order (the column order of `contributions`)."""
        return [info.feature() for info in self.metadata.features]

    def inputs(self, frame: Columns) -> dict[str, np.ndarray]:
        """The booster's inputs by name as arrays (numbers as float64, categories as text or
        None), derived ones included: what reasons quote next to a score."""
        meta = self.metadata
        missing = [name for name in meta.input_names if name not in frame]
        if missing:
            raise ModelInputError(f"rows lack the model's features: {', '.join(missing)}")
        given: dict[str, np.ndarray] = {
            info.name: categories(frame[info.name])
            if info.kind == "categorical"
            else numeric(frame[info.name], info.name)
            for info in meta.features
            if not info.derived
        }
        if meta.bgnbd is not None:
            given.update(probabilities(given, meta.bgnbd, meta.horizon_days))
        return {info.name: given[info.name] for info in meta.features}

    def _weights(self) -> tuple[float, float]:
        """(booster, linear) weights of the margin; a model without a linear term is all trees."""
        if self.metadata.linear is None:
            return 1.0, 0.0
        return self.metadata.blend_weight, 1.0 - self.metadata.blend_weight

    def raw_margin(self, matrix: Floats, num_threads: int | None = None) -> Floats:
        """The margin of an encoded matrix (`encode`): trees, linear term, or their blend."""
        trees, linear = self._weights()
        margin = np.zeros(len(matrix))
        if trees:
            raw = self.booster.predict(matrix, raw_score=True, **_threads(num_threads))
            margin += trees * np.asarray(raw, dtype="float64")
        if linear and self.metadata.linear is not None:
            margin += linear * self.metadata.linear.margin(matrix[:, self._linear_columns])
        return margin

    @cached_property
    def explainer(self) -> Explainer:
        """The booster's tree tables (`artifact.explainer`): the stored ones once checked
        against LightGBM, else built; on first use, which the service's and `winback score`'s
        load check makes, and gone with this model."""
        from artifact.explainer import Explainer

        stored, self._stored = self._stored, None
        if stored is not None:
            try:
                return Explainer.stored(self.booster, stored)
            except StaleTables as error:
                log.warning("stored tree tables not used (%s): building them", error)
        return Explainer.of(self.booster)

    def raw_scores(self, matrix: Floats, num_threads: int | None = None) -> tuple[Floats, Floats]:
        """`raw_margin` (to the bit) and `raw_contributions` in one pass over the trees."""
        trees, linear = self._weights()
        if trees:
            margin, found = self.explainer.scores(matrix, num_threads)
            if trees != 1.0:
                margin *= trees
                found *= trees
        else:
            margin = np.zeros(len(matrix))
            found = np.zeros((len(matrix), len(self.metadata.features) + 1))
        if linear and self.metadata.linear is not None:
            term, columns = self.metadata.linear, self._linear_columns
            margin += linear * term.margin(matrix[:, columns])
            found[:, columns] += linear * term.contributions(matrix[:, columns])
            found[:, -1] += linear * term.intercept
        return margin, found

    def raw_contributions(self, matrix: Floats, num_threads: int | None = None) -> Floats:
        """Per-feature contributions to `raw_margin`, then the bias column: LightGBM's own
        (`pred_contrib`, from the tree tables) for the trees, coef * z for the linear term,
        weighted as the margin is."""
        return self.raw_scores(matrix, num_threads)[1]

    def margin(self, frame: Columns) -> Floats:
        return self.raw_margin(encode(self.inputs(frame), self.metadata.features))

    def predict_proba(self, frame: Columns) -> Floats:
        """Calibrated probability of churning within the horizon, one per row."""
        return self.metadata.calibration.apply(self.margin(frame))

    def contributions(self, frame: Columns) -> Floats:
        """Per-feature contributions to the raw margin, then the bias column."""
        return self.raw_contributions(encode(self.inputs(frame), self.metadata.features))
