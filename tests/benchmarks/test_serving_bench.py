"""The serving benchmark's batch breakdown times the functions batch scoring really calls."""

from __future__ import annotations

import serving.online_store
from benchmarks.bench_serving import step_times


def test_the_batch_breakdown_wraps_functions_that_exist_and_restores_them() -> None:
    original = serving.online_store.all_rows
    steps: dict[str, float] = {}
    with step_times(steps, {}):
        assert serving.online_store.all_rows is not original  # wrapped: its time is counted
    assert serving.online_store.all_rows is original
