"""Faults against a running `winback serve` (two workers), each reproduced while a client
scores continuously: the pair in use keeps answering, the failure is reported (/model,
/admin/reload, /metrics, the log), and once the cause is gone every worker ends on the same
champion and store without a restart.

The module's server starts on v1 with v2 registered beside it (a copy of v1's files); tests
promote "the other" version, so they do not depend on their order.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from artifact.registry import CHAMPION, champion_version
from artifact.tracking import DATABASE_FILE, resolve_store
from core.config import DatasetConfig, load_config
from serving.online_store import CURRENT, current_version, store_root
from tests.serving.served import TOKEN, Server, copy_service, serve, template_config
from tests.tracking_seed import seeded

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SERVING = "{poll_seconds: 0.5}"
CONVERGE_SECONDS = 45.0  # retries back off to 30 s at most; these faults last seconds
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
T = TypeVar("T")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, served_template: Path) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("faults")
    config = copy_service(served_template, folder, serving=SERVING)
    register_a_copy(load_config(config), folder / "v2")
    with serve(config, folder / "server.log") as running:
        yield running


def register_a_copy(config: DatasetConfig, folder: Path) -> None:
    """Version 2: version 1's files copied to `folder` and registered from there, so a test
    can take one version's artifacts away while the other's stay (a second training would
    add a minute and test nothing more here)."""
    store = resolve_store(config, environ={})
    client = store.client()
    source = client.get_model_version_download_uri("svc-churn", "1").removeprefix("file://")
    shutil.copytree(source, folder)
    run_id = client.get_model_version("svc-churn", "1").run_id
    assert str(client.create_model_version("svc-churn", str(folder), run_id).version) == "2"
    assert champion_version(store, "svc-churn") == "1"


@pytest.fixture(autouse=True)
def settled(server: Server) -> None:
    """Every test starts from workers that agree on the registry's champion and the live
    store, so one test's failure is reported once, not again by each test after it."""
    converge(server, champion(server), live_store(server))


def fresh(server: Server, method: str, path: str, **kwargs: object) -> httpx.Response:
    """A request on a new connection, so successive calls reach either worker."""
    return httpx.request(method, server.url + path, headers=HEADERS, timeout=30, **kwargs)  # type: ignore[arg-type]


def served_pairs(server: Server, calls: int = 30) -> set[tuple[str, str]]:
    pairs = set()
    for _ in range(calls):
        info = fresh(server, "GET", "/model").json()
        pairs.add((info["version"], info["online_store"]["version"]))
    return pairs


def converge(server: Server, version: str, store: str) -> None:
    """Every worker answers with (version, store): 30 fresh connections in a row agree."""
    deadline = time.monotonic() + CONVERGE_SECONDS
    while time.monotonic() < deadline:
        pairs = served_pairs(server)
        if pairs == {(version, store)}:
            return
        time.sleep(0.5)
    raise AssertionError(f"workers did not converge on v{version}/{store}: {pairs}")


def until(probe: Callable[[], T | None], seconds: float, what: str) -> T:
    """Workers poll on their own clocks: a state one of them reports is waited for, never
    assumed to be there on the next request; the answer that showed it is returned."""
    deadline = time.monotonic() + seconds
    while (found := probe()) is None:
        assert time.monotonic() < deadline, what
        time.sleep(0.3)
    return found


def failing_refresh(server: Server) -> dict[str, Any] | None:
    """/model's refresh state from one worker, if that worker reports a failure."""
    refresh: dict[str, Any] = fresh(server, "GET", "/model").json()["refresh"]
    return None if refresh["ok"] else refresh


def champion(server: Server) -> str:
    found = champion_version(resolve_store(server.config, environ={}), "svc-churn")
    assert found is not None
    return found


def promote(server: Server, version: str) -> None:
    client = resolve_store(server.config, environ={}).client()
    client.set_registered_model_alias("svc-churn", CHAMPION, version)


def live_store(server: Server) -> str:
    return current_version(store_root(server.config)).version


def failures_counted(server: Server, kind: str) -> float:
    text = httpx.get(server.url + "/metrics", timeout=10).text
    prefix = f'winback_refresh_failures_total{{kind="{kind}"}}'
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(prefix))


@dataclass
class Calls:
    statuses: list[int] = field(default_factory=list)
    versions: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    slowest: float = 0.0


@contextmanager
def scoring(server: Server, allowed: frozenset[int] = frozenset({200})) -> Iterator[Calls]:
    """Two clients posting /score for active users until the block ends, new connections
    every few requests so both workers are asked."""
    calls = Calls()
    stop = threading.Event()
    users = [f"u{i:07d}" for i in range(1, 11)]

    def loop() -> None:
        while not stop.is_set():
            with httpx.Client(base_url=server.url, headers=HEADERS, timeout=10) as client:
                for _ in range(5):
                    start = time.monotonic()
                    try:
                        response = client.post("/score", json={"user_ids": users})
                    except httpx.HTTPError as error:
                        calls.failures.append(f"{type(error).__name__}: {error}")
                        continue
                    calls.slowest = max(calls.slowest, time.monotonic() - start)
                    calls.statuses.append(response.status_code)
                    if response.status_code not in allowed:
                        calls.failures.append(f"{response.status_code} {response.text[:200]}")
                    elif response.status_code == 200:
                        calls.versions.add(response.json()["results"][0]["model_version"])

    threads = [threading.Thread(target=loop) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        yield calls
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert len(calls.statuses) > 20, "the scoring client barely ran"


def new_store_version(server: Server) -> Path:
    """A copy of the live store version under a new name, not yet current."""
    root = store_root(server.config)
    live = current_version(root)
    name = f"{live.version}-copy-{uuid.uuid4().hex[:6]}"
    folder = root / name
    shutil.copytree(live.folder, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.update(version=name, folder=str(folder))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def make_current(folder: Path) -> None:
    pointer = folder.parent / f".{CURRENT}.{uuid.uuid4().hex}"
    pointer.write_text(folder.name)
    os.replace(pointer, folder.parent / CURRENT)


def test_a_champion_whose_artifacts_are_gone_is_refused_until_they_are_back(
    server: Server,
) -> None:
    old, new = champion(server), {"1": "2", "2": "1"}[champion(server)]
    store = live_store(server)
    client = resolve_store(server.config, environ={}).client()
    artifacts = Path(
        client.get_model_version_download_uri("svc-churn", new).removeprefix("file://")
    )
    moved = artifacts.with_name(artifacts.name + ".moved")
    before = failures_counted(server, "PairError")
    with scoring(server) as calls:
        artifacts.rename(moved)
        try:
            promote(server, new)
            reload = fresh(server, "POST", "/admin/reload", json={})
            assert reload.status_code == 503, reload.text
            assert "could not be loaded" in reload.text and reload.json()["version"] == old
            until(
                lambda: failing_refresh(server),
                CONVERGE_SECONDS,
                "/model never reported the refused champion",
            )
            assert fresh(server, "GET", "/model").json()["version"] == old
            assert failures_counted(server, "PairError") > before
        finally:
            moved.rename(artifacts)
        converge(server, new, store)
    assert calls.failures == []
    assert calls.versions <= {old, new}


def test_a_truncated_store_manifest_keeps_the_old_store_until_it_is_repaired(
    server: Server,
) -> None:
    version, old_store = champion(server), live_store(server)
    folder = new_store_version(server)
    manifest = folder / "manifest.json"
    text = manifest.read_text()
    manifest.write_text(text[: len(text) // 2])
    with scoring(server) as calls:
        make_current(folder)
        try:
            reload = fresh(server, "POST", "/admin/reload", json={})
            assert reload.status_code == 503, reload.text
            assert "manifest is unreadable" in reload.text
            assert served_pairs(server) == {(version, old_store)}
        finally:
            manifest.write_text(text)
        converge(server, version, folder.name)
    assert calls.failures == []


def test_a_new_store_with_a_garbage_sqlite_file_is_refused_and_readiness_stays_green(
    server: Server,
) -> None:
    version, old_store = champion(server), live_store(server)
    folder = new_store_version(server)
    good = (folder / "store.sqlite").read_bytes()
    (folder / "store.sqlite").write_bytes(os.urandom(64 * 1024))
    with scoring(server) as calls:
        make_current(folder)
        try:
            reload = fresh(server, "POST", "/admin/reload", json={})
            assert reload.status_code == 503, reload.text
            assert "unreadable" in reload.text or "damaged" in reload.text
            for _ in range(10):
                assert httpx.get(server.url + "/readyz", timeout=5).status_code == 200
            assert served_pairs(server) == {(version, old_store)}
        finally:
            (folder / "store.sqlite").write_bytes(good)
        converge(server, version, folder.name)
    assert calls.failures == []


def wait_readiness(server: Server, status: int, seconds: float = 15) -> None:
    """Ten fresh readiness probes in a row answer `status`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = [httpx.get(server.url + "/readyz", timeout=5).status_code for _ in range(10)]
        if set(got) == {status}:
            return
        time.sleep(0.3)
    raise AssertionError(f"/readyz never settled on {status}: {got}")


def test_random_bytes_in_the_live_store_turn_readiness_red_and_scores_503_not_500(
    server: Server,
) -> None:
    version = champion(server)
    spare = new_store_version(server)  # an intact copy, made live as the repair
    live = Path(current_version(store_root(server.config)).sqlite_path)
    with scoring(server, allowed=frozenset({200, 503})) as calls:
        size = live.stat().st_size
        with live.open("r+b") as handle:
            handle.seek((size // 2) // 4096 * 4096)
            handle.write(os.urandom(3 * 4096))
        try:
            wait_readiness(server, 503)
            response = fresh(server, "POST", "/score", json={"user_ids": ["u0000001"]})
            assert response.status_code == 503, response.text  # BentoML hides 5xx texts
            until(
                lambda: fresh(server, "GET", "/model").json()["refresh"]["damaged"] or None,
                10,
                "/model never said the store is damaged",
            )
        finally:
            make_current(spare)
        wait_readiness(server, 200, seconds=CONVERGE_SECONDS)
        converge(server, version, spare.name)
    assert calls.failures == []
    assert 200 in calls.statuses


@contextmanager
def registry_locked(server: Server) -> Iterator[None]:
    """The SQLite registry held under an exclusive lock: every registry call waits, then
    fails, as with a registry server that stopped answering."""
    database = server.config.workdir_path.resolve() / DATABASE_FILE
    con = sqlite3.connect(database, isolation_level=None, timeout=30)
    con.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        con.execute("ROLLBACK")
        con.close()


def test_a_registry_outage_never_slows_scoring_or_model_info(server: Server) -> None:
    version, store = champion(server), live_store(server)
    with scoring(server) as calls, registry_locked(server):
        start = time.monotonic()
        reload = fresh(server, "POST", "/admin/reload", json={})
        assert time.monotonic() - start < 15
        assert reload.status_code in (202, 503), reload.text
        with ThreadPoolExecutor(20) as pool:
            timed = list(pool.map(lambda _: timed_model_call(server), range(100)))
        assert max(seconds for seconds, _ in timed) < 3
        assert {info["version"] for _, info in timed} == {version}
        refresh = until(lambda: failing_refresh(server), 20, "the outage was never reported")
        error = refresh["last_error"]
        assert "unreachable" in error and "train one" not in error
    converge(server, version, store)
    assert calls.failures == []
    assert calls.slowest < 3


def timed_model_call(server: Server) -> tuple[float, dict[str, object]]:
    start = time.monotonic()
    response = fresh(server, "GET", "/model")
    assert response.status_code == 200, response.text
    return time.monotonic() - start, response.json()


def test_a_corrupt_registry_database_is_reported_as_corrupt_not_as_no_champion(
    server: Server,
) -> None:
    version, store = champion(server), live_store(server)
    database = server.config.workdir_path.resolve() / DATABASE_FILE
    good = database.read_bytes()
    with scoring(server) as calls:
        with database.open("r+b") as handle:
            handle.write(os.urandom(len(good)))
        try:
            reload = fresh(server, "POST", "/admin/reload", json={})
            assert reload.status_code == 503, reload.text
            assert "corrupt" in reload.text and "train one" not in reload.text
            assert fresh(server, "GET", "/model").json()["version"] == version
        finally:
            with database.open("r+b") as handle:
                handle.write(good)
        until(
            lambda: all(failing_refresh(server) is None for _ in range(10)) or None,
            CONVERGE_SECONDS,
            "the poller never recovered",
        )
    converge(server, version, store)
    assert calls.failures == []


def run_serve(config: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "winback.cli", "serve", "-c", str(config), "--port", "0"]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Root ignores file modes, so as root the folder is bind-mounted read-only instead."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True)
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_serve_on_a_read_only_workdir_exits_with_one_line(
    server: Server, served_template: Path, tmp_path: Path
) -> None:
    config = template_config(served_template, tmp_path, SERVING)
    shutil.copytree(server.config.workdir_path, tmp_path / "work")
    with read_only(tmp_path / "work"):
        done = run_serve(config)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "is not writable" in done.stderr and "Traceback" not in done.stderr


def test_serve_without_a_champion_exits_with_one_line(
    server: Server, served_template: Path, tmp_path: Path
) -> None:
    seeded(tmp_path / "work")
    config = template_config(served_template, tmp_path, name="nobody-churn")
    done = run_serve(config)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "has no champion" in done.stderr and "Traceback" not in done.stderr
