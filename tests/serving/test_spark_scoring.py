"""`train --engine spark` and `score --engine spark` against their local (DuckDB, pandas) twins.

A small generated log is trained with its snapshots built on Spark (MLflow on SQLite), its
online store materialized, then scored by the local batch scorer and on Spark; CDNOW's store
is scored both ways too. Training must see the very rows DuckDB builds, and the Spark scores
must be the local scores: every column, in the same order. One Spark session serves the
module (starting it costs ~15 s).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from artifact.model import ChurnModel
from artifact.tracking import TRACKING_ENV, resolve_store
from core.config import DatasetConfig, load_config
from features.config import CutoffRange, SparkConfig
from features.engine import DuckDBEngine
from features.loading import prepare
from features.pipeline import snapshots
from features.snapshots import catalog
from features.spark_engine import spark_session
from features.spec import feature_set
from features.synthetic import SyntheticSpec, generate, write
from serving.batch import score_all, write_scores
from serving.materialize import materialize, resolve_cutoff
from serving.model_source import Serving, ServingSource
from serving.online_store import OnlineStore, open_store
from serving.spark_scoring import ScoresPathError, output_uri, score_all_on_spark
from tests.features.test_spark_engine import TEST_CONF
from tests.tracking_seed import seeded
from tests.trained import config_data
from training.config import SearchConfig
from training.dataset import assemble, fingerprint, training_cutoffs
from training.fitting import fit_model
from winback.cli.main import app

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()
SPEC = SyntheticSpec(users=500, days=240, seed=5)
# Three cutoffs (train, validation, test) keep the Spark snapshot build short.
CUTOFFS = {"start": "2025-05-01", "end": "2025-06-30", "step_days": 30}
LIGHTGBM = {"min_data_in_leaf": 40, "max_rounds": 40}
# Three ranked partitions, never merged: ranks must continue across files.
SCORING_CONF = {
    "spark.sql.shuffle.partitions": "3",
    "spark.sql.adaptive.coalescePartitions.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}
SPARK = {"master": "local[2]", "conf": TEST_CONF | SCORING_CONF}


@dataclass(frozen=True)
class Trained:
    config_path: Path
    config: DatasetConfig


def write_config(folder: Path, data: Path) -> Path:
    # 500 users leave ~300 on the test cutoff, where ECE is mostly noise ([0.04, 0.09]): this
    # module is about Spark giving the local results, so the first model's ECE gate is wide
    promotion = {"max_ece": 0.1}
    settings: dict[str, Any] = config_data(
        data, folder / "work", lightgbm=LIGHTGBM, promotion=promotion
    )
    settings |= {"cutoffs": CUTOFFS, "engine": {"kind": "duckdb", "spark": SPARK}}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


@pytest.fixture(scope="module")
def session() -> SparkSession:
    """Started with this module's settings (an earlier module's session takes them on)."""
    return spark_session(SparkConfig.model_validate(SPARK))


@pytest.fixture(scope="module")
def trained(session: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """Validated on DuckDB first, as `winback validate` would (Spark's validation has its
    own tests), then trained through the CLI with `--engine spark`, which builds the
    snapshots on Spark; the store is materialized on DuckDB."""
    folder = tmp_path_factory.mktemp("spark_scoring")
    seeded(folder / "work")
    write(generate(SPEC), folder / "data")
    path = write_config(folder, folder / "data")
    config = load_config(path)
    engine = DuckDBEngine(threads=2)
    prepare(config, engine)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(TRACKING_ENV, raising=False)  # MLflow on SQLite in the workdir
        result = runner.invoke(app, ["train", "-c", str(path), "--engine", "spark"])
        assert result.exit_code == 0, result.output
    materialize(config, engine, resolve_cutoff("latest", config, engine))
    return Trained(path, config)


@pytest.mark.integration
@pytest.mark.slow
def test_training_on_spark_sees_the_rows_duckdb_builds(trained: Trained) -> None:
    config = trained.config
    table, _ = snapshots(config, DuckDBEngine(threads=2), training_cutoffs(config))
    data = assemble(
        table.to_pandas(), catalog(feature_set(config)), config.churn.horizon_days, config.model
    )
    client = resolve_store(config, environ={}).client()
    run = client.get_run(client.get_model_version(config.model.name, "1").run_id)
    assert run.data.tags["data_sha256"] == fingerprint(data)["sha256"]


def read_parts(folder: Path) -> pa.Table:
    """A Spark output folder's part files in name order, which is rank order."""
    assert (folder / "_SUCCESS").exists()
    return pa.concat_tables(pq.read_table(part) for part in sorted(folder.glob("part-*")))


def assert_same_scores(local: pa.Table, spark: pa.Table) -> None:
    """Same columns, types and row order; floats to 1e-9 relative, nulls alike; reasons
    as the same JSON. Text is text: pandas writes Arrow's large_string, Spark string."""
    assert spark.schema.names == local.schema.names
    for ours, theirs in zip(local.schema, spark.schema, strict=True):
        wide = pa.large_string() if theirs.type == pa.string() else theirs.type
        assert wide == ours.type, ours.name
    assert spark.num_rows == local.num_rows
    for name in local.column_names:
        a, b = local[name], spark[name]
        assert a.is_null().equals(b.is_null()), f"{name}: nulls differ"
        if pa.types.is_floating(a.type):
            np.testing.assert_allclose(
                a.to_numpy(), b.to_numpy(), rtol=1e-9, atol=0, equal_nan=True, err_msg=name
            )
        elif name == "reasons":
            assert [json.loads(r) for r in a.to_pylist()] == [json.loads(r) for r in b.to_pylist()]
        else:
            assert a.to_pylist() == b.to_pylist(), f"{name}: values differ"


@pytest.mark.integration
@pytest.mark.slow
def test_spark_batch_scores_are_the_local_batch_scores(trained: Trained, tmp_path: Path) -> None:
    config = trained.config
    source = ServingSource(resolve_store(config, environ={}), config.model.name, open_store(config))
    source.refresh()
    assert source.current is not None
    write_scores(score_all(source.current), tmp_path / "local.parquet")
    out = tmp_path / "spark"
    args = ["score", "-c", str(trained.config_path), "--engine", "spark", "--out", str(out)]
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(TRACKING_ENV, raising=False)
        result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "in rank order" in result.output and "most at risk" in result.output

    assert_same_scores(pq.read_table(tmp_path / "local.parquet"), read_parts(out))
    assert len(list(out.glob("part-*"))) == 3
    # Readers of the folder (pandas, `winback recall --scores`) see the local file.
    pd.testing.assert_frame_equal(
        pd.read_parquet(out).astype({"rank": "Int64"}), pd.read_parquet(tmp_path / "local.parquet")
    )


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory: pytest.TempPathFactory) -> Serving:
    """The shipped CDNOW config on three cutoffs, a model fitted without MLflow (BG/NBD
    inputs included), and the store as of the day after the last purchase."""
    cutoffs = CutoffRange(start=dt.date(1997, 7, 1), end=dt.date(1998, 3, 1), step_days=120)
    workdir = str(tmp_path_factory.mktemp("cdnow"))
    config = load_config(REPO / "configs" / "cdnow.yaml")
    # one setting, one family: any fitted model shows the two scorers agree (the search
    # and the families have tests of their own)
    settings = config.model.model_copy(
        update={"search": SearchConfig(trials=1), "candidates": ("lightgbm",)}
    )
    config = config.model_copy(update={"workdir": workdir, "cutoffs": cutoffs, "model": settings})
    engine = DuckDBEngine(threads=2)
    table, _ = snapshots(config, engine, training_cutoffs(config))
    features = catalog(feature_set(config))
    data = assemble(table.to_pandas(), features, config.churn.horizon_days, config.model)
    model = fit_model(config, data).model
    reference = np.quantile(model.predict_proba(data.test), np.linspace(0, 1, 101)).tolist()
    model = ChurnModel(
        model.booster, model.metadata.model_copy(update={"reference_scores": reference})
    )
    version = materialize(config, engine, resolve_cutoff("latest", config, engine))
    return Serving(model=model, name=config.model.name, version="7", store=OnlineStore(version))


@pytest.mark.integration
@pytest.mark.slow
def test_spark_scores_cdnow_as_the_local_scorer_does(
    session: SparkSession, cdnow: Serving, tmp_path: Path
) -> None:
    written = score_all_on_spark(session, cdnow, str(tmp_path / "spark"))
    local = score_all(cdnow)
    assert sum(written.rows_per_file) == len(local) == 23_570
    write_scores(local, tmp_path / "local.parquet")
    assert_same_scores(pq.read_table(tmp_path / "local.parquet"), read_parts(tmp_path / "spark"))


def test_a_plain_output_path_is_a_local_file_uri(tmp_path: Path) -> None:
    assert output_uri(str(tmp_path / "scores")) == (tmp_path / "scores").as_uri()
    assert output_uri("s3a://bucket/scores") == "s3a://bucket/scores"


def test_scoring_refuses_to_overwrite_a_folder_that_holds_other_things(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ScoresPathError, match="not a Spark scores output"):
        output_uri(str(tmp_path))
    (tmp_path / "_SUCCESS").write_text("")  # a previous run's output may be replaced
    assert output_uri(str(tmp_path)) == tmp_path.as_uri()
