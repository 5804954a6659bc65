"""Every command that computes on an engine takes `--engine`, with the config's as default."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from winback.cli.main import app

runner = CliRunner()


@pytest.mark.parametrize(
    "command",
    [["validate"], ["features", "build"], ["train"], ["materialize"], ["score"], ["review"]],
)
def test_the_command_offers_both_engines(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "--engine" in result.output and "duckdb|spark" in result.output


def test_an_unknown_engine_is_refused_with_exit_code_2() -> None:
    result = runner.invoke(app, ["train", "-c", "any.yaml", "--engine", "polars"])
    assert result.exit_code == 2
    assert "polars" in result.output
