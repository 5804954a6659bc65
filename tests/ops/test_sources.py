"""The page reads files other commands write: it must look where they write them, and say
so in one line when it cannot show anything."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from core.config import DatasetConfig
from monitoring.monitor import report_folder
from ops.campaigns import summary_path
from tests.tracking_seed import seeded
from tests.trained import ConfigFactory, config_data
from winback.cli.main import app


def test_the_monitor_summary_is_read_where_winback_monitor_writes_it(
    make_config: ConfigFactory,
) -> None:
    config: DatasetConfig = make_config()
    assert summary_path(config) == report_folder(config) / "summary.json"


def test_report_without_a_champion_is_one_line_and_exit_2(
    synthetic_dir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(config_data(synthetic_dir, seeded(tmp_path / "work"))))
    result = CliRunner().invoke(app, ["report", "-c", str(config), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    last = result.output.strip().splitlines()[-1]  # after any lines MLflow prints itself
    assert last.startswith("error:") and "no champion" in last, result.output
    assert "Traceback" not in result.output
