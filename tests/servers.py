"""Real servers for the fleet tests and benchmarks, on free 127.0.0.1 ports: redis-server and
PostgreSQL from Debian (`make system-deps` installs them), and `mlflow server` on PostgreSQL.

Each runs in its own process group and its own temporary folder, and is stopped (the group
killed) on exit. PostgreSQL refuses to run as root: as root, the cluster is created and run
as the `postgres` user Debian's package adds, in a folder made for it under the system's
temporary directory (a pytest folder under /tmp/pytest-of-root is closed to other users), so
this works from a clone in any folder.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

START_SECONDS = 180
POSTGRES_USER = "postgres"  # the system user Debian's postgresql package creates
DATABASE = "mlflow"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(
    ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path, what: str
) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited early:\n{log.read_text(errors='replace')[-3000:]}")
        if ready():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} not up after {START_SECONDS} s:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """The process and everything it started (its own process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _start(
    command: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """redis-server without persistence; yields its redis:// URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: run `make system-deps`")
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    command = [
        binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--dir", str(folder), "--protected-mode", "yes",
    ]  # fmt: skip
    log = folder / "redis.log"
    process = _start(command, log)
    try:
        _wait(lambda: _accepts(port), process, log, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process)


def postgres_bin(name: str) -> str:
    """Debian keeps the server's programs out of PATH, under /usr/lib/postgresql/<major>/bin."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_major)
    path = found[-1] if found else shutil.which(name)
    if path is None:
        raise RuntimeError(f"PostgreSQL's {name} is not installed: run `make system-deps`")
    return path


def _major(path: str) -> int:
    version = Path(path).parents[1].name
    return int(version) if version.isdigit() else 0


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL's programs refuse root; as root they run as the postgres user."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", POSTGRES_USER, "--", *command]


def _owned_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="winback-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, user=POSTGRES_USER)
    return folder


@contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway cluster (trust authentication on loopback only) with a `mlflow` database;
    yields its SQLAlchemy URL for psycopg 3."""
    folder = _owned_folder()
    data, log = folder / "data", folder / "postgres.log"
    port = free_port()
    try:
        subprocess.run(
            _as_postgres(
                [postgres_bin("initdb"), "-D", str(data), "-U", "winback", "--auth=trust",
                 "--encoding=UTF8", "--no-sync"]
            ),
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        command = _as_postgres(
            [postgres_bin("postgres"), "-D", str(data), "-p", str(port), "-h", "127.0.0.1",
             "-k", str(folder), "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off"]
        )  # fmt: skip
        process = _start(command, log)
        try:
            ready = [postgres_bin("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)]
            _wait(lambda: subprocess.run(ready).returncode == 0, process, log, "PostgreSQL")
            createdb = [postgres_bin("createdb"), "-h", "127.0.0.1", "-p", str(port)]
            subprocess.run(
                _as_postgres([*createdb, "-U", "winback", DATABASE]),
                check=True, capture_output=True,
            )  # fmt: skip
            yield f"postgresql+psycopg://winback@127.0.0.1:{port}/{DATABASE}"
        finally:
            _stop(process)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class MlflowServer:
    """`mlflow server` starting; `wait()` once it is needed (migrations take a while)."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def wait(self) -> str:
        import httpx

        def healthy() -> bool:
            try:
                return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        _wait(healthy, self.process, self.log, "mlflow server")
        return self.url


def launch_mlflow(backend_uri: str, folder: Path, workers: int = 2) -> MlflowServer:
    """`mlflow server` on `backend_uri`, artifacts served from `folder/artifacts` (the
    shared path), in its own process group; stop it with `stop_mlflow`."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "mlflow-server.log"
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", backend_uri,
        "--artifacts-destination", str(folder / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    return MlflowServer(f"http://127.0.0.1:{port}", _start(command, log), log)


def stop_mlflow(server: MlflowServer) -> None:
    _stop(server.process)
