"""The training benchmark's small run end to end: three ways of training that boost the same
rounds, a `winback train` timed as a process, and a result file whose numbers add up. The
timed process trains the small synthetic log's config in place of configs/cdnow.yaml (the
same code path; CDNOW's own training has tests of its own and took a minute here)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from benchmarks import bench_training, data, training_data
from tests.trained import config_data


@pytest.mark.slow
def test_the_small_run_boosts_the_same_rounds_three_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synthetic_dir: Path
) -> None:
    monkeypatch.setattr(bench_training, "RESULTS", tmp_path)
    # its own cache: the checkout's .winback/bench is the benchmarks', and a run beside
    # `make bench` (or another test run) must neither share nor overwrite its folders
    monkeypatch.setattr(data, "CACHE", tmp_path / "bench")
    timed = tmp_path / "timed.yaml"  # its workdir is replaced by the benchmark's
    timed.write_text(yaml.safe_dump(config_data(synthetic_dir, tmp_path / "unused")))
    monkeypatch.setattr(bench_training, "CDNOW_CONFIG", timed)
    monkeypatch.setattr(training_data, "SMALL", data.Size(users=1_200, days=365))

    assert bench_training.main(small=True, runs=1) == 0

    result = json.loads((tmp_path / "training-small.json").read_text())
    assert (tmp_path / "training-small.md").exists()
    assert result["differences"] == []
    assert result["search_trials"] == 1
    rows = {row["approach"]: row for row in result["results"]}
    assert set(rows) == {"bare", "fit", "pipeline"}

    # the same boosting work: each fold's rounds, the chosen ones, both final fits
    rounds = rows["bare"]["rounds"]
    assert all(row["rounds"] == rounds for row in rows.values())
    assert all(
        row["checksums"] == pytest.approx(rows["bare"]["checksums"]) for row in rows.values()
    )
    split = result["data"]["rows"]
    assert len(rounds["folds"]) == len(split["folds"]) > 1
    limit, patience = result["lightgbm"]["max_rounds"], result["lightgbm"]["early_stopping_rounds"]
    assert 0 < rounds["chosen"] <= min(rounds["folds"]) <= limit
    assert all(count == limit or count > patience for count in rounds["folds"])
    assert rounds["evaluated"] == rounds["refit"] == rounds["chosen"]
    assert rounds["total"] == sum(rounds["folds"]) + rounds["evaluated"] + rounds["refit"]

    for row in rows.values():  # each ratio is that approach's time over the bare calls'
        for ratio, seconds in (("vs_bare", "seconds"), ("cpu_vs_bare", "cpu_seconds")):
            mine, bare = row[seconds], rows["bare"][seconds]
            assert row[ratio] == pytest.approx(mine / bare, abs=_rounding(mine, bare))
        assert math.isfinite(row["vs_bare"]) and row["cpu_seconds"] > 0
        assert row["peak_mb"] >= row["baseline_mb"] > 0
        steps = sum(step["seconds"] for step in row["steps"])
        assert steps == pytest.approx(row["seconds"], rel=0.01, abs=0.01)
        assert 0 < row["boosting_seconds"] <= row["seconds"]
    assert rows["pipeline"]["vs_bare"] > 1.0  # it boosts the same trees, and does more
    for name, target in result["targets"].items():
        row = rows[name.removesuffix("_vs_bare")]
        assert target["wall"] == pytest.approx(row["vs_bare"], abs=2e-3)
        assert target["value"] == max(target["wall"], target["cpu"])
        assert not target["judged"]

    # every labelled row is in the refit; the evaluated fit's and the test's split them
    assert split["refit"] == result["data"]["labelled_rows"]
    # the refit adds the test cutoff and the backtest's fold cutoffs, all within four weeks
    # of the test cutoff, so none is known by it at the bench's 30-day horizon
    held_out = sum(fold["held_out"] for fold in split["folds"])
    assert split["evaluated"] + split["test"] + held_out == split["refit"]
    assert all(fold["train"] > 0 and fold["held_out"] > 0 for fold in split["folds"])

    cdnow = result["cdnow"]
    train = cdnow["train"]
    assert train["wall_s"] == min(train["wall_s_runs"]) > 0
    assert train["cpu_s"] > 0 and train["peak_mb"] > 0
    assert cdnow["validate"]["wall_s"] > 0


def _rounding(numerator: float, denominator: float) -> float:
    """How far a ratio rounded to 3 decimals can be from the ratio of its two inputs, each
    rounded to 3 decimals too (a small run's bare CPU seconds make that more than 0.002)."""
    ratio = numerator / denominator
    return ratio * (0.0005 / numerator + 0.0005 / denominator) + 0.0005 + 1e-9
