"""Batch scoring: every user in the online store, with the champion, into one Parquet file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from serving.model_source import Serving
from serving.online_store import StoreVersion, all_rows
from serving.scoring import score_store_rows


def score_all(
    serving: Serving, read: Callable[[StoreVersion], pd.DataFrame] = all_rows
) -> pd.DataFrame:
    """The same scoring the service does per request, over the whole store at once; `read`
    gives the store version's rows (`serving.store_read.ReadAhead.rows`: already read)."""
    # The frame is handed over (no name here holds it), so its feature columns are freed
    # once encoded: the store is never held twice.
    return score_store_rows(serving.model, read(serving.store.version), serving.version)


def write_scores(scores: pd.DataFrame, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    scores.to_parquet(out, index=False)
