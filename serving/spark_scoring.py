"""Batch scoring on Spark: the local scorer's own function on every partition, ranked across all.

Executors receive the model as its two plain texts (LightGBM's model and the JSON metadata)
and its explainer's tables (numbers in an .npz, built once on the driver) in a broadcast,
never as a pickled object, and rebuild it once per partition. Each batch of
store rows goes through `score_store_rows`, as in local batch scoring and the service, so the
three cannot disagree. Only `rank` spans partitions, so it is computed here: one global sort
(range partitions, each sorted), then each partition's first rank from the sizes of those
before it; no task ever holds every user.

The output is a folder of Parquet files in rank order: part-00000 holds the users most at
risk, and a reader of the folder (pandas, pyarrow, Spark) gets the rows in the order of the
local scores file. The files are the sort's partitions, so their number follows the shuffle
settings (adaptive execution merges them up to its advisory size, 64 MB by default): a
handful for a store of millions, one for a small store. Partitioning by band or status was
rejected: it drops the column from the files and loses the global order campaigns read in.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import lightgbm as lgb
import pandas as pd
from pyspark import Broadcast, StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from artifact.explainer import Explainer
from artifact.model import ChurnModel, ModelMetadata
from artifact.tree_tables import Tables
from core.config import WinbackError
from features.status import STATUS
from serving.online_store import KEY
from serving.scoring import score_store_rows

if TYPE_CHECKING:  # executors import this module: no MLflow there
    from serving.model_source import Serving

PROBABILITY = "churn_probability"
BAND = "risk_band"
RANK = "rank"
STORE_ROW = "_store_row"  # position in the store's file: pandas' rank(method="first") tie-break
ROW_ID = "_row_id"
RECORD_BITS = 33  # monotonically_increasing_id: partition index above, record number below
COLUMNS = (
    KEY,
    STATUS,
    PROBABILITY,
    "risk_percentile",
    BAND,
    RANK,
    "reasons",
    "top_reason",
    "model_version",
    "cutoff",
)
# What executors return: the scores table without `rank` (global), with each row's position.
SCORED_SCHEMA = (
    f"{KEY} string, {STATUS} string, {PROBABILITY} double, risk_percentile double, "
    f"{BAND} string, reasons string, top_reason string, model_version string, "
    f"cutoff string, {STORE_ROW} long"
)
ModelTexts = tuple[str, str, bytes]  # LightGBM's text model, the metadata as JSON, tables


class ScoresPathError(WinbackError):
    """The output path holds something other than scores, which overwriting would delete."""


@dataclass(frozen=True)
class SparkScores:
    """What a run wrote, small enough for the driver: the files and a summary, no user rows
    but the first few."""

    out: str
    rows_per_file: list[int]  # in rank order: the first file holds the users most at risk
    counts: pd.DataFrame  # users per status and band
    top: pd.DataFrame  # the users most at risk, columns as written


def model_texts(model: ChurnModel) -> ModelTexts:
    texts = model.booster.model_to_string(), model.metadata.model_dump_json()
    return (*texts, model.explainer.tables.to_bytes())


def rebuild(texts: ModelTexts) -> ChurnModel:
    booster_text, metadata, tables = texts
    booster = lgb.Booster(model_str=booster_text)
    explainer = Explainer.using(booster, Tables.from_bytes(tables))
    return ChurnModel(booster, ModelMetadata.model_validate_json(metadata), explainer)


def score_batches(
    texts: Broadcast[ModelTexts], model_version: str, batches: Iterator[pd.DataFrame]
) -> Iterator[pd.DataFrame]:
    """On an executor: one model per partition, then the local scorer on each Arrow batch.

    `score_store_rows` ranks within the batch and reorders; the local rank is dropped and
    each row keeps its store position (found by user id, the store's key) for the global one.
    """
    model = rebuild(texts.value)
    for rows in batches:
        scored = score_store_rows(model, rows, model_version)
        position = pd.Series(rows[STORE_ROW].to_numpy(), index=rows[KEY].to_numpy())
        yield scored.drop(columns=RANK).assign(
            **{STORE_ROW: position.loc[scored[KEY].to_numpy()].to_numpy()},
            # texts are Arrow chunks; Spark's Arrow writer takes one array per column
            **{
                str(name): scored[name].astype(object)
                for name, dtype in scored.dtypes.items()
                if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"
            },
        )


def output_uri(out: str) -> str:
    """A URI (hdfs://, s3a://, file:) as given; a plain path is local to every machine, so
    Spark must not resolve it against a cluster's default file system."""
    if len(urlparse(out).scheme) > 1:  # one letter is a Windows drive
        return out
    path = Path(out).expanduser().resolve()
    if path.is_dir() and any(path.iterdir()) and not (path / "_SUCCESS").exists():
        raise ScoresPathError(
            f"{path}: a folder that is not a Spark scores output; scoring overwrites --out, "
            "so give a new or a previous scores folder"
        )
    return path.as_uri()


def _store_rows(session: SparkSession, parquet: Path) -> DataFrame:
    """Every store row with its position, spread over all cores: a store file of one row
    group would otherwise be scored by one task."""
    rows = session.read.parquet(parquet.resolve().as_uri())
    rows = rows.select("*", F.col("_metadata.row_index").alias(STORE_ROW))
    cores = session.sparkContext.defaultParallelism
    return rows.repartition(max(rows.rdd.getNumPartitions(), cores))


def _rank_order() -> list[Column]:
    """The local file's order: highest probability first, ties by store position (as
    rank(method="first") breaks them), then the unscored users by id."""
    probability = F.col(PROBABILITY)
    return [
        F.desc_nulls_last(probability),
        F.when(probability.isNotNull(), F.col(STORE_ROW)),
        F.col(KEY),
    ]


def _with_rank(ordered: DataFrame) -> tuple[DataFrame, list[int]]:
    """`ordered` (sorted across partitions, cached) with its global rank, and partition sizes.

    Scored users come first, so a scored row's rank is its row number: the rows of the
    partitions before it, plus its record number within its own partition.
    """
    partition = F.shiftright(F.col(ROW_ID), RECORD_BITS)
    sizes = sorted(tuple(row) for row in ordered.groupBy(partition).count().collect())
    starts: list[Column] = []
    before = 0
    for index, size in sizes:
        starts += [F.lit(index).cast("long"), F.lit(before).cast("long")]
        before += size
    record = F.col(ROW_ID).bitwiseAND((1 << RECORD_BITS) - 1)
    rank = F.element_at(F.create_map(*starts), partition) + record + 1
    ranked = ordered.withColumn(RANK, F.when(F.col(PROBABILITY).isNotNull(), rank))
    return ranked.select(*COLUMNS), [size for _, size in sizes]


def score_all_on_spark(
    session: SparkSession, serving: Serving, out: str, top: int = 10
) -> SparkScores:
    """`serving.batch.score_all` on Spark, written as a folder of Parquet files at `out`."""
    uri = output_uri(out)
    texts = session.sparkContext.broadcast(model_texts(serving.model))
    score = functools.partial(score_batches, texts, serving.version)
    rows = _store_rows(session, serving.store.version.parquet_path)
    scored = rows.mapInPandas(score, SCORED_SCHEMA).persist(StorageLevel.MEMORY_AND_DISK)
    ordered = scored.orderBy(*_rank_order())
    ordered = ordered.withColumn(ROW_ID, F.monotonically_increasing_id())
    ordered = ordered.persist(StorageLevel.MEMORY_AND_DISK)  # the id must not be recomputed
    try:
        # Scores every row once: the sort's sampling job fills `scored`'s cache, and the
        # sort reads it from there.
        ranked, sizes = _with_rank(ordered)
        ranked.write.mode("overwrite").parquet(uri)
        counts = ranked.groupBy(STATUS, BAND).count().withColumnRenamed("count", "users")
        first = ranked.where(F.col(RANK) <= top).orderBy(RANK)
        return SparkScores(
            out=uri,
            rows_per_file=sizes,
            counts=counts.orderBy(STATUS, BAND).toPandas(),
            top=first.toPandas(),
        )
    finally:
        scored.unpersist()
        ordered.unpersist()
        texts.destroy()
