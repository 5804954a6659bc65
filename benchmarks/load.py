"""An HTTP load generator for the service, run in the benchmark's own process (never the
server's): keep-alive connections through one aiohttp client session. (httpx's async client
saturated a core at about 100 req/s here, so it measured itself rather than the server.)

`open_loop` sends at a fixed rate whatever the server does, and times each request from the
moment it *should* have been sent: a stalled server or a late client shows up as latency
instead of silently lowering the rate (coordinated omission). `closed_loop` keeps a fixed
number of requests in flight, as fast as the server answers: the soak's way to get many
requests through quickly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from benchmarks.latency import summary
from tests.serving.served import TOKEN

ERROR_SAMPLES = 5
# Requests in flight at most: beyond this they wait in our own queue (still timed from when
# they were due), so a stalled server cannot make the client open hundreds of sockets.
IN_FLIGHT = 64
GIVE_UP_SECONDS = 30.0  # a request that cannot even be sent by then counts as an error


@dataclass(frozen=True)
class Request:
    path: str
    body: bytes  # JSON, encoded once up front so the client spends its time sending


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests
    lags: list[float] = field(default_factory=list)  # how late the client itself sent
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    seconds: float = 0.0  # first scheduled send to last answer

    def report(self) -> dict[str, Any]:
        answered = len(self.latencies)
        return {
            "requests": answered + self.errors,
            "errors": self.errors,
            "throughput_rps": answered / self.seconds if self.seconds else 0.0,
            "latency": summary(self.latencies),
            "send_lag": summary(self.lags),
            "error_samples": self.error_samples,
        }


def _client(url: str, connections: int) -> aiohttp.ClientSession:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    return aiohttp.ClientSession(
        base_url=url,
        headers=headers,
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=60),
    )


def _failed(run: Run, problem: str) -> None:
    run.errors += 1
    if len(run.error_samples) < ERROR_SAMPLES:
        run.error_samples.append(problem)


async def _send(
    client: aiohttp.ClientSession,
    slots: asyncio.Semaphore,
    request: Request,
    due: float,
    run: Run,
) -> None:
    """One request; its latency counts from `due`, when it should have left."""
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(slots.acquire(), max(0.0, due + GIVE_UP_SECONDS - loop.time()))
    except TimeoutError:
        _failed(run, f"not sent within {GIVE_UP_SECONDS:.0f} s: the server fell behind")
        return
    try:
        run.lags.append(max(0.0, loop.time() - due))
        async with client.post(request.path, data=request.body) as response:
            text = await response.text()
        ok, problem = response.status == 200, f"{response.status} {text[:200]}"
    except (aiohttp.ClientError, TimeoutError) as error:
        ok, problem = False, f"{type(error).__name__}: {error}"
    finally:
        slots.release()
    if ok:
        run.latencies.append(loop.time() - due)
    else:
        _failed(run, problem)


async def _open_loop(
    url: str, requests: Sequence[Request], rate: float, seconds: float, warmup: float
) -> Run:
    async with _client(url, connections=IN_FLIGHT) as client:
        loop = asyncio.get_running_loop()
        slots = asyncio.Semaphore(IN_FLIGHT)
        runs = (Run(), Run())  # warm-up (discarded), measured
        pending = []
        start = loop.time() + 0.1
        sent = 0
        for run, begin, span in zip(runs, (start, start + warmup), (warmup, seconds), strict=True):
            for i in range(round(rate * span)):
                due = begin + i / rate
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                request = requests[sent % len(requests)]
                sent += 1
                pending.append(asyncio.create_task(_send(client, slots, request, due, run)))
        await asyncio.gather(*pending)
        measured = runs[1]
        measured.seconds = loop.time() - (start + warmup)
        return measured


def open_loop(
    url: str, requests: Sequence[Request], rate: float, seconds: float, warmup: float = 3.0
) -> Run:
    """`rate` requests per second for `seconds` (after `warmup` seconds not counted)."""
    return asyncio.run(_open_loop(url, requests, rate, seconds, warmup))


async def _closed_loop(
    url: str,
    requests: Sequence[Request],
    total: int,
    concurrency: int,
    every: int,
    progress: Callable[[int], None],
) -> Run:
    run = Run()
    sent = 0
    async with _client(url, connections=concurrency) as client:
        loop = asyncio.get_running_loop()
        slots = asyncio.Semaphore(concurrency)  # never waited on: one request per worker
        start = loop.time()

        async def worker() -> None:
            nonlocal sent
            while sent < total:
                request = requests[sent % len(requests)]
                sent += 1
                await _send(client, slots, request, loop.time(), run)
                done = len(run.latencies) + run.errors
                if done % every == 0:
                    progress(done)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        run.seconds = loop.time() - start
    return run


def closed_loop(
    url: str,
    requests: Sequence[Request],
    total: int,
    concurrency: int,
    every: int,
    progress: Callable[[int], None],
) -> Run:
    """`total` requests, `concurrency` in flight; `progress(done)` after every `every`."""
    return asyncio.run(_closed_loop(url, requests, total, concurrency, every, progress))
