"""What was sent and what it did: the current recall list, every reviewed campaign, and the
model's health over time, from the files the commands that made them wrote.

- the recall list is `recall.selection.recall_list` of the current decisions (what
  `winback recall` writes and /recall_list answers); each row gets the sentences of its
  user's reasons from the scores table, and the `rule` column when the decisions carry one;
- reviews are the folders `winback review` writes under <workdir>/reviews/ (its
  `review.csv` holds the unrounded numbers, `review.md` the headline, plus its charts);
- model health is the monitor's summary.json (`winback monitor`), read as the file it is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from core.config import DatasetConfig, InputError
from recall.report import reviews_root
from recall.review import ALL

RULE = "rule"  # which rule chose the user (uplift or save rate), when decisions carry it
LIST_COLUMNS = (
    "priority",
    "user_id",
    "group",
    "segment",
    "tier",
    "risk_band",
    "strategy",
    "channel",
    "offer",
    "cost",
    "expected_net_value",
    RULE,
    "reasons",
    "why",
)
REVIEW_NUMBERS, REVIEW_TEXT = "review.csv", "review.md"
REVIEW_CHARTS = ("uplift.png", "return_rates.png")
MONITOR_SUMMARY = Path("monitor") / "summary.json"  # monitoring.report under its report_folder

Stamp = tuple[tuple[str, int, int], ...]


def stamp(paths: Sequence[Path]) -> Stamp:
    """(path, mtime, size) of each file, (-1, -1) when absent: a cache key that changes
    whenever one of them is written."""
    found = []
    for path in paths:
        try:
            info = os.stat(path)
            found.append((str(path), info.st_mtime_ns, info.st_size))
        except FileNotFoundError:
            found.append((str(path), -1, -1))
    return tuple(found)


def sentences(reasons: pd.Series) -> pd.Series:
    """The reasons JSON of each row as its sentences, strongest first, joined by '; '."""
    return reasons.map(
        lambda text: (
            "; ".join(r["sentence"] for r in json.loads(text)) if isinstance(text, str) else ""
        )
    )


def recall_rows(listed: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """The list as the page shows it: best first, reasons in words (the model's for scored
    users, the list's own `top_reason` for the others), `rule` when there is one."""
    reasons = scores.set_index("user_id")["reasons"].reindex(listed["user_id"].astype("str"))
    worded = pd.Series(sentences(reasons).to_numpy(), index=listed.index)
    rows = listed.assign(reasons=worded.where(worded != "", listed["top_reason"]))
    return rows.loc[:, [column for column in LIST_COLUMNS if column in rows.columns]]


@dataclass(frozen=True)
class Reviewed:
    campaign_id: str
    folder: Path
    headline: list[str]  # the review's own sentences (date, window, what counts as significant)
    table: pd.DataFrame  # review.csv: one row per strategy, then all strategies
    charts: list[Path]

    @property
    def pooled(self) -> dict[str, Any]:
        rows = self.table[self.table["strategy"] == ALL]
        return {str(k): v for k, v in rows.iloc[0].items()} if len(rows) else {}


def review_files(config: DatasetConfig) -> list[Path]:
    return sorted(reviews_root(config).glob(f"*/{REVIEW_NUMBERS}"))


def _headline(markdown: Path) -> list[str]:
    """The paragraphs of review.md between its title and its table."""
    try:
        text = markdown.read_text()
    except FileNotFoundError:
        return []
    paragraphs = [part.strip() for part in text.split("\n\n")]
    return [part for part in paragraphs if part and not part.startswith(("#", "|", "!["))]


def reviews(config: DatasetConfig) -> list[Reviewed]:
    """Every review under <workdir>/reviews/, newest file first."""
    found = []
    for numbers in review_files(config):
        folder = numbers.parent
        try:
            table = pd.read_csv(numbers, dtype={"strategy": "str", "channel": "str"})
        except (OSError, ValueError) as error:
            raise InputError(f"{numbers}: cannot read the review ({error})") from None
        table["channel"] = table["channel"].fillna("")
        charts = [folder / name for name in REVIEW_CHARTS if (folder / name).is_file()]
        found.append(Reviewed(folder.name, folder, _headline(folder / REVIEW_TEXT), table, charts))
    return sorted(found, key=lambda r: os.stat(r.folder / REVIEW_NUMBERS).st_mtime_ns, reverse=True)


def summary_path(config: DatasetConfig) -> Path:
    return config.workdir_path / MONITOR_SUMMARY


def read_summary(path: Path) -> dict[str, Any] | None:
    """The monitor's summary, None when `winback monitor` has not run here."""
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: cannot read the monitor's summary ({error})") from None
    return data


def health(summary: dict[str, Any]) -> pd.DataFrame:
    """One row per ledger snapshot: promised, realised (with interval) and expected ROC AUC,
    ECE, the score's drift and the findings."""
    rows = []
    for snapshot in summary.get("snapshots", []):
        realised = snapshot.get("realised") or {}
        metrics, intervals = realised.get("metrics", {}), realised.get("intervals", {})
        low, high = intervals.get("roc_auc", (None, None))
        promised_low, promised_high = snapshot.get("promised_intervals", {}).get(
            "roc_auc", (None, None)
        )
        drift = snapshot.get("score_drift") or {}
        rows.append(
            {
                "cutoff": snapshot["cutoff"],
                "model_version": snapshot.get("model_version"),
                "scored": snapshot.get("scored"),
                "matured": bool(snapshot.get("matured")),
                "promised_auc": snapshot.get("promised", {}).get("roc_auc"),
                "promised_low": promised_low,
                "promised_high": promised_high,
                "realised_auc": metrics.get("roc_auc"),
                "realised_low": low,
                "realised_high": high,
                "expected_auc": snapshot.get("expected", {}).get("roc_auc"),
                "ece": metrics.get("ece"),
                "score_psi": drift.get("value"),
                "findings": "; ".join(
                    f"{f['level']}: {f['text']}" for f in snapshot.get("findings", [])
                ),
            }
        )
    return pd.DataFrame(rows)
