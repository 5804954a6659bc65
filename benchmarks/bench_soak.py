"""Soak: 100k requests against a real `winback serve`, and its memory stays flat.

A leak per request (a cache that never evicts, a frame kept alive by a closure) is invisible
in a short test and fatal after a week. The server's resident memory (the BentoML process
and its workers) is read after a warm-up and again at the end; the soak passes when the end
is within 10% of the warm-up, with no failed request. The request mix is what operations
send: mostly one user, some batches (with lapsed and unknown ids) and posted feature rows.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from benchmarks import data
from benchmarks.load import Request, Run, closed_loop
from benchmarks.machine import machine, machine_line
from serving.online_store import current_version, read_all, store_root
from tests.serving.served import Server, cached_service, serve

RESULTS = Path(__file__).resolve().parent / "results"
MAX_GROWTH = 1.10  # end RSS / after-warm-up RSS, from the issue
BATCH_USERS = 20
FEATURE_ROWS = 3
DISTINCT_REQUESTS = 5_000

console = Console()


def _plain(value: object) -> object:
    """A JSON-ready value: numpy scalars as Python ones, missing as null."""
    if pd.isna(value):  # type: ignore[call-overload]
        return None
    return value.item() if isinstance(value, np.generic) else value


def request_mix(server: Server, seed: int = 0) -> list[Request]:
    """80% one active user, 10% batches of 20 ids (some lapsed or unknown), 10% posted rows."""
    rows = read_all(current_version(store_root(server.config))).to_pandas()
    active = rows.loc[rows.status == "active", "user_id"].to_numpy()
    anyone = rows["user_id"].to_numpy()
    with server.client() as client:
        names = [feature["name"] for feature in client.get("/model").json()["features"]]
    rng = np.random.default_rng(seed)
    requests = []
    for i in range(DISTINCT_REQUESTS):
        kind = rng.random()
        if kind < 0.8:
            body: dict[str, Any] = {"user_ids": [str(rng.choice(active))]}
        elif kind < 0.9:
            ids = [str(user) for user in rng.choice(anyone, BATCH_USERS - 1, replace=False)]
            body = {"user_ids": [*ids, f"no-such-user-{i}"]}
        else:
            picked = rows.iloc[rng.choice(len(rows), FEATURE_ROWS, replace=False)]
            posted = [{name: _plain(row[name]) for name in names} for _, row in picked.iterrows()]
            requests.append(Request("/score_features", json.dumps({"rows": posted}).encode()))
            continue
        requests.append(Request("/score", json.dumps(body).encode()))
    return requests


@dataclass
class Soak:
    samples: list[tuple[int, int]]  # (requests answered, server RSS in bytes)
    warmup: int
    run: Run

    def rss_at(self, requests: int) -> int:
        return next(rss for done, rss in self.samples if done == requests)

    @property
    def growth(self) -> float:
        return self.samples[-1][1] / self.rss_at(self.warmup)

    @property
    def passed(self) -> bool:
        return self.run.errors == 0 and self.growth <= MAX_GROWTH

    def report(self) -> dict[str, Any]:
        return {
            "requests": self.samples[-1][0],
            "warmup_requests": self.warmup,
            "rss_mb_after_warmup": self.rss_at(self.warmup) / 2**20,
            "rss_mb_end": self.samples[-1][1] / 2**20,
            "growth": self.growth,
            "max_growth": MAX_GROWTH,
            "passed": self.passed,
            "http": self.run.report(),
            "rss_mb_by_requests": [[done, rss / 2**20] for done, rss in self.samples],
        }


def soak(server: Server, total: int, warmup: int, every: int = 1_000, concurrency: int = 8) -> Soak:
    """`total` requests of the mix, RSS read every `every` (which must divide `warmup`)."""
    if warmup % every or total % every or not 0 < warmup < total:
        raise ValueError("warmup and total must be multiples of every, warmup < total")
    samples = [(0, server.rss_bytes())]
    requests = request_mix(server)
    run = closed_loop(
        server.url,
        requests,
        total,
        concurrency,
        every,
        lambda done: samples.append((done, server.rss_bytes())),
    )
    return Soak(samples=samples, warmup=warmup, run=run)


def plot(result: Soak, path: Path) -> None:
    """RSS over requests with the warm-up point and the 10% line a reader checks by eye."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [point[0] for point in result.samples]
    rss = [point[1] / 2**20 for point in result.samples]
    warm = result.rss_at(result.warmup) / 2**20
    figure, axes = plt.subplots(figsize=(8, 4))
    axes.plot(done, rss, marker=".", label="server RSS (all processes)")
    axes.axvline(result.warmup, color="grey", linestyle=":", label="end of warm-up")
    axes.axhline(warm * MAX_GROWTH, color="red", linestyle="--", label="limit: +10%")
    axes.set_xlabel("requests answered")
    axes.set_ylabel("MB")
    axes.set_ylim(bottom=0)
    axes.set_title("winback serve: resident memory during the soak")
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def markdown(result: dict[str, Any]) -> str:
    soaked, http = result["soak"], result["soak"]["http"]
    latency = http["latency"]
    verdict = "met" if soaked["passed"] else "NOT met"
    return "\n".join(
        [
            "| Requests | Errors | Throughput (req/s) | p50 / p99 (ms) | RSS after warm-up "
            "(MB) | RSS at end (MB) | End / warm-up |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            f"| {soaked['requests']:,} | {http['errors']} | {http['throughput_rps']:.0f} "
            f"| {latency['p50_ms']:.1f} / {latency['p99_ms']:.1f} "
            f"| {soaked['rss_mb_after_warmup']:.0f} | {soaked['rss_mb_end']:.0f} "
            f"| {soaked['growth']:.3f} |",
            "",
            f"![RSS over requests]({result['plot']})",
            "",
            f"{soaked['warmup_requests']:,} warm-up requests, then the rest; "
            f"{result['concurrency']} requests in flight from the benchmark's process over "
            "keep-alive HTTP to `winback serve` on loopback (bearer token on). Mix: 80% "
            f"/score for one active user, 10% /score for {BATCH_USERS} ids (any status, one "
            f"unknown), 10% /score_features with {FEATURE_ROWS} rows. RSS is summed over "
            "the server process and its workers (psutil). Model trained on a "
            f"{result['users']:,}-user synthetic log ({result['store_users']:,} users in the "
            "online store).",
            "",
            f"Target: RSS at the end ≤ {MAX_GROWTH:.2f}x after warm-up: "
            f"{soaked['growth']:.3f}x ({verdict}), errors: {http['errors']}.",
            "",
            machine_line(result, ("bentoml", "lightgbm")),
        ]
    )


def main(small: bool = False, runs: int = 1) -> int:
    """Exit status 1 if memory grew more than 10% or any request failed."""
    size = data.SMALL  # the model's size is not what a leak depends on; its speed sets the time
    total, warmup = (10_000, 2_000) if small else (100_000, 5_000)
    concurrency = 8
    with console.status(f"preparing a model on {size.users:,} users"):
        bench = data.prepare(size)
        config = cached_service(data.CACHE / f"serving-u{size.users}", bench.events.parent)
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp, serve(config, Path(tmp) / "server.log") as server:
        with console.status(f"soaking: {total:,} requests"):
            result = soak(server, total, warmup, concurrency=concurrency)
        store_users = current_version(store_root(server.config)).rows
    stem = "soak-small" if small else "soak"
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot(result, RESULTS / f"{stem}.png")
    summary = {
        "benchmark": "soak",
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks soak" + (" --small" if small else ""),
        "users": size.users,
        "store_users": store_users,
        "concurrency": concurrency,
        "soak": result.report(),
        "plot": f"{stem}.png",
        "machine": machine("bentoml", "lightgbm"),
        "load_average": {"start": load_start, "end": os.getloadavg()[0]},
    }
    (RESULTS / f"{stem}.json").write_text(json.dumps(summary, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(markdown(summary) + "\n")
    show(summary)
    return 0 if result.passed else 1


def show(summary: dict[str, Any]) -> None:
    soaked = summary["soak"]
    table = Table(title=f"soak, {soaked['requests']:,} requests")
    for heading in ("errors", "req/s", "p50 ms", "p99 ms", "RSS warm MB", "RSS end MB", "growth"):
        table.add_column(heading, justify="right")
    http = soaked["http"]
    table.add_row(
        str(http["errors"]),
        f"{http['throughput_rps']:.0f}",
        f"{http['latency']['p50_ms']:.1f}",
        f"{http['latency']['p99_ms']:.1f}",
        f"{soaked['rss_mb_after_warmup']:.0f}",
        f"{soaked['rss_mb_end']:.0f}",
        f"{soaked['growth']:.3f}",
    )
    console.print(table)
    for problem in http["error_samples"]:
        console.print(f"[red]{problem}[/red]")
