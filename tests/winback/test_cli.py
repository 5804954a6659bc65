"""The CLI as people use it: summaries on success, one clear line and exit code 2 on mistakes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from winback.cli.main import app

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def demo_config(tmp_path: Path, data: Path) -> Path:
    text = (REPO / "configs" / "demo.yaml").read_text()
    text = text.replace("../.winback/demo/data", str(data)).replace(
        "workdir: ../.winback/demo", f"workdir: {tmp_path / 'work'}"
    )
    path = tmp_path / "demo.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen")
    result = runner.invoke(
        app, ["generate", "--users", "400", "--days", "365", "--seed", "3", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


def test_generated_log_passes_validation_with_nothing_quarantined(
    generated: Path, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["validate", "--config", str(demo_config(tmp_path, generated))])
    assert result.exit_code == 0, result.output
    assert "quarantined │ 0" in result.output
    events = pd.read_parquet(generated / "events.parquet")
    assert f"rows kept   │ {len(events):,}" in result.output


def test_generating_twice_with_one_seed_gives_identical_files(
    generated: Path, tmp_path: Path
) -> None:
    args = ["generate", "--users", "400", "--days", "365", "--seed", "3", "--out", str(tmp_path)]
    assert runner.invoke(app, args).exit_code == 0
    for name in ("events", "users", "truth"):
        assert (tmp_path / f"{name}.parquet").read_bytes() == (
            generated / f"{name}.parquet"
        ).read_bytes()


def test_features_build_writes_one_row_per_user_and_cutoff(generated: Path, tmp_path: Path) -> None:
    out = tmp_path / "snap.parquet"
    config = demo_config(tmp_path, generated)
    args = ["features", "build", "-c", str(config), "--cutoffs", "2025-06-01:2025-08-01:30"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    assert sorted(frame.cutoff.astype(str).unique()) == ["2025-06-01", "2025-07-01", "2025-07-31"]
    assert not frame.duplicated(["user_id", "cutoff"]).any()
    assert list(frame.columns[:4]) == ["user_id", "cutoff", "status", "label"]
    assert "churn rate" in result.output


def test_features_list_prints_the_catalog() -> None:
    result = runner.invoke(app, ["features", "list", "-c", str(REPO / "configs" / "cdnow.yaml")])
    assert result.exit_code == 0
    assert "recency_days" in result.output and "gap_current_ratio" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate", "-c", "missing.yaml"], "missing.yaml: cannot read config"),
        (
            ["features", "build", "-c", "configs/cdnow.yaml", "--out", "x", "--cutoffs", "2024"],
            "is not START:END:STEP",
        ),
        (
            ["features", "build", "-c", "configs/cdnow.yaml", "--out", "x", "--cutoff", "soon"],
            "'soon' is not a date",
        ),
    ],
)
def test_mistakes_exit_non_zero_with_a_specific_message(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_a_missing_source_file_is_one_line_naming_it(tmp_path: Path) -> None:
    config = demo_config(tmp_path, tmp_path / "nowhere")
    result = runner.invoke(app, ["validate", "-c", str(config)])
    assert result.exit_code == 2
    assert f"{tmp_path / 'nowhere' / 'events.parquet'}: file not found" in result.output
