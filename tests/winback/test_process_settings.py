"""`winback score` runs without numpy's transparent huge pages; other commands keep numpy's
default; a user's own setting wins."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SHOW = (
    "import sys; import winback.cli.main as cli; "
    "cli.app = lambda: print(__import__('numpy')._core.multiarray._get_madvise_hugepage()); "
    "sys.argv = ['winback', *sys.argv[1:]]; cli.main()"
)


def _huge_pages(command: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    done = subprocess.run(
        [sys.executable, "-c", SHOW, command],
        env={**environment, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.mark.skipif(sys.platform != "linux", reason="numpy asks for huge pages on Linux only")
def test_score_runs_without_numpys_huge_pages_and_other_commands_with_them() -> None:
    assert _huge_pages("score") == "False"
    assert _huge_pages("train") == "True"


def test_a_users_own_huge_page_setting_wins() -> None:
    assert _huge_pages("score", NUMPY_MADVISE_HUGEPAGE="1") == "True"
