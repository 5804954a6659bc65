"""The root config: the dataset YAML assembled from each package's section, its loader (every
error names the file and key) and the errors a user can act on.

Every package may import this module; it imports only the section modules (`features.config`,
`training.config`, `serving.config`, `monitoring.config`, `cycle.config`, `uplift.config`), which
import nothing of the project but `core.sections`. The layer contract in pyproject.toml holds
both rules.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, ValidationError, field_validator

from core.sections import Strict, resolve_path
from cycle.config import CycleConfig
from features.config import (
    ChurnConfig,
    CutoffRange,
    EngineConfig,
    EventSource,
    FeatureConfig,
    UserSource,
)
from monitoring.config import MonitorConfig
from serving.config import ServingConfig
from training.config import ModelConfig
from uplift.config import UpliftConfig


class WinbackError(Exception):
    """Base for problems in the user's input or setup, as opposed to bugs."""


class ConfigError(WinbackError):
    """A config file is missing, unreadable, or has a bad key; the message names file and key."""


class InputError(WinbackError):
    """A data source cannot be used at all; the message names the file and column."""


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
    monitor: MonitorConfig = Field(default_factory=MonitorConfig)
    cycle: CycleConfig = Field(default_factory=CycleConfig)
    uplift: UpliftConfig = Field(default_factory=UpliftConfig)

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


def _date_as_text(loader: _UniqueKeyLoader, node: yaml.ScalarNode) -> str:
    """Dates stay text for pydantic to parse: YAML's own date parser fails on 2025-13-45 with
    a bare ValueError that names neither file nor key; pydantic's error names both."""
    return loader.construct_scalar(node)


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:timestamp", _date_as_text)


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
