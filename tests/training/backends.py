"""A real `mlflow server` process on a free local port for the integration tests: SQLite
backend, proxied artifacts, its own process group (killed as a whole at teardown)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from artifact.tracking import TrackingStore

SERVER_START_SECONDS = 180


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(
        f"mlflow server not healthy after {SERVER_START_SECONDS}s:\n{log.read_text()[-3000:]}"
    )


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def wait(self) -> TrackingStore:
        _wait_healthy(self.url, self.process, self.log)
        return TrackingStore(uri=self.url, artifact_location=None)

    def stop(self) -> None:
        """The server and its workers share the process group started for it."""
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def launch_server(folder: Path) -> ServerProcess:
    """`mlflow server` with a SQLite backend and proxied artifacts, in its own process group;
    it takes tens of seconds to come up, so it is launched early and waited for late."""
    port = free_port()
    log = folder / "server.log"
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{folder / 'server.db'}",
        "--artifacts-destination", str(folder / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    return ServerProcess(process, f"http://127.0.0.1:{port}", log)
