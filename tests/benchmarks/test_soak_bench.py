"""The soak's own code, on a short run: a real server answers every request of the mix and
its memory stays within 10% of the warm-up level (`python -m benchmarks soak` does 100k)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench_soak import MAX_GROWTH, plot, soak
from tests.serving.served import copy_service, serve

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_memory_stays_flat_under_a_short_soak(tmp_path: Path, served_template: Path) -> None:
    config = copy_service(served_template, tmp_path)
    with serve(config, tmp_path / "server.log") as server:
        result = soak(server, total=2_500, warmup=1_000, every=250, concurrency=4)
    assert result.run.errors == 0, result.run.error_samples
    assert [done for done, _ in result.samples] == list(range(0, 2_501, 250))
    assert result.growth <= MAX_GROWTH, result.report()["rss_mb_by_requests"]
    plot(result, tmp_path / "soak.png")
    assert (tmp_path / "soak.png").stat().st_size > 0
