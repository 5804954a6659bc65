"""Batch scoring: every user in the online store, with the champion, into one Parquet file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from serving.model_source import Serving
from serving.online_store import read_all
from serving.scoring import score_store_rows


def score_all(serving: Serving) -> pd.DataFrame:
    """The same scoring the service does per request, over the whole store at once."""
    # Each Arrow column is freed once converted, and the frame is handed over (no name here
    # holds it), so its feature columns are freed once encoded: the store is never held twice.
    return score_store_rows(
        serving.model,
        read_all(serving.store.version).to_pandas(self_destruct=True, split_blocks=True),
        serving.version,
    )


def write_scores(scores: pd.DataFrame, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    scores.to_parquet(out, index=False)
