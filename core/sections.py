"""What every config section is built from: strict records and paths relative to the file.

Imports nothing of the project, so each package's section module can build on it and the
root config (`core.config`) can assemble the sections without an import cycle.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationInfo


class Strict(BaseModel):
    """Unknown keys are mistakes (a typo must not silently fall back to a default)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def resolve_path(value: str, info: ValidationInfo) -> str:
    """Relative paths are relative to the config file's folder, so configs work from anywhere."""
    base = (info.context or {}).get("base_dir")
    path = Path(os.path.expanduser(value))
    if base is not None and not path.is_absolute():
        path = Path(base) / path
    return os.path.normpath(path)


def resolve_optional_path(value: str | None, info: ValidationInfo) -> str | None:
    return None if value is None else resolve_path(value, info)
