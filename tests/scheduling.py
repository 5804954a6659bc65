"""How pytest-xdist hands out the suite (`make test`: -n 2 --dist loadfile).

loadfile sends each file's tests to one worker, so a module fixture is built once. A session
fixture is built once per worker (each is a session of its own): the files that share a slow
one go to one worker together, their tests in collection order, so it is built once as in a
serial run. `scenario` is the costly case: it is parametrized (SQLite, tracking server) and a
session keeps one parameter at a time, so its three files on two workers built it six times
(over a minute each) instead of twice.

The templates are not built once and shared between workers instead: a copy of one still
points into it (the registry's artifact URIs; after an in-process `train`, the environment's
MLFLOW_TRACKING_URI is the template's store), so tests on two workers would meet there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from xdist.remote import Producer
    from xdist.scheduler import LoadFileScheduling

# Per slow session fixture, every file that uses it (tests/test_scheduling.py checks).
SHARED = {
    "scenario": (  # tests/training/conftest.py
        "tests/training/test_commands.py",
        "tests/training/test_pipeline.py",
        "tests/training/test_registry.py",
    ),
    "served_template": (  # tests/conftest.py
        "tests/benchmarks/test_soak_bench.py",
        "tests/serving/test_faults.py",
        "tests/serving/test_http_fuzz.py",
        "tests/serving/test_service.py",
    ),
    "template": (  # tests/cycle/conftest.py
        "tests/cycle/test_delivery.py",
        "tests/cycle/test_simulated_run.py",
    ),
}
GROUP = {path: fixture for fixture, paths in SHARED.items() for path in paths}


def scope(nodeid: str) -> str:
    """The unit of work a test belongs to: its file, or its file's group."""
    path = nodeid.split("::", 1)[0]
    return GROUP.get(path, path)


def make_scheduler(config: pytest.Config, log: Producer) -> LoadFileScheduling | None:
    """loadfile with the groups above; any other --dist is xdist's own."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LoadFileTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scope(nodeid)

    return LoadFileTogether(config, log)
