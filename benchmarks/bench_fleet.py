"""The fleet's online store: Redis beside the SQLite default, measured in the same run.

- Writing a store version of 1M real feature rows and publishing it (what `winback
  materialize` does after computing the features), each store in a fresh process through
  `benchmarks.launch`: rows/s of the write itself, and the process's wall time and peak RSS.
- 1-user /score at 200 req/s (open loop, `benchmarks.load`) against `winback serve` on the
  same model and the same rows, once from SQLite and once from Redis, alternating.

redis-server runs on a free loopback port (`tests.servers`), without persistence.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import redis
from rich.console import Console
from rich.table import Table

from benchmarks import data
from benchmarks.bench_cli import launch
from benchmarks.bench_features import machine
from benchmarks.bench_serving import batch_store
from benchmarks.latency import per_call, summary
from benchmarks.load import Request, open_loop
from core.config import load_config
from features.snapshots import catalog
from features.spec import feature_set
from serving.config import RedisStoreConfig
from serving.online_store import StoreRows, current_version, open_store, read_all, store_root
from serving.redis_store import RedisStore
from tests.servers import redis_server
from tests.serving.served import cached_service, serve

RESULTS = Path(__file__).resolve().parent / "results"
RATES = (50.0, 200.0)  # 200 is the target; 50 stays below what a busy machine saturates at
SERVED_PREFIX = "bench-served"
console = Console()


def _write_runs(
    table: Path, config: Path, url: str, folder: Path, runs: int
) -> dict[str, list[dict[str, float]]]:
    """Each store `runs` times, alternating, each run into an emptied store."""
    found: dict[str, list[dict[str, float]]] = {"sqlite": [], "redis": []}
    client = redis.Redis.from_url(url)
    for run in range(runs):
        for kind in found:
            root = folder / f"write-{kind}"
            shutil.rmtree(root, ignore_errors=True)
            client.flushdb()
            command = [sys.executable, "-m", "benchmarks.store_write", kind, str(table)]
            command += [str(config), str(root), *([url] if kind == "redis" else [])]
            with console.status(f"writing the table into {kind} (run {run + 1} of {runs})"):
                process = launch(command, folder, f"write-{kind}")
            inner = json.loads((folder / f"write-{kind}.out").read_text().splitlines()[-1])
            if kind == "redis":
                inner["redis_used_memory_mb"] = client.info("memory")["used_memory"] / 2**20
            found[kind].append({**process, **inner})
            console.print(
                f"{kind}: {inner['rows_per_s']:,.0f} rows/s, {process['peak_mb']:,.0f} MB"
            )
    client.flushdb()
    return found


def _redis_config(sqlite_config: Path, url: str, folder: Path) -> Path:
    """The served config with its store on Redis (its own workdir for the Parquet copy)."""
    text = sqlite_config.read_text()
    workdir = load_config(sqlite_config).workdir_path
    text = text.replace(f"workdir: {workdir}", f"workdir: {folder / 'work'}")
    store = f"{{store: {{kind: redis, url: '{url}', key_prefix: {SERVED_PREFIX}}}}}"
    text = text.replace("\nserving: {}\n", f"\nserving: {store}\n")
    path = folder / "redis.yaml"
    path.write_text(text)
    return path


def _copy_into_redis(sqlite_config: Path, redis_config: Path) -> str:
    """The SQLite store's live version, row for row, published on Redis."""
    config = load_config(redis_config)
    live = current_version(store_root(load_config(sqlite_config)))
    settings = config.serving.store
    assert isinstance(settings, RedisStoreConfig)
    store = RedisStore(store_root(config), settings, SERVED_PREFIX)
    cutoff = dt.date.fromisoformat(live.cutoff)
    features = catalog(feature_set(config))
    version = store.write(read_all(live), cutoff, features, live.definition)
    store.publish(version)
    return version.version


def _http(
    configs: dict[str, Path], tracking: str, active: np.ndarray, seconds: float, runs: int
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per store and rate, `runs` runs alternating between the stores; each server takes the
    lower rate first, so no backlog of the higher one carries over."""
    rng = np.random.default_rng(1)
    ids = [[str(rng.choice(active))] for _ in range(2_000)]
    requests = [Request("/score", json.dumps({"user_ids": one}).encode()) for one in ids]
    found: dict[str, dict[str, list[dict[str, Any]]]] = {
        kind: {f"{rate:.0f}": [] for rate in RATES} for kind in configs
    }
    for run in range(runs):
        for kind, config in configs.items():
            with (
                tempfile.TemporaryDirectory() as tmp,
                serve(config, Path(tmp) / "server.log", tracking) as server,
            ):
                for rate in RATES:
                    with console.status(f"/score from {kind}, {rate:.0f} req/s, run {run + 1}"):
                        report = open_loop(server.url, requests, rate, seconds).report()
                    found[kind][f"{rate:.0f}"].append(report)
                    latency = report["latency"]
                    console.print(
                        f"{kind} at {rate:.0f} req/s: p50 {latency['p50_ms']:.1f} ms, p99 "
                        f"{latency['p99_ms']:.1f} ms, {report['throughput_rps']:.0f} req/s "
                        f"achieved, {report['errors']} errors"
                    )
    return found


def _lookups(configs: dict[str, Path], active: np.ndarray, calls: int) -> dict[str, Any]:
    """In this process: one-user lookups from each store, the part of /score that differs."""
    rng = np.random.default_rng(2)
    ids = [[str(user)] for user in rng.choice(active, calls)]
    found = {}
    for kind, config in configs.items():
        store = open_store(load_config(config))
        rows = store.open(store.current())
        asked = iter(ids)

        def one(rows: StoreRows = rows, asked: Iterator[list[str]] = asked) -> object:
            return rows.lookup(next(asked))

        found[kind] = summary(per_call(one, calls))
        rows.close()
    return found


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return min(runs, key=lambda run: run["latency"]["p99_ms"])


def markdown(result: dict[str, Any]) -> str:
    write, http, box = result["write"], result["http"], result["machine"]
    lines = [
        f"| store write, {result['rows']:,} rows | runs | rows/s (median) | write s (median) "
        "| process wall s | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind, runs in write.items():
        lines.append(
            f"| {kind} | {len(runs)} | {statistics.median(r['rows_per_s'] for r in runs):,.0f} "
            f"| {statistics.median(r['write_s'] for r in runs):.1f} "
            f"| {statistics.median(r['wall_s'] for r in runs):.1f} "
            f"| {max(r['peak_mb'] for r in runs):,.0f} |"
        )
    memory = max(r["redis_used_memory_mb"] for r in write["redis"])
    lines += [
        "",
        f"redis-server held {memory:,.0f} MB for the version (`used_memory`).",
        "",
        "| 1-user /score | req/s asked | achieved | errors | p50 ms | p99 ms (each run) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for kind, rates in http.items():
        for rate, runs in rates.items():
            best = _best(runs)
            each = ", ".join(f"{r['latency']['p99_ms']:.1f}" for r in runs)
            lines.append(
                f"| {kind} | {rate} | {best['throughput_rps']:.0f} "
                f"| {sum(r['errors'] for r in runs)} | {best['latency']['p50_ms']:.1f} "
                f"| {best['latency']['p99_ms']:.1f} ({each}) |"
            )
    lines += ["", "| in process: 1-user lookup | p50 ms | p99 ms |", "|---|---:|---:|"]
    for kind, stats in result["lookup_1_user"].items():
        lines.append(f"| {kind} | {stats['p50_ms']:.3f} | {stats['p99_ms']:.3f} |")
    load = result["load_average"]
    lines += [
        "",
        f"Served: {result['store_users']:,} users, the same rows in each store, one model "
        f"({result['served_users']:,}-user synthetic log), `winback serve` with "
        f"{result['workers']} workers, {result['load_seconds']:.0f} s per run after a 3 s "
        "warm-up, runs alternating between the stores. The write rows are real feature rows "
        "(the log's users at weekly cutoffs), written and published by each store's writer in "
        "a fresh process (`benchmarks.store_write`), timed from the table in memory to the "
        "published version; wall and peak RSS are the whole process's (reading the Parquet "
        "included).",
        "",
        f"Machine: {box['cpu']}, {box['cpus']} CPUs, shared with other work (1-minute load "
        f"average {load['start']:.1f} before, {load['end']:.1f} after). Measured "
        f"{result['measured_at']} with `{result['command']}`.",
    ]
    return "\n".join(lines) + "\n"


def show(result: dict[str, Any]) -> None:
    table = Table(title="fleet store")
    for heading in ("store", "rows/s", "peak MB", *(f"{r:.0f}/s p50, p99 ms" for r in RATES)):
        table.add_column(heading, justify="right")
    for kind in ("sqlite", "redis"):
        write, rates = result["write"][kind], result["http"][kind]
        latencies = [_best(runs)["latency"] for runs in rates.values()]
        table.add_row(
            kind,
            f"{statistics.median(r['rows_per_s'] for r in write):,.0f}",
            f"{max(r['peak_mb'] for r in write):,.0f}",
            *(f"{lat['p50_ms']:.1f}, {lat['p99_ms']:.1f}" for lat in latencies),
        )
    console.print(table)


def main(small: bool = False, runs: int = 2) -> int:
    size = data.SMALL if small else data.FULL
    rows, seconds = (50_000, 5.0) if small else (1_000_000, 30.0)
    load_start = os.getloadavg()[0]
    with console.status(f"preparing a model on {size.users:,} users (cached)"):
        bench = data.prepare(size)
        folder = data.CACHE / f"serving-u{size.users}"
        sqlite_config = cached_service(folder, bench.events.parent)
    config = load_config(sqlite_config)
    with console.status(f"building a {rows:,}-row store table (once; cached)"):
        table = batch_store(config, folder, rows).parquet_path
    tracking = f"sqlite:///{config.workdir_path.resolve() / 'mlflow.db'}"
    with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp) / "redis") as url:
        work = Path(tmp)
        write = _write_runs(table, sqlite_config, url, work, runs)
        redis_config = _redis_config(sqlite_config, url, work)
        with console.status("copying the served store into Redis"):
            _copy_into_redis(sqlite_config, redis_config)
        live = read_all(current_version(store_root(config))).select(["user_id", "status"])
        active = live.filter(pc.equal(live["status"], pa.scalar("active")))["user_id"]
        configs = {"sqlite": sqlite_config, "redis": redis_config}
        lookups = _lookups(configs, active.to_numpy(), 2_000)
        http = _http(configs, tracking, active.to_numpy(), seconds, runs)
    result = {
        "benchmark": "fleet",
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks fleet" + (" --small" if small else ""),
        "rows": rows,
        "served_users": size.users,
        "store_users": live.num_rows,
        "workers": config.serving.workers,
        "load_seconds": seconds,
        "write": write,
        "http": http,
        "lookup_1_user": lookups,
        "machine": machine(),
        "load_average": {"start": load_start, "end": os.getloadavg()[0]},
    }
    show(result)
    stem = "fleet-small" if small else "fleet"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(markdown(result))
    errors = sum(
        run["errors"] for rates in http.values() for runs in rates.values() for run in runs
    )
    return 0 if errors == 0 else 1
