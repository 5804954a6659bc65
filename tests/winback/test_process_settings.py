"""`winback score` runs without numpy's transparent huge pages and with Arrow's jemalloc pool;
other commands keep the libraries' defaults; a user's own setting wins."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from winback.cli.main import SCORE_ENVIRONMENT

SHOW = (
    "import sys; import winback.cli.main as cli; "
    "cli.app = lambda: print(__import__('numpy')._core.multiarray._get_madvise_hugepage(), "
    "__import__('pyarrow').default_memory_pool().backend_name); "
    "sys.argv = ['winback', *sys.argv[1:]]; cli.main()"
)


def _settings(command: str, **env: str) -> tuple[str, str]:
    """(numpy asks for huge pages, Arrow's pool) as the command would run with them."""
    environment = {k: v for k, v in os.environ.items() if k not in SCORE_ENVIRONMENT}
    done = subprocess.run(
        [sys.executable, "-c", SHOW, command],
        env={**environment, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    huge_pages, pool = done.stdout.split()
    return huge_pages, pool


@pytest.mark.skipif(sys.platform != "linux", reason="numpy asks for huge pages on Linux only")
def test_score_runs_without_numpys_huge_pages_and_other_commands_with_them() -> None:
    assert _settings("score")[0] == "False"
    assert _settings("train")[0] == "True"


def test_score_allocates_arrow_memory_from_jemalloc_and_other_commands_from_the_default() -> None:
    assert _settings("score")[1] == "jemalloc"
    assert _settings("train")[1] != "jemalloc"


def test_a_users_own_settings_win() -> None:
    found = _settings("score", NUMPY_MADVISE_HUGEPAGE="1", ARROW_DEFAULT_MEMORY_POOL="system")
    assert found == ("True", "system")
