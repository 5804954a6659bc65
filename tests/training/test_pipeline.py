"""A training run leaves everything in MLflow that a reviewer or a server needs, on the
embedded SQLite store and on a real tracking server, also when two trainings run at once."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pytest
import yaml

from artifact.model import ChurnModel
from artifact.registry import load_version
from tests.training.conftest import Scenario
from training import pyfunc_model

PLOTS = {
    "backtest_folds.png",
    "calibration.png",
    "contributions.png",
    "gains_lift.png",
    "importance_gain.png",
    "lift_quality.png",
    "precision_recall.png",
    "roc.png",
}
KEY_METRICS = [
    f"{scorer}/test_{metric}"
    for scorer in ("model", "rfm_logreg", "recency_rule")
    for metric in ("roc_auc", "pr_auc", "lift_top10", "recall_top10")
] + [
    "model/test_log_loss",
    "model/test_brier",
    "model/test_ece",
    "backtest/pooled_log_loss",
    *(f"model/test_{m}_{end}" for m in ("roc_auc", "pr_auc", "ece") for end in ("low", "high")),
    *(
        f"model_minus_{b}/test_{m}{end}"
        for b in ("rfm_logreg", "recency_rule")
        for m in ("roc_auc", "pr_auc")
        for end in ("", "_low", "_high")
    ),
]


def concurrent_runs(scenario: Scenario) -> list[mlflow.entities.Run]:
    client = scenario.store.client()
    found = client.search_model_versions(f"name = '{scenario.name}'")
    runs = {int(v.version): str(v.run_id) for v in found}
    return [client.get_run(runs[version]) for version in (1, 2)]


def test_two_trainings_at_once_both_succeed(scenario: Scenario) -> None:
    for process in scenario.processes:
        assert process.returncode == 0, process.stderr[-3000:]
        assert "model version" in process.stdout
    versions = scenario.store.client().search_model_versions(f"name = '{scenario.name}'")
    assert sorted(int(v.version) for v in versions) == [1, 2, 3, 4]


def test_of_two_trainings_at_once_only_one_is_told_it_is_champion(scenario: Scenario) -> None:
    """On SQLite the alias decision is serialised by a file lock; a tracking server has none,
    so there only the final state is guaranteed: one champion, one of the two."""
    told = [version_told_champion(process.stdout) for process in scenario.processes]
    assert scenario.first_champion in {"1", "2"}
    assert scenario.first_champion in told  # the holder of the alias was told so
    if scenario.backend == "sqlite":
        assert [version for version in told if version is not None] == [scenario.first_champion]


def version_told_champion(stdout: str) -> str | None:
    """The version a `winback train` summary says became champion, if it says so."""
    found = re.search(r" v(\d+): challenger, promoted to champion", stdout)
    return found.group(1) if found else None


def test_the_default_store_is_sqlite_with_artifacts_in_the_workdir(scenario: Scenario) -> None:
    if scenario.backend != "sqlite":
        pytest.skip("the server decides where its artifacts go")
    workdir = scenario.config_path.parent
    assert scenario.store.uri == f"sqlite:///{workdir / 'mlflow.db'}"
    assert scenario.better.artifact_uri.startswith((workdir / "mlartifacts").as_uri())


def test_a_seed_gives_identical_metrics_on_rerun(scenario: Scenario) -> None:
    first, second = concurrent_runs(scenario)
    assert first.data.metrics == second.data.metrics
    assert first.data.tags["data_sha256"] == second.data.tags["data_sha256"]


def test_runs_hold_params_metrics_config_and_fingerprint(scenario: Scenario) -> None:
    client = scenario.store.client()
    run = client.get_run(scenario.better.run_id)
    assert set(KEY_METRICS) <= set(run.data.metrics)
    assert (
        run.data.metrics["model/test_roc_auc"]
        == scenario.better.evaluation.test["model"]["roc_auc"]
    )
    params = run.data.params
    assert params["split.test_cutoff"] == str(scenario.better.data.split.test)
    assert params["model.seed"] == "42" and params["calibration.method"] in {"isotonic", "sigmoid"}
    assert run.data.tags["git_commit"]
    history = client.get_metric_history(run.info.run_id, "backtest/pooled_log_loss_curve")
    assert len(history) >= scenario.better.fitted.rounds
    folds = client.get_metric_history(run.info.run_id, "backtest/roc_auc")
    assert len(folds) == len(scenario.better.data.split.folds)
    assert params["registered_fit"] == "refit"
    assert run.data.tags["backtest_winner"].startswith(params["chosen.family"])
    with tempfile.TemporaryDirectory() as folder:
        root = Path(
            mlflow.artifacts.download_artifacts(
                run_id=run.info.run_id, dst_path=folder, tracking_uri=scenario.store.uri
            )
        )
        assert {path.name for path in (root / "plots").iterdir()} == PLOTS
        assert all((root / "plots" / name).stat().st_size > 10_000 for name in PLOTS)
        fingerprint = json.loads((root / "data_fingerprint.json").read_text())
        assert fingerprint["sha256"] == run.data.tags["data_sha256"]
        rows = fingerprint["cutoffs"][str(scenario.better.data.split.test)]
        assert rows == {
            "role": "test",
            "rows": len(scenario.better.data.test),
            "churned": int(scenario.better.data.test["label"].sum()),
        }
        config = yaml.safe_load((root / "config.yaml").read_text())
        assert config["model"]["name"] == scenario.name
        record = json.loads((root / "backtest.json").read_text())
        assert [fold["cutoff"] for fold in record["folds"]] == [
            str(fold.cutoff) for fold in scenario.better.data.split.folds
        ]
        assert record["candidates"][0]["name"] == params["chosen.family"]


def test_registered_model_has_no_pickles_and_loads_two_ways(scenario: Scenario) -> None:
    rows = scenario.better.data.test
    version = scenario.better.version
    uri = f"models:/{scenario.name}/{version}"
    with tempfile.TemporaryDirectory() as folder:
        root = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=folder, tracking_uri=scenario.store.uri
            )
        )
        files = {path.name for path in root.rglob("*") if path.is_file()}
        assert {"model.txt", "metadata.json", "MLmodel"} <= files
        assert not [name for name in files if name.endswith((".pkl", ".pickle", ".joblib"))]
        pyfunc = mlflow.pyfunc.load_model(str(root))  # no process-wide tracking URI needed
    direct: ChurnModel = load_version(scenario.store, scenario.name, version)
    predicted = pyfunc.predict(rows[direct.metadata.input_names])[pyfunc_model.PROBABILITY]
    assert np.allclose(predicted.to_numpy(), direct.predict_proba(rows))
    assert direct.metadata.metrics["model"]["roc_auc"] == pytest.approx(
        scenario.better.evaluation.test["model"]["roc_auc"]
    )  # the refit is registered with the held-out metrics of the evaluated fit
    assert (
        direct.metadata.refit and scenario.better.data.split.test in direct.metadata.train_cutoffs
    )
    assert len(direct.metadata.reference_scores) == 1001
