"""The serving benchmark times the functions batch scoring really calls and judges a rate on a
run that could ask for it."""

from __future__ import annotations

import serving.online_store
from benchmarks.bench_serving import judged, step_times


def test_the_batch_breakdown_wraps_functions_that_exist_and_restores_them() -> None:
    original = serving.online_store.all_rows
    steps: dict[str, float] = {}
    with step_times(steps):
        assert serving.online_store.all_rows is not original  # wrapped: its time is counted
    assert serving.online_store.all_rows is original


def _run(kept_up: bool, errors: int = 0) -> dict[str, object]:
    return {"kept_up": kept_up, "errors": errors}


def test_a_rate_is_judged_on_the_fewest_connections_that_kept_up_without_errors() -> None:
    heyed = {
        "1-user /score @ 500 x 2": _run(kept_up=False),
        "1-user /score @ 500 x 5": _run(kept_up=True, errors=1),
        "1-user /score @ 500 x 10": _run(kept_up=True),
        "1-user /score @ 500 x 50": _run(kept_up=True),
    }
    assert judged(heyed, 500.0, [2, 5, 10, 50])[0] == 10


def test_a_rate_no_connection_count_kept_up_with_is_judged_on_the_fewest() -> None:
    heyed = {f"1-user /score @ 500 x {count}": _run(kept_up=False) for count in (2, 10)}
    assert judged(heyed, 500.0, [2, 10]) == (2, heyed["1-user /score @ 500 x 2"])
