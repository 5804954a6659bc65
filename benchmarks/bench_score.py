"""`winback score` over 1M users with top-3 reasons, as a whole process, against bare
`booster.predict` on the same rows in this process, in the same run.

The model and the 1M-user store are the serving benchmark's (`bench_serving`: a champion
trained on the 100k-user log, and real feature rows of its users at weekly cutoffs, cached).
`winback score` reads that store through a config of its own (a workdir whose `online` is
the 1M store, the serving benchmark's registry through MLFLOW_TRACKING_URI) and is spawned
and reaped by `benchmarks.launch`: wall, CPU and peak RSS of the whole process, imports,
the table build, reading, scoring, writing and the ledger included. Scoring and the bare
predict alternate (score, predict, score, predict, ...), so a busy machine hits both alike;
the ratio is judged on the median of the pairs.

Beside the timing: the explainer's table build (time and memory) and its equality with
LightGBM's `pred_contrib` on a sample of the scored rows (max abs difference, the margin to
the bit, the same top 3), and the written file's reasons checked against pred_contrib's.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import yaml
from rich.console import Console

from artifact.explainer import Explainer
from artifact.registry import champion_version, load_version
from artifact.tracking import resolve_store
from benchmarks import bench_cli, data, results_file
from benchmarks.bench_features import machine
from benchmarks.bench_serving import active_encoded, batch_store
from core.config import load_config
from serving.scoring import encoded
from tests.serving.served import cached_service

RESULTS = Path(__file__).resolve().parent / "results"
MAX_VS_PREDICT = 3.0  # from the issue: whole process vs in-process bare predict
MAX_PEAK_MB = 2048.0
EXACT = 1e-6
SAMPLE_ROWS = 50_000  # pred_contrib on these (about 2 us per row and tree) for the equality
USERS = {"full": 1_000_000, "small": 20_000}

console = Console()


def score_config(config_path: Path, store: Path, folder: Path) -> tuple[Path, dict[str, str]]:
    """A config whose workdir's online store is `store`, and the environment that points
    `winback score` at the served config's registry."""
    config = yaml.safe_load(config_path.read_text())
    registry = load_config(config_path).workdir_path.resolve() / "mlflow.db"
    workdir = folder / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    online = workdir / "online"
    if not online.is_symlink():
        online.symlink_to(store.resolve(), target_is_directory=True)
    config["workdir"] = str(workdir)
    path = folder / "score.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path, {"MLFLOW_TRACKING_URI": f"sqlite:///{registry}"}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bare_predict(booster: Any, matrix: np.ndarray) -> tuple[float, float]:
    """Wall and CPU seconds (every thread) of one `booster.predict` on every core."""
    cpu, start = _cpu_seconds(), time.perf_counter()
    booster.predict(matrix)
    return time.perf_counter() - start, _cpu_seconds() - cpu


def equality(model: Any, matrix: np.ndarray) -> dict[str, Any]:
    """The explainer against pred_contrib on a sample: contributions, margin, top 3."""
    from serving.reasons import top_features

    rows = np.random.default_rng(0).choice(len(matrix), min(SAMPLE_ROWS, len(matrix)), False)
    sample = matrix[np.sort(rows)]
    margin, found = model.explainer.scores(sample)
    start = time.perf_counter()
    reference = model.booster.predict(sample, pred_contrib=True)
    seconds = time.perf_counter() - start
    ours, theirs = top_features(found[:, :-1], 3), top_features(reference[:, :-1], 3)
    return {
        "rows": len(sample),
        "max_abs_diff": float(np.abs(found - reference).max()),
        "margin_bit_identical": bool(
            np.array_equal(margin, model.booster.predict(sample, raw_score=True))
        ),
        "top3_rows_differing": int((ours != theirs).any(axis=1).sum()),
        "pred_contrib_s": seconds,
    }


def written_reasons(out: Path, model: Any, rows: pd.DataFrame) -> int:
    """Users of the written file whose reasons are not pred_contrib's top 3 (on a sample)."""
    from serving.reasons import top_features

    scores = pq.read_table(out, columns=["user_id", "reasons"]).to_pandas()
    sample = rows.sample(n=min(2_000, len(rows)), random_state=1)
    _, matrix = encoded(model, sample)
    reference = model.booster.predict(matrix, pred_contrib=True)[:, :-1]
    names = [info.name for info in model.metadata.features]
    expected = [[names[i] for i in row] for row in top_features(reference, 3).tolist()]
    written = scores.set_index("user_id").loc[sample["user_id"].to_numpy(), "reasons"]
    found = [[reason["feature"] for reason in json.loads(text)] for text in written]
    return sum(a != b for a, b in zip(found, expected, strict=True))


def _stats(values: list[float]) -> dict[str, Any]:
    return {
        "runs": [round(value, 2) for value in values],
        "median": round(statistics.median(values), 2),
        "min": round(min(values), 2),
    }


def markdown(result: dict[str, Any]) -> str:
    score, bare, built, equal = (
        result["score"],
        result["bare_predict_s"],
        result["tables"],
        result["equality"],
    )
    targets, load = result["targets"], result["load_average"]
    ratio, peak = targets["score_vs_predict"], targets["peak_mb"]
    lines = [
        f"| {result['users']:,} users ({result['active']:,} scored) | runs | wall median (s) "
        "| wall runs (s) | CPU median (s) | peak RSS (MB) |",
        "|---|---:|---:|---|---:|---:|",
        f"| `winback score` with top-3 reasons (whole process) | {len(score['wall_s']['runs'])} "
        f"| {score['wall_s']['median']} | {', '.join(map(str, score['wall_s']['runs']))} "
        f"| {score['cpu_s']['median']} | {score['peak_mb']:,.0f} |",
        f"| bare `booster.predict`, same rows (in process) | {len(bare['runs'])} "
        f"| {bare['median']} | {', '.join(map(str, bare['runs']))} "
        f"| {result['bare_predict_cpu_s']['median']} | |",
        "",
        f"Pairs (score / predict): {', '.join(f'{r:.2f}' for r in result['pair_ratios'])}; "
        f"median **{ratio['value']:.2f}x** (target ≤ {ratio['max']:.0f}x: "
        f"{'met' if ratio['met'] else 'NOT met'}); peak RSS {peak['value']:,.0f} MB (target ≤ "
        f"{peak['max']:,.0f} MB: {'met' if peak['met'] else 'NOT met'}). CPU-time ratios "
        f"(steadier on a shared machine): {', '.join(f'{r:.2f}' for r in result['cpu_ratios'])}.",
        "",
        f"Explainer tables: {built['trees']} trees, {built['patterns']:,} patterns, "
        f"{built['mb']:.1f} MB, built in {built['build_s']:.2f} s when the model was saved "
        f"(registered); stored with it ({'yes' if built['stored'] else 'NO'}) and checked "
        f"against LightGBM in {built['seconds']:.2f} s after loading (the file is read with "
        f"the champion; {built['fallback']} trees left to pred_contrib); in-process scoring of "
        "the same rows (margin + contributions, "
        f"one pass) {result['explainer_s']:.2f} s. Equality on {equal['rows']:,} sampled rows: "
        f"max |ours - pred_contrib| = {equal['max_abs_diff']:.1e}, margin bit-identical to "
        f"predict: {'yes' if equal['margin_bit_identical'] else 'NO'}, rows whose top 3 "
        f"differ: {equal['top3_rows_differing']} (pred_contrib itself took "
        f"{equal['pred_contrib_s']:.1f} s on them); users of the written file whose reasons "
        f"differ from pred_contrib's top 3: {result['written_reasons_differing']} of 2,000.",
        "",
        f"Model: {built['trees']} trees trained by `winback train` on the {result['log_users']:,}"
        "-user synthetic log (the serving benchmark's); store: real feature rows of its users "
        "at weekly cutoffs. `winback score` spawned and reaped by `benchmarks.launch`; bare "
        "predict on every core, as batch scoring uses.",
        "",
        f"Machine: {result['machine']['cpu']}, {result['machine']['cpus']} CPUs, shared with "
        f"other work (1-minute load average {load['start']:.1f} before, {load['end']:.1f} "
        f"after): read the ratios, not the seconds. Measured {result['measured_at']} with "
        f"`{result['command']}`.",
    ]
    return "\n".join(lines) + "\n"


def main(small: bool = False, runs: int = 2) -> int:
    """Exit status 1 if the explainer differs from pred_contrib (then nothing is compared)."""
    size = data.SMALL if small else data.FULL
    users = USERS["small" if small else "full"]
    with console.status(f"preparing a model on {size.users:,} users and a {users:,}-user store"):
        bench = data.prepare(size)
        served = data.CACHE / f"serving-u{size.users}"
        config_path = cached_service(served, bench.events.parent)
        version = batch_store(load_config(config_path), served, users)
    folder = data.CACHE / "score" / f"u{users}"
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    config, environment = score_config(config_path, Path(version.folder).parent, folder)
    os.environ.update(environment)
    out = folder / "scores.parquet"
    command = [*bench_cli.winback_command(), "score", "-c", str(config), "--out", str(out)]

    cfg = load_config(config)
    tracking = resolve_store(cfg)
    champion = champion_version(tracking, cfg.model.name)
    assert champion is not None
    model = load_version(tracking, cfg.model.name, champion)
    built = model.explainer.built
    console.print(built.describe())
    start = time.perf_counter()
    Explainer.of(model.booster)  # what saving the model spent on them
    build_s = time.perf_counter() - start
    rows, matrix = active_encoded(model, version)
    start = time.perf_counter()
    model.raw_scores(matrix)
    explainer_s = time.perf_counter() - start
    with console.status(f"pred_contrib on {SAMPLE_ROWS:,} rows for the equality check"):
        equal = equality(model, matrix)
    console.print(f"equality: {equal}")

    # Scoring encodes column by column ("F"); LightGBM is handed its own row layout (as fast
    # here, and what callers usually pass), copied before the clock starts.
    by_row = np.ascontiguousarray(matrix)
    load_start = os.getloadavg()[0]
    scores, bares = [], []
    for number in range(max(runs, 1)):
        report = bench_cli.launch(command, logs, "score")
        scores.append(report)
        bares.append(bare_predict(model.booster, by_row))
        console.print(
            f"pair {number + 1}: winback score {report['wall_s']:.1f} s wall "
            f"{report['cpu_s']:.1f} s CPU {report['peak_mb']:.0f} MB; bare predict "
            f"{bares[-1][0]:.2f} s wall {bares[-1][1]:.2f} s CPU"
        )
    load_end = os.getloadavg()[0]
    differing = written_reasons(out, model, rows)
    ratios = [s["wall_s"] / b for s, (b, _) in zip(scores, bares, strict=True)]
    cpu_ratios = [s["cpu_s"] / c for s, (_, c) in zip(scores, bares, strict=True)]
    ratio = statistics.median(ratios)
    peak = max(s["peak_mb"] for s in scores)
    result = {
        "benchmark": "score",
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks score" + (" --small" if small else ""),
        "users": version.rows,
        "active": len(matrix),
        "log_users": size.users,
        "score": {
            "wall_s": _stats([s["wall_s"] for s in scores]),
            "cpu_s": _stats([s["cpu_s"] for s in scores]),
            "peak_mb": peak,
            "command": " ".join(command),
        },
        "bare_predict_s": _stats([wall for wall, _ in bares]),
        "bare_predict_cpu_s": _stats([cpu for _, cpu in bares]),
        "pair_ratios": ratios,
        "cpu_ratios": cpu_ratios,
        "explainer_s": explainer_s,
        "tables": {
            "trees": built.trees,
            "patterns": built.patterns,
            "mb": built.nbytes / 2**20,
            "seconds": built.seconds,
            "stored": built.stored,
            "build_s": build_s,
            "fallback": built.fallback,
        },
        "equality": equal,
        "written_reasons_differing": differing,
        "targets": {
            "score_vs_predict": {"value": ratio, "max": MAX_VS_PREDICT, "met": ratio <= 3.0},
            "peak_mb": {"value": peak, "max": MAX_PEAK_MB, "met": peak <= MAX_PEAK_MB},
        },
        "machine": machine(),
        "load_average": {"start": load_start, "end": load_end},
    }
    problems = []
    if equal["max_abs_diff"] > EXACT or equal["top3_rows_differing"] or differing:
        problems.append(f"the explainer differs from pred_contrib: {equal}, file {differing}")
    if not equal["margin_bit_identical"]:
        problems.append("the explainer's margin differs from booster.predict")
    console.print(markdown(result))
    stem = "score-small" if small else "score"
    return results_file.save(RESULTS, stem, result, markdown, problems, console)
