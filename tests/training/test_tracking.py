"""Runs go where the user expects: the workdir by default, a server when the env says so."""

from __future__ import annotations

from pathlib import Path

from artifact.tracking import TRACKING_ENV, resolve_store
from tests.trained import ConfigFactory
from training.tracking import git_commit

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_the_environment_variable_overrides_the_default(make_config: ConfigFactory) -> None:
    uri = "http://tracking.example:5000"
    store = resolve_store(make_config(), environ={TRACKING_ENV: uri})
    assert (store.uri, store.artifact_location) == (uri, None)


def test_git_commit_is_read_from_a_branch_a_packed_ref_or_a_detached_head(
    tmp_path: Path,
) -> None:
    git = tmp_path / "repo" / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    nested = tmp_path / "repo" / "training"
    nested.mkdir()
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text(COMMIT + "\n")
    assert git_commit(nested) == COMMIT
    (git / "refs" / "heads" / "main").unlink()
    (git / "packed-refs").write_text(f"# pack-refs\n{COMMIT} refs/heads/main\n")
    assert git_commit(nested) == COMMIT
    (git / "HEAD").write_text(COMMIT[::-1] + "\n")
    assert git_commit(nested) == COMMIT[::-1]


def test_no_checkout_means_no_commit(tmp_path: Path) -> None:
    assert git_commit(tmp_path) is None
