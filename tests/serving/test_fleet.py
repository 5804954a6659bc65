"""Past one machine, with the real servers: the online store on redis-server, the registry on
`mlflow server` (PostgreSQL), two `winback serve` replicas on their own ports sharing both.

- A materialize killed (-9) midway leaves the old version live: nothing published, its keys
  expire by themselves, both replicas keep serving the old store. One for a config the
  champion was not trained with is refused before anything is written.
- Under alternating load on both replicas, a champion promoted and a store version
  materialized reach both within the poll interval, no request fails, and every answer
  came from one (model, store) pair: its probability is that pair's, recomputed here.
- The Redis store scores exactly as the SQLite store for the same users and model.
- The Bento `bentoml build` makes of bentofile.yaml serves the registry's champion.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
import redis

from artifact.registry import champion_version, load_version
from artifact.tracking import TRACKING_ENV, TrackingStore, resolve_store
from core.config import DatasetConfig, load_config
from features.synthetic import SyntheticSpec, generate, write
from serving.auth import TOKEN_ENV
from serving.model_source import Serving, ServingSource
from serving.online_store import open_store, parse_manifest, read_all
from serving.redis_store import RedisStore
from serving.responses import score_users
from tests.serving.served import (
    REPO,
    TOKEN,
    Server,
    free_port,
    serve,
    train_and_materialize,
    wait_ready,
    write_config,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.fleet]

NAME = "fleet-churn"
POLL_SECONDS = 2.0
CUTOFF, NEW_CUTOFF = "2026-01-01", "2025-12-25"


def _serving(poll: float, store: str) -> str:
    return f"{{poll_seconds: {poll}, workers: 1, store: {store}}}"


@dataclass
class Fleet:
    folder: Path
    tracking: TrackingStore
    redis_url: str
    config_path: Path  # the replicas' config: Redis store
    slow_writer: Path  # the same store, one row per pipelined batch (to be killed midway)
    sqlite_config: Path  # the same log and registry, the SQLite store
    versions: tuple[str, str]  # champion after training, the other registered version

    @property
    def config(self) -> DatasetConfig:
        return load_config(self.config_path)

    def env(self) -> dict[str, str]:
        return {**os.environ, TRACKING_ENV: self.tracking.uri}

    def winback(self, *args: str, config: Path | None = None) -> None:
        command = [
            sys.executable,
            "-m",
            "winback.cli",
            *args,
            "-c",
            str(config or self.config_path),
        ]
        done = subprocess.run(command, env=self.env(), capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"winback {args}: {done.stdout[-1500:]}{done.stderr[-1500:]}"

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url, decode_responses=True)

    def current(self) -> str:
        return str(self.redis().get("fleet-test:CURRENT"))


@pytest.fixture(scope="module")
def fleet(
    tmp_path_factory: pytest.TempPathFactory, mlflow_server: TrackingStore, redis_url: str
) -> Fleet:
    """A champion and a second version on the server, a live store on Redis."""
    folder = tmp_path_factory.mktemp("fleet")
    data = folder / "data"
    write(generate(SyntheticSpec(users=1500, days=330, seed=11)), data)
    store = f"{{kind: redis, url: '{redis_url}', key_prefix: fleet-test"

    def config(seed: int, serving: str, where: Path = folder) -> Path:
        where.mkdir(exist_ok=True)
        return write_config(
            where, data, name=NAME, seed=seed, serving=serving, cutoffs_start="2025-06-01"
        )

    config_path = config(42, _serving(POLL_SECONDS, store + ", batch_rows: 200}"))
    train_and_materialize(config_path, tracking_uri=mlflow_server.uri)
    fleet = Fleet(
        folder,
        mlflow_server,
        redis_url,
        config_path,
        slow_writer=config(44, _serving(POLL_SECONDS, store + ", batch_rows: 1}")),
        sqlite_config=config(42, _serving(POLL_SECONDS, "{kind: sqlite}"), folder / "sqlite"),
        versions=("", ""),
    )
    fleet.winback("train", config=config(43, "{}"))
    champion = champion_version(mlflow_server, NAME)
    assert champion is not None
    fleet.versions = (champion, {"1": "2", "2": "1"}[champion])
    return fleet


@pytest.fixture(scope="module")
def replicas(fleet: Fleet) -> Iterator[list[Server]]:
    with ExitStack() as stack:
        yield [
            stack.enter_context(
                serve(fleet.config_path, fleet.folder / f"replica-{i}.log", fleet.tracking.uri)
            )
            for i in range(2)
        ]


def model_info(server: Server) -> dict[str, str]:
    with server.client() as client:
        info = client.get("/model").json()
    return {"model": info["version"], "store": info["online_store"]["version"]}


def active_users(fleet: Fleet, count: int) -> list[str]:
    rows = read_all(open_store(fleet.config).current()).to_pandas()
    return rows[rows.status == "active"].user_id.head(count).tolist()


def test_a_materialize_killed_midway_leaves_the_old_version_serving(
    fleet: Fleet, replicas: list[Server]
) -> None:
    live = fleet.current()
    client = fleet.redis()
    before = set(client.keys("fleet-test:v:*"))
    command = [sys.executable, "-m", "winback.cli", "materialize", "-c", str(fleet.slow_writer)]
    process = subprocess.Popen(
        [*command, "--cutoff", NEW_CUTOFF],
        env=fleet.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    try:
        while not (written := set(client.keys("fleet-test:v:*:rows:*")) - before):
            assert process.poll() is None and time.monotonic() < deadline, "no rows written"
            time.sleep(0.005)
        client.client_pause(30_000, all=False)  # writes wait: it is caught midway
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        client.client_unpause()
    (key,) = {name.rsplit(":rows:", 1)[0] for name in written}
    assert fleet.current() == live
    assert not client.exists(f"{key}:manifest")  # never published
    stored = sum(client.hlen(name) for name in client.keys(f"{key}:rows:*"))
    assert 0 < stored < open_store(fleet.config).current().rows  # midway
    assert all(client.ttl(name) > 0 for name in client.keys(f"{key}:rows:*"))  # goes by itself
    user = active_users(fleet, 1)
    for replica in replicas:
        assert model_info(replica)["store"] == live
        with replica.client() as http:
            assert http.get("/readyz").status_code == 200
            answer = http.post("/score", json={"user_ids": user})
        assert answer.status_code == 200 and answer.json()["results"][0]["store_version"] == live


def test_a_store_the_champion_was_not_trained_for_is_refused_before_redis_changes(
    fleet: Fleet,
) -> None:
    """The train/serve skew check holds for Redis as for SQLite: nothing written, CURRENT
    where it was, one line naming the key."""
    live, keys = fleet.current(), len(fleet.redis().keys("fleet-test:*"))
    changed = fleet.folder / "changed.yaml"
    text = fleet.config_path.read_text().replace("active_window_days: 60", "active_window_days: 30")
    changed.write_text(text)
    command = [sys.executable, "-m", "winback.cli", "materialize", "-c", str(changed)]
    done = subprocess.run(command, env=fleet.env(), capture_output=True, text=True, check=False)
    message = " ".join(done.stderr.split())
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        "churn.active_window_days 60 -> 30" in message and f"CURRENT still names {live}" in message
    )
    assert "Traceback" not in done.stderr
    assert fleet.current() == live and len(fleet.redis().keys("fleet-test:*")) == keys


@dataclass
class Answer:
    user: str
    model: str
    store: str
    probability: float | None


class AlternatingLoad:
    """Two clients, each sending one-user /score requests to the replicas in turn."""

    def __init__(self, replicas: list[Server], users: list[str]) -> None:
        self.urls = [replica.url for replica in replicas]
        self.users = users
        self.answers: list[Answer] = []
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(k,)) for k in range(2)]

    def _run(self, offset: int) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        clients = [httpx.Client(base_url=url, headers=headers, timeout=30) for url in self.urls]
        i = offset
        while not self.stop.is_set():
            user = self.users[i % len(self.users)]
            try:
                response = clients[i % 2].post("/score", json={"user_ids": [user]})
                if response.status_code != 200:
                    self.failures.append(f"{response.status_code} {response.text[:200]}")
                else:
                    result = response.json()["results"][0]
                    self.answers.append(
                        Answer(
                            user,
                            result["model_version"],
                            result["store_version"],
                            result["churn_probability"],
                        )
                    )
            except httpx.HTTPError as error:
                self.failures.append(f"{type(error).__name__}: {error}")
            i += 1
            time.sleep(0.01)
        for client in clients:
            client.close()

    def __enter__(self) -> AlternatingLoad:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def _converged(replicas: list[Server], want: dict[str, str], seconds: float) -> float:
    start = time.monotonic()
    while any(model_info(replica) != want for replica in replicas):
        assert time.monotonic() - start < seconds, [model_info(r) for r in replicas]
        time.sleep(0.1)
    return time.monotonic() - start


def test_replicas_under_load_move_to_a_new_champion_and_store_together(
    fleet: Fleet, replicas: list[Server]
) -> None:
    old_model, new_model = fleet.versions
    old_store = fleet.current()
    assert all(model_info(r) == {"model": old_model, "store": old_store} for r in replicas)
    users = active_users(fleet, 40)
    with AlternatingLoad(replicas, users) as load:
        time.sleep(1.5)
        fleet.winback("promote", "--version", new_model)
        took_model = _converged(replicas, {"model": new_model, "store": old_store}, 30)
        fleet.winback("materialize", "--cutoff", NEW_CUTOFF)
        new_store = fleet.current()
        took_store = _converged(replicas, {"model": new_model, "store": new_store}, 30)
        time.sleep(1.5)
    assert load.failures == []
    # the poll interval plus loading and checking the new model or store (a busy machine)
    assert took_model < POLL_SECONDS + 8 and took_store < POLL_SECONDS + 8
    pairs = {(a.model, a.store) for a in load.answers}
    assert {(old_model, old_store), (new_model, new_store)} <= pairs
    assert pairs <= {(old_model, old_store), (new_model, old_store), (new_model, new_store)}
    expected = {pair: _scores(fleet, *pair, users) for pair in pairs}
    wrong = [
        (a, expected[(a.model, a.store)][a.user])
        for a in load.answers
        if not _same(expected[(a.model, a.store)][a.user], a.probability)
    ]
    assert wrong == [], wrong[:5]


def _same(expected: float | None, got: float | None) -> bool:
    """Equal to the last bits or so: numpy's vector kernels may round a batch's last ulp
    differently (a different pair differs in the second decimal)."""
    if expected is None or got is None:
        return expected is got
    return math.isclose(expected, got, rel_tol=1e-12)


def _scores(fleet: Fleet, model: str, store: str, users: list[str]) -> dict[str, float | None]:
    """Each user's probability from exactly this (model, store) pair, computed here one user
    at a time, as the load asked."""
    opened = open_store(fleet.config)
    assert isinstance(opened, RedisStore)
    manifest = opened.client.get(f"{opened.prefix}:v:{store}:manifest")
    assert manifest is not None, f"store version {store} is gone"
    tracking = resolve_store(fleet.config, environ=fleet.env())
    pair = Serving(
        load_version(tracking, NAME, model), NAME, model, opened.open(parse_manifest(manifest))
    )
    return {user: score_users(pair, [user])[0]["churn_probability"] for user in users}


def test_the_redis_store_scores_exactly_as_the_sqlite_store(fleet: Fleet) -> None:
    """Same users, same champion, the same cutoff materialized into each store."""
    live = open_store(fleet.config).current()
    fleet.winback("materialize", "--cutoff", live.cutoff, config=fleet.sqlite_config)
    sides = []
    for config in (fleet.config, load_config(fleet.sqlite_config)):
        tracking = resolve_store(config, environ=fleet.env())
        source = ServingSource(tracking, NAME, open_store(config))
        source.refresh()
        assert source.current is not None
        sides.append(source.current)
    on_redis, on_sqlite = sides
    assert on_redis.version == on_sqlite.version and on_redis.store.version.version == live.version
    users = read_all(on_sqlite.store.version).to_pandas().user_id.tolist()
    assert len(users) == live.rows == on_sqlite.store.version.rows
    for start in range(0, len(users), 250):
        chunk = [*users[start : start + 250], "no-such-user"]
        ours, theirs = score_users(on_redis, chunk), score_users(on_sqlite, chunk)
        assert [_unstored(r) for r in ours] == [_unstored(r) for r in theirs]
        looked_up = on_redis.store.lookup(chunk), on_sqlite.store.lookup(chunk)
        frames = [pd.DataFrame(rows).set_index("user_id").sort_index() for rows in looked_up]
        pd.testing.assert_frame_equal(frames[0], frames[1])


def _unstored(result: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in result.items() if key != "store_version"}


def test_the_built_bento_serves_the_registry_champion(fleet: Fleet, tmp_path: Path) -> None:
    """`bentoml build` from bentofile.yaml, then the Bento served as BentoML serves it: no
    model inside, the champion pulled from the registry at start, /readyz answers 200."""
    env = {**fleet.env(), "BENTOML_HOME": str(tmp_path / "bentoml"), "BENTOML_DO_NOT_TRACK": "1"}
    bentoml = [sys.executable, "-m", "bentoml"]
    built = subprocess.run(
        [*bentoml, "build", "-f", "bentofile.yaml", "--output", "tag", "."],
        cwd=REPO, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    tag = built.stdout.strip().splitlines()[-1].removeprefix("__tag__:")
    name, version = tag.split(":")
    source = tmp_path / "bentoml" / "bentos" / name / version / "src"
    assert (source / "serving" / "service.py").is_file()
    assert not list(source.rglob("*.txt")) and not (source / "tests").exists()  # no model
    port = free_port()
    log = tmp_path / "bento.log"
    env.update({"WINBACK_CONFIG": str(fleet.config_path), TOKEN_ENV: TOKEN})
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*bentoml, "serve", tag, "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp_path, env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, process)
        server = Server(url, fleet.config, fleet.config_path, process)
        assert model_info(server) == {
            "model": champion_version(fleet.tracking, NAME),
            "store": fleet.current(),
        }
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
