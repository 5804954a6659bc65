"""Feature rows -> probability, percentile, band and reasons: one function for the service,
batch scoring and the recall list, so they cannot disagree.

The steps are separate functions so the serving benchmark can time each on the same data;
`score_rows` (a request's few rows) and `score_store_rows` (the whole store) run them in the
same order. Rows are encoded once, and one pass over the trees gives the margin and the
contributions (`ChurnModel.raw_scores`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from artifact.model import ChurnModel, Columns, encode
from features.status import ACTIVE, STATUS
from serving.reasons import Explained, concat, explain
from serving.risk import band_codes, risk_band, risk_percentile

SCORED = "scored"
UNKNOWN = "unknown"
# Fewer rows than this are scored on one LightGBM thread: a request's handful of rows is done
# before OpenMP's other threads would start, and a busy server has no idle core to lend.
# Batch-sized inputs use every core.
PARALLEL_FROM_ROWS = 10_000
# Active store rows scored at a time: one block's encoded matrix and contributions are held
# (about 250 MB each for 700k rows of 43 features), not the whole store's; big enough that a
# block still spreads over every core and words most of its distinct values once.
BLOCK_ROWS = 262_144


@dataclass(frozen=True)
class Scores:
    """Per-row results, aligned with the rows that were scored."""

    probability: np.ndarray
    percentile: np.ndarray
    band: np.ndarray
    reasons: list[list[dict[str, object]]]


@dataclass(frozen=True)
class Explanations:
    """Like `Scores`, with the reasons still as arrays (batch turns them into JSON text) and
    no bands yet (batch writes them as Arrow text, a request as Python strings)."""

    probability: np.ndarray
    percentile: np.ndarray
    explained: Explained


def threads(rows: int) -> int:
    """LightGBM's num_threads for this many rows (0: OpenMP's default, every core)."""
    return 1 if rows < PARALLEL_FROM_ROWS else 0


def encoded(model: ChurnModel, rows: Columns) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The model's inputs by name (for the reasons) and as the booster's float matrix; a
    numeric input is its matrix column (the same numbers, held once)."""
    inputs = model.inputs(rows)
    matrix = encode(inputs, model.metadata.features, order="F")
    for column, info in enumerate(model.metadata.features):
        if info.kind != "categorical":
            inputs[info.name] = matrix[:, column]
    return inputs, matrix


def margins(model: ChurnModel, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`ChurnModel.raw_scores` on an encoded matrix: the margin and the contributions."""
    return model.raw_scores(matrix, num_threads=threads(len(matrix)))


@dataclass(frozen=True)
class Margins:
    """A batch's inputs by name, margins and contributions: scored, not yet explained."""

    inputs: dict[str, np.ndarray]
    margin: np.ndarray
    contributions: np.ndarray


def scored_margins(model: ChurnModel, rows: Columns) -> Margins:
    inputs, matrix = encoded(model, rows)
    del rows  # a batch's columns, now in `matrix`: not held while it is scored
    return Margins(inputs, *margins(model, matrix))


def explained(
    model: ChurnModel, found: Margins, reasons: int = 3, parallel: bool | None = None
) -> Explanations:
    """Probability, percentile, band and reasons of scored rows; `parallel`: rank the
    reasons over every core (default: when the batch is big enough)."""
    rows = len(found.margin)
    probability = model.metadata.calibration.apply(found.margin)
    percentile = risk_percentile(probability, model.metadata.reference_scores)
    spread = threads(rows) != 1 if parallel is None else parallel
    return Explanations(
        probability=probability,
        percentile=percentile,
        explained=explain(found.contributions, found.inputs, model.catalog, reasons, spread),
    )


def explained_scores(model: ChurnModel, rows: Columns, reasons: int = 3) -> Explanations:
    """Every step of scoring; the callers only shape the output (dicts or a table)."""
    return explained(model, scored_margins(model, rows), reasons)


def score_rows(model: ChurnModel, rows: Columns, reasons: int = 3) -> Scores:
    """Score every row (the caller decides who is scorable); columns are matched by name."""
    scores = explained_scores(model, rows, reasons)
    return Scores(
        probability=scores.probability,
        percentile=scores.percentile,
        band=risk_band(scores.percentile),
        reasons=[[reason.to_dict() for reason in row] for row in scores.explained.reasons()],
    )


def _text(
    scored: pa.ChunkedArray, others: int, default: str | None
) -> pd.api.extensions.ExtensionArray:
    """A pandas text column kept in Arrow (a million reasons never become Python strings):
    the scored rows' texts, then `default` for the `others`."""
    rest = pa.repeat(pa.scalar(default, pa.large_string()), others)
    texts = pa.chunked_array([*scored.chunks, rest], pa.large_string())
    return pd.array(texts, dtype=pd.StringDtype("pyarrow", na_value=np.nan))


def _arrow_backed(column: pd.Series) -> bool:
    """Text held in Arrow, which is taken and sorted there, never as Python strings."""
    return isinstance(column.dtype, pd.StringDtype) and column.dtype.storage == "pyarrow"


def _taken(column: pd.Series, order: np.ndarray) -> Any:
    """The column's values in `order`; text stays in Arrow (a million user ids never become
    Python strings), anything else as pandas would build it from the values."""
    if _arrow_backed(column):
        return column.array.take(order)
    return column.to_numpy()[order]


def _band_text(percentiles: np.ndarray) -> pa.Array:
    """`risk_band` of each percentile as Arrow text, taken from the few band names."""
    codes, names = band_codes(percentiles)
    return pa.array(names, pa.large_string()).take(pa.array(codes))


def _value_order(column: pd.Series, positions: np.ndarray) -> np.ndarray:
    """The stable order of the column's values at `positions`; text is sorted in Arrow (its
    UTF-8 bytes order as Python orders the strings), never as Python strings."""
    if _arrow_backed(column):
        found = pc.sort_indices(pa.array(column.array).take(positions))
        return np.asarray(found.to_numpy(), dtype=np.intp)
    return np.argsort(column.to_numpy()[positions], kind="stable")


def store_table(
    rows: pd.DataFrame, active: np.ndarray, scores: Explanations | None, model_version: str
) -> pd.DataFrame:
    """The scores table: scored users first by rank (risk, highest first; ties keep row
    order), then everyone else by user id."""
    size = len(rows)
    probability = np.full(size, np.nan)
    percentile = np.full(size, np.nan)
    reasons = top_reason = band = pa.chunked_array([], pa.large_string())
    scored = np.flatnonzero(active)
    ranking = np.empty(0, dtype=np.intp)
    if scores is not None:
        ranked = np.argsort(-scores.probability, kind="stable")  # among the scored
        ranking = scored[ranked]
        probability[scored] = scores.probability
        percentile[scored] = scores.percentile
        band = pa.chunked_array([_band_text(scores.percentile[ranked])])
        reasons = scores.explained.json(ranked)  # built in rank order: never reordered
        top_reason = pa.chunked_array([scores.explained.first_sentence(ranked)])
    user_id = rows["user_id"]
    unscored = np.flatnonzero(~active)
    later = unscored[_value_order(user_id, unscored)]
    order = np.concatenate([ranking, later])
    rank = pd.array(np.arange(1, size + 1), dtype="Int64")
    rank[len(ranking) :] = pd.NA
    return pd.DataFrame(
        {
            "user_id": _taken(user_id, order),
            "status": _taken(rows[STATUS], order),
            "churn_probability": probability[order],
            "risk_percentile": percentile[order],
            "risk_band": _text(band, len(unscored), None),
            "rank": rank,
            "reasons": _text(reasons, len(unscored), "[]"),
            "top_reason": _text(top_reason, len(unscored), None),
            "model_version": _text(pa.chunked_array([], pa.large_string()), size, model_version),
            "cutoff": _taken(rows["cutoff"], order),
        }
    )


class _Rows(Mapping[str, Any]):
    """Some rows' values of each column, taken out only when read: encoding holds one
    column's copy at a time, not a copy of the whole store."""

    def __init__(self, rows: pd.DataFrame, positions: np.ndarray) -> None:
        self._rows, self._positions = rows, positions

    def __getitem__(self, name: str) -> Any:
        column = self._rows[name]
        if isinstance(column.dtype, np.dtype):  # numpy's own: a plain gather, no Series
            return column.to_numpy()[self._positions]
        return column.iloc[self._positions]

    def __contains__(self, name: object) -> bool:
        return name in self._rows.columns

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows.columns)

    def __len__(self) -> int:
        return len(self._rows.columns)


def _in_blocks(
    model: ChurnModel, rows: pd.DataFrame, positions: np.ndarray, block_rows: int
) -> Explanations:
    """`explained_scores` of the rows at `positions`, `block_rows` at a time, joined.

    While a block's reasons are worded (Python, holding the GIL), the next block is encoded
    and its trees walked on a second thread (the tree kernel releases the GIL), so the two
    overlap on the machine's cores; the reasons are ranked on one thread meanwhile, so two
    parallel numba regions never run at once. Two blocks are held at a time."""
    # The first block is a quarter of the others: while it is encoded and its trees walked,
    # nothing else runs.
    starts = [0, *range(max(1, block_rows // 4), len(positions), block_rows)]
    blocks = [
        positions[start:stop] for start, stop in zip(starts, [*starts[1:], None], strict=True)
    ]
    parts = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="winback-trees") as pool:
        upcoming = pool.submit(scored_margins, model, _Rows(rows, blocks[0]))
        for block in [*blocks[1:], None]:
            current = upcoming.result()
            if block is not None:
                upcoming = pool.submit(scored_margins, model, _Rows(rows, block))
            parts.append(explained(model, current, parallel=False))
            del current
    return Explanations(
        probability=np.concatenate([part.probability for part in parts]),
        percentile=np.concatenate([part.percentile for part in parts]),
        explained=concat([part.explained for part in parts]),
    )


KEEP = ("user_id", STATUS, "cutoff")  # what the scores table takes from the store rows


def score_store_rows(
    model: ChurnModel, rows: pd.DataFrame, model_version: str, block_rows: int = BLOCK_ROWS
) -> pd.DataFrame:
    """Online-store rows -> the scores table: active users scored and ranked, others by status.

    Columns: user_id, status, churn_probability, risk_percentile, risk_band, rank, reasons
    (JSON), top_reason, model_version, cutoff. Active rows are scored `block_rows` at a time;
    once scored, only the columns the table takes are kept (a caller that hands over its
    rows frees the features then).
    """
    active = (rows[STATUS] == ACTIVE).to_numpy()
    scores = None
    if active.any():
        scores = _in_blocks(model, rows, np.flatnonzero(active), block_rows)
    rows = rows[list(KEEP)]
    return store_table(rows, active, scores, model_version)
