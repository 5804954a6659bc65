"""HTTP load from `hey` (Debian's package), an independent client in a process of its own, so
the numbers do not depend on our own load generator sharing a core with the server.

`hey` keeps `workers` connections, each sending at most `rate / workers` requests a second
and waiting for each answer (closed loop per connection): a stalled server lowers the rate
it achieves instead of adding queueing time to the latencies, so the achieved rate is
reported beside the percentiles and a run that fell short of its rate is not a pass.
Per-request times come from its CSV output (`-o csv`), so percentiles are exact, not read
from its histogram.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.latency import summary
from tests.serving.served import TOKEN

RATE_PER_WORKER = 10.0  # requests per second each connection sends at most
SHORTFALL = 0.97  # below this share of the asked rate, the client or server fell behind


@dataclass(frozen=True)
class HeyLoad:
    path: str
    body: bytes | None  # one JSON body POSTed by every request; None: GET
    rate: float  # requests per second, all connections together
    seconds: float
    connections: int | None = None  # None: one per RATE_PER_WORKER req/s


def available() -> bool:
    return shutil.which("hey") is not None


def run_hey(url: str, load: HeyLoad, warmup_seconds: float = 3.0) -> dict[str, Any]:
    """A warm-up run (discarded), then the measured one: requests, errors, achieved rate and
    the latency summary of the successful requests."""
    workers = load.connections or max(1, round(load.rate / RATE_PER_WORKER))
    with tempfile.TemporaryDirectory() as tmp:
        body = None
        if load.body is not None:
            body = Path(tmp) / "body.json"
            body.write_bytes(load.body)
        _hey(url, load, workers, warmup_seconds, body)
        rows = _hey(url, load, workers, load.seconds, body)
    ok = [row for row in rows if row["status-code"] == "200"]
    latencies = [float(row["response-time"]) for row in ok]
    statuses = sorted({row["status-code"] for row in rows} - {"200"})
    return {
        "client": f"hey, {workers} connections x {load.rate / workers:.0f} req/s",
        "requests": len(rows),
        "errors": len(rows) - len(ok),
        "error_statuses": statuses,
        "throughput_rps": len(rows) / load.seconds,
        "kept_up": len(rows) >= SHORTFALL * load.rate * load.seconds,
        "latency": summary(latencies),
    }


def _hey(
    url: str, load: HeyLoad, workers: int, seconds: float, body: Path | None
) -> list[dict[str, str]]:
    command = ["hey", "-z", f"{seconds:g}s", "-c", str(workers), "-q", f"{load.rate / workers:g}"]
    command += ["-H", f"Authorization: Bearer {TOKEN}", "-o", "csv"]
    if body is not None:
        command += ["-m", "POST", "-T", "application/json", "-D", str(body)]
    command.append(url.rstrip("/") + load.path)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"hey failed ({done.returncode}): {done.stderr[-500:]}")
    return list(csv.DictReader(io.StringIO(done.stdout)))
