"""The `serving` section: the scoring service's limits and how it follows the registry."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt, field_validator

from core.sections import Strict, resolve_optional_path


class SqliteStoreConfig(Strict):
    """The embedded default: each version a SQLite file (and Parquet) under the workdir."""

    kind: Literal["sqlite"] = "sqlite"


class RedisStoreConfig(Strict):
    """Rows in a Redis server several service replicas share; Parquet stays under the workdir."""

    kind: Literal["redis"]
    url: str = Field(description="redis://[user:password@]host:port/db (${ENV} is expanded)")
    key_prefix: str | None = Field(
        None, description="Prefix of every key this dataset writes (default winback:<name>)"
    )
    keep_versions: PositiveInt = Field(
        3, description="Published versions kept; older ones expire after `expire_seconds`"
    )
    expire_seconds: PositiveInt = Field(
        3600,
        description="Grace before an old version's rows go: a replica still on it (within "
        "its poll interval) keeps answering from it",
    )
    unpublished_seconds: PositiveInt = Field(
        86_400, description="How long a written but unpublished (e.g. crashed) version lives"
    )
    batch_rows: PositiveInt = Field(
        5_000, description="Rows written per pipelined round trip by `winback materialize`"
    )
    timeout_seconds: float = Field(
        2.0, gt=0, description="Socket timeout of one Redis call (a lookup or a write)"
    )


StoreConfig = Annotated[SqliteStoreConfig | RedisStoreConfig, Field(discriminator="kind")]


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
    max_body_bytes: PositiveInt = Field(
        1 << 20,
        description="Largest request body in bytes, refused with 413 before it is parsed; "
        "1 MiB holds a full batch of feature rows several times over",
    )
    registry_timeout_seconds: PositiveInt = Field(
        5,
        description="Timeout of one call to a registry server (MLflow over HTTP), with one "
        "retry; the poller makes these calls, never a request",
    )
    store: StoreConfig = Field(
        default_factory=SqliteStoreConfig,
        description="The online store: sqlite (embedded default) or redis (shared by replicas)",
    )
    recall_policy: str | None = Field(
        None,
        description="Recall policy YAML: /recall_list then answers what `winback recall` "
        "decides (strategy, group, cost); without it, the ranking only",
    )

    max_active_share_change: float = Field(
        0.25,
        gt=0,
        le=1,
        description="`winback materialize` needs --force for a store whose share of active "
        "users differs from the live version's by more than this (absolute)",
    )
    max_active_share_ratio: float = Field(
        2.0,
        gt=1,
        description="... or is more than this many times the live version's share, or less "
        "than its inverse",
    )

    _resolve_policy = field_validator("recall_policy")(resolve_optional_path)
