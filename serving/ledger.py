"""The prediction ledger: what every batch scoring predicted, kept so `winback monitor` can
check it against what happened once the label window has passed.

One Parquet file per (cutoff, model name, model version) under `<workdir>/ledger/`,
partitioned by cutoff (`cutoff=YYYY-MM-DD/`). Scoring the same cutoff with the same version
again replaces that file (written beside it, then renamed over it), so the ledger never holds
a prediction twice and a reader never sees half a file.

Every recall list is kept under `<workdir>/ledger/recall/`, one file per campaign: who was
treated, who held out, on which prediction. Contacted users' outcomes are what the campaign
changed, not what the model foresaw, so the monitor leaves them out of realised metrics.
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
from recall.codes import TREATMENT

LEDGER = "ledger"
RECALL = "recall"
CAMPAIGN_COLUMNS = (
    "campaign_id",
    "campaign_date",
    "user_id",
    "group",
    "strategy",
    "channel",
    "churn_probability",
    "risk_band",
    "model_version",
)
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


def _replace(path: Path, table: pd.DataFrame) -> Path:
    """Written beside the file, then renamed over it: a reader sees the old or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    table.to_parquet(partial, index=False)
    os.replace(partial, path)
    return path


def record(root: Path, scores: pd.DataFrame, entry: Entry) -> Path:
    """Write (or replace) the entry's file; returns its path."""
    return _replace(entry.path(root), rows(scores, entry, dt.datetime.now(dt.UTC)))


def campaign_path(root: Path, campaign_id: str, cutoff: dt.date) -> Path:
    name = _UNSAFE.sub("_", campaign_id)
    return root / RECALL / f"cutoff={cutoff.isoformat()}" / f"{name}.parquet"


def record_campaign(root: Path, listed: pd.DataFrame, cutoff: dt.date) -> Path:
    """Keep (or replace) a recall list: one campaign, decided on the scores as of `cutoff`."""
    missing = [column for column in CAMPAIGN_COLUMNS if column not in listed.columns]
    if missing:
        raise InputError(f"recall list lacks column(s) {', '.join(missing)}")
    table = listed.loc[:, list(CAMPAIGN_COLUMNS)].reset_index(drop=True)
    table = table.astype({"campaign_id": "str", "user_id": "str", "model_version": "str"})
    campaigns = table["campaign_id"].unique()
    if len(campaigns) != 1:
        raise InputError(f"recall list holds {len(campaigns)} campaigns, not one")
    recorded = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    table = table.assign(cutoff=cutoff, recorded=recorded)
    return _replace(campaign_path(root, str(campaigns[0]), cutoff), table)


def contacted(root: Path, start: dt.date, end: dt.date) -> pd.DataFrame:
    """user_id and campaign_id of every treated user of a campaign dated in [start, end)."""
    frames = [pd.read_parquet(p) for p in sorted((root / RECALL).glob("cutoff=*/*.parquet"))]
    if not frames:
        return pd.DataFrame({"user_id": pd.Series(dtype="str"), "campaign_id": []})
    every = pd.concat(frames, ignore_index=True)
    dates = pd.to_datetime(every["campaign_date"].astype("str")).dt.date
    inside = (every["group"] == TREATMENT) & (dates >= start) & (dates < end)
    return every.loc[inside, ["user_id", "campaign_id"]].reset_index(drop=True)


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
