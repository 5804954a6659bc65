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
    from xdist.workermanage import WorkerController

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

# The slowest units, slowest first (a clean clone's --durations of 2026-12-03: setup and calls
# in seconds). xdist orders units by their number of tests, which put these few-test units
# last, so one worker ran them alone at the end; handed out first, the many short files fill
# the gaps behind them.
FIRST = (
    "served_template",  # soak 170, fuzz 71+, service 43+, faults 30+
    "scenario",  # 89 + 84 of setup (two parameters), then its three files
    "template",  # the 60-day simulated run 155
    "tests/monitoring/test_drift_alerts.py",  # 46 + 39 + 38 + 32
    "tests/serving/test_fleet.py",  # 108 + 42
    "tests/ops/test_page_served.py",  # 52 + 47
    "tests/training/test_cdnow.py",  # 101
    "tests/benchmarks/test_training_bench.py",  # 84
    "tests/serving/test_spark_scoring.py",  # 51 + 30
    "tests/training/test_drifting_log.py",  # 52
    "tests/monitoring/test_cdnow_monitor.py",  # 48
)


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

        def _assign_work_unit(self, node: WorkerController) -> None:
            for unit in reversed(FIRST):
                if unit in self.workqueue:
                    self.workqueue.move_to_end(unit, last=False)
            super()._assign_work_unit(node)

    return LoadFileTogether(config, log)
