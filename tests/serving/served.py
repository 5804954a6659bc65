"""A real `winback serve` on a free loopback port, over the real pipeline's output.

The service tests, the serving benchmark and the soak all need the same thing: a synthetic
log, a champion trained on it (MLflow on SQLite), a materialized online store, and the
service started the way an operator starts it, as a process of its own. One module, so the
numbers are measured against exactly what the tests check.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from core.config import DatasetConfig, load_config
from features.synthetic import SyntheticSpec, generate, write
from serving.auth import TOKEN_ENV

REPO = Path(__file__).resolve().parents[2]
TOKEN = "s3cret-token"
DEMO_CONFIG = REPO / "configs" / "demo.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(
    folder: Path,
    data: Path,
    *,
    name: str = "svc-churn",
    seed: int = 42,
    serving: str = "{}",
    cutoffs_start: str = "2025-04-01",
) -> Path:
    """The demo config pointed at `data` (a synthetic log), with its work under `folder`.

    Configs for other seeds share `folder/work`, so their models land in one registry.
    """
    text = DEMO_CONFIG.read_text()
    text = text.replace("../.winback/demo/data", str(data))
    text = text.replace("workdir: ../.winback/demo", f"workdir: {folder / 'work'}")
    text = re.sub(r"^(cutoffs: \{start: )[0-9-]+", rf"\g<1>{cutoffs_start}", text, flags=re.M)
    text = re.sub(r"^(model|serving):.*\n", "", text, flags=re.M)
    # One booster setting, fewer resamples: serving is under test here, not the backtest's
    # search or the intervals.
    model = f"{{name: {name}, seed: {seed}, search: {{trials: 1}}, bootstrap_rounds: 200}}"
    text += f"model: {model}\nserving: {serving}\n"
    path = folder / f"config-{seed}.yaml"
    path.write_text(text)
    return path


def _fingerprint(data: Path) -> str:
    """Changes with the log and with any code or config that shapes the model or the store."""
    digest = hashlib.sha1(str(data.resolve()).encode())
    for name in ("meta.json", "users.parquet"):
        if (data / name).exists():
            digest.update((data / name).read_bytes())
    sources = [DEMO_CONFIG, *sorted((REPO / "features").rglob("*.py"))]
    sources += sorted((REPO / "training").rglob("*.py"))
    sources += sorted((REPO / "artifact").rglob("*.py"))  # what a registered model holds
    sources += [REPO / "serving" / name for name in ("materialize.py", "online_store.py")]
    for path in sources:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cached_service(folder: Path, data: Path) -> Path:
    """A champion and a store for the log in `data`, kept in `folder` between benchmark runs
    (training is not what is measured); redone when the log or the code changes."""
    marker = folder / "ready"
    fingerprint = _fingerprint(data)
    config_path = folder / "config-42.yaml"
    if marker.exists() and marker.read_text() == fingerprint:
        return config_path
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    write_config(folder, data, name="bench-churn")
    train_and_materialize(config_path)
    marker.write_text(fingerprint)
    return config_path


def train_and_materialize(config_path: Path, tracking_uri: str | None = None) -> None:
    """`winback train` then `winback materialize`, as an operator runs them: a champion and a
    live store. Processes of their own keep MLflow's process-wide URIs out of the caller's;
    `tracking_uri` is a tracking server's (else the workdir's SQLite store)."""
    env = {key: value for key, value in os.environ.items() if key != "MLFLOW_TRACKING_URI"}
    if tracking_uri is not None:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    for command in ("train", "materialize"):
        done = subprocess.run(
            [sys.executable, "-m", "winback.cli", command, "-c", str(config_path)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"winback {command} failed:\n{done.stdout[-2000:]}{done.stderr}")


def prepare_service(
    folder: Path, spec: SyntheticSpec, serving: str = "{}", cutoffs_start: str = "2025-04-01"
) -> Path:
    """A fresh synthetic log in `folder/data`, trained on and materialized: ready to serve."""
    data = folder / "data"
    write(generate(spec), data)
    config_path = write_config(folder, data, serving=serving, cutoffs_start=cutoffs_start)
    train_and_materialize(config_path)
    return config_path


TEMPLATE_SPEC = SyntheticSpec(users=1500, days=330, seed=11)
TEMPLATE_CUTOFFS = "2025-06-01"


def template_config(
    template: Path, folder: Path, serving: str = "{}", seed: int = 42, name: str = "svc-churn"
) -> Path:
    """A config in `folder` on the template's log and cutoffs (its workdir `folder/work`)."""
    return write_config(
        folder,
        template / "data",
        name=name,
        seed=seed,
        serving=serving,
        cutoffs_start=TEMPLATE_CUTOFFS,
    )


def copy_service(template: Path, folder: Path, serving: str = "{}") -> Path:
    """A config in `folder` over its own copy of the template's workdir (registry, store):
    a test may promote, corrupt or retrain there. The log is the template's, read only."""
    shutil.copytree(template / "work", folder / "work")
    return template_config(template, folder, serving)


@dataclass
class Server:
    url: str
    config: DatasetConfig
    config_path: Path
    process: subprocess.Popen[bytes]

    def client(self, token: str | None = TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def processes(self) -> list[psutil.Process]:
        """The BentoML server and every worker it started."""
        root = psutil.Process(self.process.pid)
        return [root, *root.children(recursive=True)]

    def rss_bytes(self) -> int:
        """Resident memory of the whole server tree (a worker that exits mid-read counts 0)."""
        total = 0
        for process in self.processes():
            try:
                total += process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total


def wait_ready(url: str, process: subprocess.Popen[bytes], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError("server never became ready")


def wait_workers(log: Path, workers: int, process: subprocess.Popen[bytes]) -> None:
    """/readyz answers once one worker is up; tests that fault a running service need all
    of them started (each logs this line when its service object exists)."""
    deadline = time.monotonic() + 90
    while log.read_text(errors="replace").count("Service winback initialized") < workers:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"not all {workers} workers started; see {log}")
        time.sleep(0.2)


@contextmanager
def serve(config_path: Path, log: Path, tracking_uri: str | None = None) -> Iterator[Server]:
    """`winback serve` with the bearer token set, stopped (with its workers) on exit; on
    `tracking_uri`'s registry if given (else the workdir's SQLite store)."""
    port = free_port()
    env = {**os.environ, TOKEN_ENV: TOKEN}
    env.pop("MLFLOW_TRACKING_URI", None)
    if tracking_uri is not None:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    command = [sys.executable, "-m", "winback.cli", "serve", "-c", str(config_path)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    config = load_config(config_path)
    try:
        wait_ready(url, process)
        wait_workers(log, config.serving.workers, process)
        yield Server(url, config, config_path, process)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
