"""The prediction ledger: what every batch scoring predicted, kept so `winback monitor` can
check it against what happened once the label window has passed.

One Parquet file per (cutoff, model name, model version) under `<workdir>/ledger/`,
partitioned by cutoff (`cutoff=YYYY-MM-DD/`). Scoring the same cutoff with the same version
again replaces that file (written beside it, then renamed over it), so the ledger never holds
a prediction twice and a reader never sees half a file.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from core.config import DatasetConfig, InputError

LEDGER = "ledger"
COLUMNS = ("user_id", "status", "churn_probability", "risk_band", "rank")
META = ("model_name", "model_version", "store_version", "cutoff", "recorded")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class Entry:
    """Which prediction a ledger file holds; also its identity (same entry, same file)."""

    model_name: str
    model_version: str
    store_version: str
    cutoff: dt.date

    def path(self, root: Path) -> Path:
        name = _UNSAFE.sub("_", self.model_name)
        return root / f"cutoff={self.cutoff.isoformat()}" / f"{name}-v{self.model_version}.parquet"


def ledger_root(config: DatasetConfig) -> Path:
    return config.workdir_path / LEDGER


def rows(scores: pd.DataFrame, entry: Entry, recorded: dt.datetime) -> pd.DataFrame:
    """The scores table's per-user columns, with the entry's identity on every row."""
    table = scores.loc[:, list(COLUMNS)].reset_index(drop=True)
    return table.assign(
        model_name=entry.model_name,
        model_version=entry.model_version,
        store_version=entry.store_version,
        cutoff=entry.cutoff,
        recorded=recorded.isoformat(timespec="seconds"),
    )


def record(root: Path, scores: pd.DataFrame, entry: Entry) -> Path:
    """Write (or replace) the entry's file; returns its path."""
    path = entry.path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    rows(scores, entry, dt.datetime.now(dt.UTC)).to_parquet(partial, index=False)
    os.replace(partial, path)
    return path


def entries(root: Path) -> list[tuple[Entry, Path]]:
    """Every ledger file with its identity, oldest cutoff first."""
    found = []
    for path in sorted(root.glob("cutoff=*/*.parquet")):
        meta = pq.read_table(path, columns=list(META[:3])).slice(0, 1).to_pylist()
        if not meta:
            continue
        cutoff = dt.date.fromisoformat(path.parent.name.removeprefix("cutoff="))
        found.append((Entry(**meta[0], cutoff=cutoff), path))
    return found


def read_entry(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path)


def require(root: Path) -> list[tuple[Entry, Path]]:
    """The entries, or a one-line error saying how the ledger gets its first one."""
    found = entries(root) if root.is_dir() else []
    if not found:
        raise InputError(f"{root}: the ledger is empty; `winback score` records every scoring")
    return found
