"""The Redis store against a real redis-server: the same rows as the SQLite store, versions
that go live in one step, expire past the count kept, and say clearly when they are gone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import redis

from serving.config import RedisStoreConfig
from serving.online_store import NoStoreError, PairError, SqliteStore, StoreError
from serving.redis_store import RedisStore, bucket_of
from tests.serving.test_online_store import CATALOG, DEFINITION

pytestmark = pytest.mark.integration

DAY = dt.date(2024, 3, 1)


def table(users: int, offset: float = 0.0) -> pa.Table:
    ids = [f"u{i:05d}" for i in range(users)]
    return pa.table(
        {
            "user_id": ids,
            "cutoff": pa.array([DAY] * users),
            "status": ["active" if i % 3 else "lapsed" for i in range(users)],
            "label": pa.array([None] * users, pa.int8()),
            "recency_days": [None if i % 7 == 0 else i / 3 + offset for i in range(users)],
            "events_30d": list(range(users)),
            "plan": [None if i % 5 == 0 else f"plan-{i % 4}" for i in range(users)],
        }
    )


@pytest.fixture
def store(redis_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> RedisStore:
    settings = RedisStoreConfig(kind="redis", url=redis_url, keep_versions=2, batch_rows=700)
    return RedisStore(tmp_path / "online", settings, f"test:{request.node.name}")


def client(store: RedisStore) -> redis.Redis:
    return store.client


def test_lookups_return_exactly_what_the_sqlite_store_returns(
    store: RedisStore, tmp_path: Path
) -> None:
    rows = table(2500)  # three buckets, several batches
    sqlite = SqliteStore(tmp_path / "sqlite")
    versions = [s.write(rows, DAY, CATALOG, DEFINITION) for s in (store, sqlite)]
    for s, version in zip((store, sqlite), versions, strict=True):
        s.publish(version)
    ours, theirs = store.open(store.current()), sqlite.open(sqlite.current())
    asked = ["u02499", "nobody", "u00000", "u01234", "u00007", "u00007"]
    for ids in (asked, [f"u{i:05d}" for i in range(0, 2500, 3)], ["nobody"], []):
        got, want = ours.lookup(ids), theirs.lookup(ids)
        assert list(got) == list(want)
        for name in want:
            assert got[name].tolist() == want[name].tolist(), name
    frame = pd.DataFrame(ours.lookup(asked))
    assert frame.user_id.tolist() == ["u00000", "u00007", "u01234", "u02499"]  # id order
    assert "label" not in frame and frame.cutoff.tolist() == ["2024-03-01"] * 4
    assert ours.first_user(thorough=True, seconds=5).startswith("u")
    assert store.current().definition == DEFINITION and store.current().buckets == 3


def test_nothing_is_live_until_published_and_unpublished_keys_expire(store: RedisStore) -> None:
    with pytest.raises(NoStoreError, match="run `winback materialize"):
        store.current()
    first = store.write(table(10), DAY, CATALOG)
    with pytest.raises(NoStoreError):
        store.current()
    keys = client(store).keys(f"{first.redis_key}:*")
    assert keys and all(0 < client(store).ttl(key) <= 86_400 for key in keys)
    store.publish(first)
    assert store.current() == first
    assert all(client(store).ttl(key) == -1 for key in keys)  # kept for good
    held = store.write(table(20), DAY, CATALOG)
    assert store.current() == first
    store.discard(held)
    assert not client(store).keys(f"{held.redis_key}:*") and not Path(held.folder).exists()


def test_versions_past_the_count_kept_expire_and_then_read_as_gone(store: RedisStore) -> None:
    written = []
    for offset in range(3):
        version = store.write(table(10, offset), DAY, CATALOG)
        store.publish(version)
        written.append(version)
    oldest, kept = written[0], written[1:]
    assert all(
        0 < client(store).ttl(key) <= 3600 for key in client(store).keys(f"{oldest.redis_key}:*")
    )
    for version in kept:
        assert all(
            client(store).ttl(key) == -1 for key in client(store).keys(f"{version.redis_key}:*")
        )
    opened = store.open(oldest)
    assert opened.stamp() == oldest.version
    client(store).delete(*client(store).keys(f"{oldest.redis_key}:*"))  # as expiry does
    with pytest.raises(PairError, match="gone"):
        opened.stamp()
    with pytest.raises(PairError, match="gone"):
        store.open(oldest)


def test_a_version_missing_rows_fails_the_thorough_check(store: RedisStore) -> None:
    version = store.write(table(1500), DAY, CATALOG)
    store.publish(version)
    for user in ("u00001", "u00002"):
        client(store).hdel(f"{version.redis_key}:rows:{bucket_of(user, 2)}", user)
    opened = store.open(version)
    opened.first_user(thorough=False, seconds=1)
    with pytest.raises(PairError, match="holds 1,498 users, its manifest 1,500"):
        opened.first_user(thorough=True, seconds=1)


def test_an_unreachable_server_is_a_store_error_without_the_password(tmp_path: Path) -> None:
    settings = RedisStoreConfig(
        kind="redis", url="redis://:hunter2@127.0.0.1:1/0", timeout_seconds=0.5
    )
    store = RedisStore(tmp_path, settings, "nowhere")
    with pytest.raises(StoreError, match=r"redis://127\.0\.0\.1:1/0 could not be read") as error:
        store.current()
    assert "hunter2" not in str(error.value)
