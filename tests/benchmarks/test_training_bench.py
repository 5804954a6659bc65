"""The training benchmark's small run end to end: three ways of training that stop at the
same iteration, and a result file whose numbers add up."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks import bench_training


@pytest.mark.slow
def test_the_small_run_trains_one_model_three_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench_training, "RESULTS", tmp_path)

    assert bench_training.main(small=True, runs=1) == 0

    result = json.loads((tmp_path / "training-small.json").read_text())
    assert (tmp_path / "training-small.md").exists()
    assert result["differences"] == []
    rows = {row["approach"]: row for row in result["results"]}
    assert set(rows) == {"bare", "fit", "pipeline"}
    iterations = {row["best_iteration"] for row in rows.values()}
    assert len(iterations) == 1
    assert 0 < iterations.pop() <= result["lightgbm"]["max_rounds"]
    for row in rows.values():  # each ratio is that approach's time over the bare booster's
        assert row["vs_bare"] == pytest.approx(row["seconds"] / rows["bare"]["seconds"], abs=2e-3)
    assert rows["pipeline"]["vs_bare"] > 1.0  # it fits the same booster, and does more
    for row in rows.values():
        assert math.isfinite(row["vs_bare"]) and row["cpu_seconds"] > 0
        assert row["peak_mb"] >= row["baseline_mb"] > 0
        steps = sum(step["seconds"] for step in row["steps"])
        assert steps == pytest.approx(row["seconds"], rel=0.01, abs=0.01)
    split = result["data"]["rows"]
    assert split["train"] + split["validation"] + split["test"] == result["data"]["labelled_rows"]
    assert not result["targets"]["pipeline_vs_bare"]["judged"]
