"""`winback models` and `winback promote` as people use them (`train` runs in the scenario)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from artifact.registry import CHAMPION, champion_version
from artifact.tracking import TRACKING_ENV
from tests.training.conftest import Scenario
from winback.cli.main import app

runner = CliRunner()


@pytest.fixture
def cli_env(scenario: Scenario, monkeypatch: pytest.MonkeyPatch) -> Scenario:
    if scenario.backend == "server":
        monkeypatch.setenv(TRACKING_ENV, scenario.store.uri)
    else:
        monkeypatch.delenv(TRACKING_ENV, raising=False)
    return scenario


def test_train_prints_metrics_decision_and_where_things_are(cli_env: Scenario) -> None:
    output = cli_env.processes[0].stdout
    for text in ("model", "rfm_logreg", "recency_rule", "ROC AUC", "decision", "run id"):
        assert text in output


def test_models_lists_every_version_with_its_aliases(cli_env: Scenario) -> None:
    result = runner.invoke(app, ["models", "--config", str(cli_env.config_path)])
    assert result.exit_code == 0, result.output
    assert f"Registered versions of {cli_env.name}" in result.output
    assert CHAMPION in result.output and "challenger" in result.output


def test_promote_moves_the_champion_and_says_from_where(cli_env: Scenario) -> None:
    before = champion_version(cli_env.store, cli_env.name)
    args = ["promote", "--config", str(cli_env.config_path), "--version", "2"]
    result = runner.invoke(app, args)
    try:
        assert result.exit_code == 0, result.output
        assert f"champion is now v2 (was v{before})" in result.output
        assert champion_version(cli_env.store, cli_env.name) == "2"
    finally:
        assert before is not None
        runner.invoke(app, [*args[:-1], before])


def test_promoting_an_unknown_version_is_one_line_and_exit_code_2(cli_env: Scenario) -> None:
    args = ["promote", "--config", str(cli_env.config_path), "--version", "42"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "has no version 42" in result.output
