"""`winback materialize` and `winback score` refuse a store the champion cannot score right:
one built with another feature definition, or at a cutoff outside the log. The refusal is
one line and exit code 2, and `CURRENT` stays where it was; `--force` goes ahead and says so.

One champion is trained (MLflow on SQLite); each test gets a fresh workdir whose online store
starts from one good version, so the tests do not share a `CURRENT`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from artifact.tracking import TRACKING_ENV, resolve_store
from core.config import parse_config
from features.engine import DuckDBEngine
from serving.model_source import ServingSource
from serving.online_store import CURRENT, current_version, open_store
from serving.probe import PairError
from tests.tracking_seed import seeded
from tests.trained import config_data
from training.pipeline import train
from winback.cli.main import app

runner = CliRunner()
GOOD_CUTOFF = "2025-08-01"  # the log runs 2025-01-01 to 2025-08-28


@pytest.fixture(scope="module")
def registry(synthetic_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The tracking URI of a registry whose champion was trained on the test config."""
    workdir = seeded(tmp_path_factory.mktemp("registry"))
    config = parse_config(config_data(synthetic_dir, workdir), workdir / "config.yaml")
    store = resolve_store(config, environ={})
    train(config, DuckDBEngine(threads=2), store)
    return store.uri


@dataclass(frozen=True)
class Setup:
    data: dict[str, Any]
    folder: Path  # configs here, the workdir in folder/work

    @property
    def workdir(self) -> Path:
        return self.folder / "work"

    def config(self, name: str = "config", **sections: dict[str, Any]) -> Path:
        """The trained config with some keys of some sections changed, as a YAML file."""
        data = {**self.data}
        for section, changes in sections.items():
            data[section] = {**data[section], **changes}
        path = self.folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    def current(self) -> str:
        return (self.workdir / "online" / CURRENT).read_text()

    def versions(self) -> int:
        return sum(1 for path in (self.workdir / "online").iterdir() if path.is_dir())


def materialize(config: Path, *args: str) -> Any:
    return runner.invoke(app, ["materialize", "-c", str(config), "--cutoff", *args])


def one_line(output: str) -> str:
    return " ".join(output.split())


@pytest.fixture
def setup(
    registry: str, synthetic_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Setup:
    monkeypatch.setenv(TRACKING_ENV, registry)
    found = Setup(config_data(synthetic_dir, tmp_path / "work"), tmp_path)
    first = materialize(found.config(), GOOD_CUTOFF)
    assert first.exit_code == 0, first.output
    return found


@pytest.mark.parametrize(
    ("section", "changes", "named"),
    [
        ("events", {"timezone": "America/New_York"}, 'events.timezone "UTC" -> "America/New_York"'),
        ("churn", {"active_window_days": 30}, "churn.active_window_days 60 -> 30"),
    ],
)
def test_materialize_refuses_a_definition_the_champion_was_not_trained_with(
    setup: Setup, section: str, changes: dict[str, Any], named: str
) -> None:
    before, versions = setup.current(), setup.versions()
    result = materialize(setup.config("changed", **{section: changes}), GOOD_CUTOFF)
    assert result.exit_code == 2, result.output
    text = one_line(result.output)
    assert "does not fit champion synthetic-churn v1" in text and named in text
    assert f"CURRENT still names {before}" in text and "--force" in text
    assert "Traceback" not in result.output
    assert setup.current() == before and setup.versions() == versions


def test_force_materializes_it_anyway_and_says_what_differs(setup: Setup) -> None:
    before = setup.current()
    changed = setup.config("changed", events={"timezone": "America/New_York"})
    result = materialize(changed, GOOD_CUTOFF, "--force")
    assert result.exit_code == 0, result.output
    text = one_line(result.output)
    assert "warning: this config does not fit champion synthetic-churn v1" in text
    assert 'events.timezone "UTC" -> "America/New_York"' in text and "published anyway" in text
    live = current_version(setup.workdir / "online")
    assert setup.current() != before and live.version == setup.current()
    assert live.definition is not None
    assert live.definition.values["events.timezone"] == '"America/New_York"'


def test_the_service_never_serves_a_forced_store_that_does_not_fit(setup: Setup) -> None:
    """`--force` is for batch work: the service's check before a swap refuses the pair."""
    changed = setup.config("changed", events={"timezone": "America/New_York"})
    assert materialize(changed, GOOD_CUTOFF, "--force").exit_code == 0
    config = parse_config(yaml.safe_load(changed.read_text()), changed)
    source = ServingSource(resolve_store(config), "synthetic-churn", open_store(config))
    with pytest.raises(PairError, match=re.escape('events.timezone "UTC" -> "America/New_York"')):
        source.refresh()
    assert source.current is None


def test_moving_the_files_renaming_the_dataset_or_searching_more_is_no_difference(
    setup: Setup, synthetic_dir: Path, tmp_path: Path
) -> None:
    moved = tmp_path / "moved"
    shutil.copytree(synthetic_dir, moved)
    path = setup.config(
        "moved",
        events={"path": str(moved / "events.parquet")},
        users={"path": str(moved / "users.parquet")},
        model={"search": {"trials": 3}},
    )
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, "name": "synthetic-copy"}))
    before = setup.current()
    result = materialize(path, GOOD_CUTOFF)
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output and setup.current() != before


@pytest.mark.parametrize(
    ("cutoff", "why"),
    [
        ("2024-06-01", "no user has an event before the cutoff 2024-06-01"),
        ("2026-06-01", "no user is active at the cutoff 2026-06-01 (lapsed "),  # every user
    ],
)
def test_a_cutoff_outside_the_log_is_refused(setup: Setup, cutoff: str, why: str) -> None:
    before, versions = setup.current(), setup.versions()
    result = materialize(setup.config(), cutoff)
    assert result.exit_code == 2, result.output
    text = one_line(result.output)
    assert why in text and "the log covers 2025-01-01 to 2025-08-2" in text
    assert f"CURRENT still names {before}" in text
    assert setup.current() == before and setup.versions() == versions


def test_a_share_of_active_users_far_from_the_live_one_needs_force(setup: Setup) -> None:
    before = setup.current()
    # 53 days past the log: 376 of 913 users seen within 60 days (41%), against 634 of 873
    # (73%) at the good cutoff: 0.31 apart, more than the default 0.25
    late = "2025-10-20"
    result = materialize(setup.config(), late)
    assert result.exit_code == 2, result.output
    text = one_line(result.output)
    assert f"in the live version {before}" in text and "users active" in text
    assert setup.current() == before
    forced = materialize(setup.config(), late, "--force")
    assert forced.exit_code == 0, forced.output
    assert "published anyway (--force)" in one_line(forced.output)
    assert setup.current() != before


def test_score_refuses_a_store_built_with_another_definition(setup: Setup, tmp_path: Path) -> None:
    config = setup.config()
    changed = setup.config("changed", churn={"active_window_days": 30})
    assert materialize(changed, GOOD_CUTOFF, "--force").exit_code == 0
    out = tmp_path / "scores.parquet"
    refused = runner.invoke(app, ["score", "-c", str(config), "--out", str(out)])
    assert refused.exit_code == 2, refused.output
    text = one_line(refused.output)
    assert "champion synthetic-churn v1 and online store" in text
    assert "churn.active_window_days 60 -> 30" in text and not out.exists()
    forced = runner.invoke(app, ["score", "-c", str(config), "--out", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    assert "scoring anyway (--force)" in one_line(forced.output)
    assert len(pd.read_parquet(out)) == current_version(setup.workdir / "online").rows


def test_score_goes_ahead_on_a_matching_pair(setup: Setup, tmp_path: Path) -> None:
    out = tmp_path / "scores.parquet"
    result = runner.invoke(app, ["score", "-c", str(setup.config()), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output and out.exists()


def test_the_score_process_skips_scikit_learn_and_scores_as_in_process(
    setup: Setup, tmp_path: Path
) -> None:
    """`winback score` as its own process imports LightGBM without scikit-learn (a second
    of its start): the scores must be those of the command run in this process, where
    scikit-learn is loaded, and scikit-learn must not have been imported there at all."""
    config = str(setup.config())
    here, there = tmp_path / "here.parquet", tmp_path / "there.parquet"
    result = runner.invoke(app, ["score", "-c", config, "--out", str(here)])
    assert result.exit_code == 0, result.output
    winback = Path(sys.executable).with_name("winback")
    done = subprocess.run(
        [str(winback), "score", "-c", config, "--out", str(there)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    # a refused `import sklearn` is listed too: a real one imports its submodules
    assert "lightgbm" in imported and not {"sklearn.base", "scipy.stats", "ibis"} & imported
    pd.testing.assert_frame_equal(pd.read_parquet(there), pd.read_parquet(here))


def test_scores_that_cannot_be_written_fail_in_one_line(setup: Setup, tmp_path: Path) -> None:
    """The file is written on a thread while the ledger is recorded: its failure must still
    be the command's, one line and exit code 2."""
    (tmp_path / "taken").write_text("a file, not a folder")
    out = tmp_path / "taken" / "scores.parquet"
    result = runner.invoke(app, ["score", "-c", str(setup.config()), "--out", str(out)])
    assert result.exit_code == 2, result.output
    line = one_line(result.output)
    assert line.startswith("error: ") and str(tmp_path / "taken") in line
    assert not out.exists()
