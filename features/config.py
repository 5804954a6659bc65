"""Typed dataset config, loaded from YAML with one readable error per mistake."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from features.errors import ConfigError

FileFormat = Literal["csv", "parquet", "whitespace"]


class Strict(BaseModel):
    """Unknown keys are mistakes (a typo must not silently fall back to a default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def resolve_path(value: str, info: ValidationInfo) -> str:
    """Relative paths are relative to the config file's folder, so configs work from anywhere."""
    base = (info.context or {}).get("base_dir")
    path = Path(os.path.expanduser(value))
    if base is not None and not path.is_absolute():
        path = Path(base) / path
    return os.path.normpath(path)


def resolve_optional_path(value: str | None, info: ValidationInfo) -> str | None:
    return None if value is None else resolve_path(value, info)


class EventColumns(Strict):
    """Names of the source columns that hold each canonical field."""

    user_id: str
    ts: str
    event: str | None = None
    value: str | None = None
    session_id: str | None = None


class UserColumns(Strict):
    user_id: str
    signup_ts: str | None = None
    attributes: list[str] = Field(default_factory=list)


class FileSource(Strict):
    """Where a table lives and how to parse it; shared by events and users."""

    path: str = Field(description="A file or a glob")
    format: FileFormat
    header: bool = True
    delimiter: str = ","
    ts_format: str | None = Field(None, description="strftime format; ISO-8601 when unset")
    timezone: str = Field("UTC", description="Zone of timestamps written without an offset")

    _resolve_path = field_validator("path")(resolve_path)


class EventSource(FileSource):
    columns: EventColumns
    event_types: list[str] | None = Field(
        None, description="Known event types; other values are quarantined"
    )
    duplicates: Literal["quarantine", "keep"] = Field(
        "quarantine",
        description="Exact repeats of a row: quarantine them, or keep them (logs without an "
        "event id, where two identical purchases on one day are both real); counted either way",
    )
    default_event: str = Field(
        "event", description="Event type of rows without one (e.g. 'purchase' for a sales log)"
    )


class UserSource(FileSource):
    columns: UserColumns


class ChurnConfig(Strict):
    mode: Literal["inactivity", "event"]
    horizon_days: PositiveInt
    active_window_days: PositiveInt
    lapsed_after_days: PositiveInt
    qualifying_events: list[str] | None = Field(
        None, description="Inactivity mode: events that count as staying (default: all)"
    )
    churn_events: list[str] | None = Field(
        None,
        description="Events that mean the user left (e.g. cancel): the label in event mode; "
        "in either mode a user whose last event is one is lapsed, not at risk",
    )
    min_tenure_days: PositiveInt | None = Field(
        None, description="Users younger than this are 'new' and not labelled"
    )

    @model_validator(mode="after")
    def _consistent(self) -> ChurnConfig:
        if self.mode == "event" and not self.churn_events:
            raise ValueError("mode 'event' needs churn_events (e.g. [cancel])")
        if self.lapsed_after_days < self.active_window_days:
            raise ValueError(
                f"lapsed_after_days ({self.lapsed_after_days}) must be >= active_window_days "
                f"({self.active_window_days}): a user cannot be both active and lapsed"
            )
        return self


class CutoffRange(Strict):
    start: dt.date
    end: dt.date
    step_days: PositiveInt

    @model_validator(mode="after")
    def _ordered(self) -> CutoffRange:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self

    def dates(self) -> list[dt.date]:
        step = dt.timedelta(days=self.step_days)
        count = (self.end - self.start) // step + 1
        return [self.start + i * step for i in range(count)]


class FeatureConfig(Strict):
    windows_days: list[PositiveInt] = Field(default_factory=lambda: [7, 14, 30, 90])
    trend_window_days: PositiveInt = 30

    @field_validator("windows_days")
    @classmethod
    def _sorted_unique(cls, value: list[int]) -> list[int]:
        return sorted(set(value))


EngineKind = Literal["duckdb", "spark"]


class SparkConfig(Strict):
    """How to reach Spark; WINBACK_SPARK_MASTER overrides `master` for one run."""

    master: str | None = Field(
        None,
        description="Master URL (local[2], spark://host:7077, yarn); unset: spark-submit's "
        "--master, or local[*] when run directly",
    )
    conf: dict[str, str] = Field(
        default_factory=dict,
        description="Extra Spark settings, e.g. spark.executor.memory: 4g",
    )

    @field_validator("conf", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        """YAML reads `200` and `true` as numbers and booleans; Spark wants their text."""
        if not isinstance(value, dict):
            return value
        return {
            key: str(item).lower() if isinstance(item, bool | int | float) else item
            for key, item in value.items()
        }


class EngineConfig(Strict):
    """Where features are computed: embedded DuckDB, or the same Ibis code on Spark."""

    kind: EngineKind = "duckdb"
    spark: SparkConfig = Field(default_factory=SparkConfig)


class LightGBMConfig(Strict):
    """Booster settings. The defaults suit logs of tens of thousands of users and more: small
    trees, strong L2, about a hundred rounds, so serving stays fast (scoring and reasons cost
    grows with the number of trees). Small noisy logs want even smaller trees and a slower
    rate (configs/cdnow.yaml): their test cutoff lies past every training cutoff, and smooth
    models extrapolate better than ones that memorise early cohorts."""

    learning_rate: Annotated[float, Field(gt=0, le=1)] = 0.1
    num_leaves: Annotated[int, Field(ge=2)] = 15
    min_data_in_leaf: PositiveInt = 100
    feature_fraction: Annotated[float, Field(gt=0, le=1)] = 0.7
    bagging_fraction: Annotated[float, Field(gt=0, le=1)] = 0.8
    bagging_freq: Annotated[int, Field(ge=0)] = 1
    lambda_l2: Annotated[float, Field(ge=0)] = 10.0
    max_rounds: PositiveInt = 2000
    early_stopping_rounds: PositiveInt = 100
    num_threads: PositiveInt = Field(
        1, description="Fixed so a seed reproduces the model; one is fastest on shared machines"
    )


class PromotionConfig(Strict):
    min_auc_gain: Annotated[float, Field(ge=0)] = Field(
        0.0,
        description="A new model becomes champion only if its test ROC AUC exceeds the "
        "champion's (re-scored on the same snapshot) by more than this",
    )


class ModelConfig(Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    seed: int = 42
    validation_cutoffs: PositiveInt = Field(
        1, description="Latest labelable cutoffs before the test cutoff used for validation"
    )
    imbalance: Literal["none", "balanced"] = Field(
        "none",
        description="none: unweighted rows, so probabilities stay honest; balanced: both "
        "classes weigh the same within each cutoff (for rare churn), undone by calibration",
    )
    calibration: tuple[Literal["isotonic", "sigmoid"], ...] = Field(
        ("isotonic", "sigmoid"),
        min_length=1,
        description="Candidates; the one with the lower cross-validated log loss on the "
        "validation snapshot wins",
    )
    probability_alive: bool = Field(
        False,
        description="Add BG/NBD features (probability alive, probability of no event in the "
        "horizon) fitted on the last training cutoff; suits purchase logs",
    )
    lightgbm: LightGBMConfig = Field(default_factory=LightGBMConfig)
    promotion: PromotionConfig = Field(default_factory=PromotionConfig)


class ServingConfig(Strict):
    """The scoring service's limits and how it follows the registry."""

    max_batch: PositiveInt = Field(1000, description="Most user ids or rows in one request")
    workers: PositiveInt = Field(
        2,
        description="Server processes, each with its own copy of the model and store; one "
        "saturated a core at about 150 one-user requests per second here",
    )
    access_log: bool = Field(
        False,
        description="One log line per request (BentoML's access log); on this machine it "
        "cost about a tenth of a one-user request's server time",
    )
    max_recall_list: PositiveInt = Field(10_000, description="Largest `limit` for /recall_list")
    poll_seconds: float = Field(
        30.0, ge=0, description="How often to look for a new champion or store (0 = never)"
    )
    recall_policy: str | None = Field(
        None,
        description="Recall policy YAML: /recall_list then answers what `winback recall` "
        "decides (strategy, group, cost); without it, the ranking only",
    )

    _resolve_policy = field_validator("recall_policy")(resolve_optional_path)


class DatasetConfig(Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    workdir: str
    events: EventSource
    users: UserSource | None = None
    churn: ChurnConfig
    cutoffs: CutoffRange
    features: FeatureConfig = Field(default_factory=FeatureConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    model: ModelConfig
    serving: ServingConfig = Field(default_factory=ServingConfig)

    _resolve_workdir = field_validator("workdir")(resolve_path)

    @property
    def workdir_path(self) -> Path:
        return Path(self.workdir)


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def describe_errors(error: ValidationError, source: Path) -> str:
    lines = []
    for item in error.errors():
        got = item.get("input")
        shown = "" if isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"{source}: {_location(item['loc'])}: {item['msg']}{shown}")
    return "\n".join(lines)


def parse_config(data: Any, source: Path) -> DatasetConfig:
    """Validate parsed YAML; `source` anchors relative paths and names the file in errors."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys at the top level")
    try:
        return DatasetConfig.model_validate(
            data, context={"base_dir": str(source.resolve().parent)}
        )
    except ValidationError as error:
        raise ConfigError(describe_errors(error, source)) from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """A key given twice is an error: plain YAML keeps the last one and drops the other."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read {what} ({error.strerror})") from None


def parse_yaml(text: str, source: Path) -> Any:
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as error:
        raise ConfigError(f"{source}: not valid YAML: {error}") from None


def load_config(path: str | Path) -> DatasetConfig:
    """Read a dataset YAML, expanding ${ENV} variables, into a validated config."""
    source = Path(path)
    return parse_config(parse_yaml(os.path.expandvars(read_text(source, "config")), source), source)
