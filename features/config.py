"""The feature sections of the dataset config: sources, churn windows, cutoffs, features and
the engine. Built on `core.sections` only; `core.config` assembles them."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import (
    Field,
    PositiveInt,
    field_validator,
    model_validator,
)

from core.sections import Strict, resolve_path

FileFormat = Literal["csv", "parquet", "whitespace"]


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
    max_count: PositiveInt = Field(
        400,
        description="Most cutoffs a range may give: each one adds every user to the snapshots, "
        "so step_days: 1 over years would fill the disk",
    )

    @model_validator(mode="after")
    def _bounded(self) -> CutoffRange:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        if self.count > self.max_count:
            raise ValueError(
                f"{self.count:,} cutoffs ({self.start} to {self.end} every {self.step_days} "
                f"days) is more than max_count {self.max_count}: use a longer step, or raise "
                "cutoffs.max_count"
            )
        return self

    @property
    def count(self) -> int:
        return (self.end - self.start).days // self.step_days + 1

    def dates(self) -> list[dt.date]:
        step = dt.timedelta(days=self.step_days)
        return [self.start + i * step for i in range(self.count)]


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
