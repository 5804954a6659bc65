"""The online store on Redis: one server shared by several service replicas.

A version's rows are JSON arrays (column order in the version's `columns` key) in hashes
keyed by user id, spread over buckets by a hash of the id, so a request's users are one
round trip (one HMGET per bucket touched, pipelined) and a version is a few keys per
thousand users to expire. Writing goes in pipelined batches, each key with a time to live
(`unpublished_seconds`), so a materialize that dies midway leaves only keys that go away by
themselves. Publishing is one MULTI/EXEC: the version's keys made permanent and `CURRENT`
switched together. Then every version past the newest `keep_versions` gets `expire_seconds`
to live: a replica still on it keeps answering until its next poll.

The Parquet copy for batch scoring and the manifest stay under the workdir, as for SQLite.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
import redis

from features.definition import FeatureDefinition
from features.spec import Feature
from serving.config import RedisStoreConfig
from serving.online_store import (
    CURRENT,
    KEY,
    NoStoreError,
    PairError,
    Progress,
    Stamp,
    StoreError,
    StoreVersion,
    manifest_text,
    new_version,
    object_array,
    parse_manifest,
    write_manifest,
)

ROWS_PER_BUCKET = 1000


def bucket_of(user_id: str, buckets: int) -> int:
    return zlib.crc32(user_id.encode()) % buckets


def _shown(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


@contextmanager
def redis_errors(url: str, doing: str) -> Iterator[None]:
    """A Redis failure becomes a `StoreError` naming the server (never its password)."""
    try:
        yield
    except redis.RedisError as error:
        raise StoreError(
            f"online store on Redis {_shown(url)} {doing}: {type(error).__name__}: {error}"
        ) from None


class RedisStore:
    """Versions in Redis under `prefix`; `CURRENT` is the key `<prefix>:CURRENT`."""

    def __init__(self, root: Path, settings: RedisStoreConfig, prefix: str) -> None:
        self.root = root
        self.settings = settings
        self.prefix = prefix
        self.client = redis.Redis.from_url(
            settings.url,
            socket_timeout=settings.timeout_seconds,
            socket_connect_timeout=settings.timeout_seconds,
            health_check_interval=30,
            decode_responses=True,
        )

    @property
    def current_key(self) -> str:
        return f"{self.prefix}:{CURRENT}"

    @property
    def versions_key(self) -> str:
        """The published versions, oldest first: what expiry counts."""
        return f"{self.prefix}:versions"

    def _version_key(self, version: str) -> str:
        return f"{self.prefix}:v:{version}"

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        with redis_errors(self.settings.url, doing):
            yield

    def current(self) -> StoreVersion:
        with self._errors("could not be read"):
            version = self.client.get(self.current_key)
            if version is None:
                raise NoStoreError(
                    f"no online store yet on Redis {_shown(self.settings.url)} (key "
                    f"{self.current_key}); run `winback materialize --config ...` first"
                )
            text = self.client.get(f"{self._version_key(str(version))}:manifest")
        if text is None:
            raise StoreError(
                f"online store on Redis: {self.current_key} names {version!s}, whose "
                "manifest is gone (expired or deleted); materialize a new version"
            )
        return parse_manifest(str(text))

    def write(
        self,
        table: pa.Table,
        cutoff: dt.date,
        catalog: Sequence[Feature],
        definition: FeatureDefinition | None = None,
        progress: Progress | None = None,
    ) -> StoreVersion:
        say = progress or (lambda _message: None)
        rows, manifest = new_version(self.root, table, cutoff, catalog, definition)
        buckets = max(1, math.ceil(rows.num_rows / ROWS_PER_BUCKET))
        key = self._version_key(manifest.version)
        manifest = replace(manifest, redis_key=key, buckets=buckets)
        ids = rows[KEY].to_pylist()
        # batches in bucket order touch few hashes each; taken one at a time, not sorted whole
        order = np.argsort([bucket_of(user_id, buckets) for user_id in ids], kind="stable")
        ttl, size, total = (
            self.settings.unpublished_seconds,
            self.settings.batch_rows,
            rows.num_rows,
        )
        with self._errors("could not be written"):
            for start in range(0, total, size):
                batch = rows.take(pa.array(order[start : start + size]))
                self._write_batch(key, batch, buckets, ttl)
                done = min(start + size, total)
                say(f"writing the online store to Redis: {done:,} of {total:,} rows")
            pipe = self.client.pipeline(transaction=False)
            pipe.set(f"{key}:columns", json.dumps(rows.column_names), ex=ttl)
            pipe.set(f"{key}:manifest", manifest_text(manifest), ex=ttl)
            pipe.execute()
        write_manifest(manifest)
        return manifest

    def _write_batch(self, key: str, batch: pa.Table, buckets: int, ttl: int) -> None:
        columns = [column.to_pylist() for column in batch.columns]
        ids = columns[batch.column_names.index(KEY)]
        grouped: dict[int, dict[str, str]] = {}
        for user_id, row in zip(ids, zip(*columns, strict=True), strict=True):
            grouped.setdefault(bucket_of(user_id, buckets), {})[user_id] = json.dumps(row)
        pipe = self.client.pipeline(transaction=True)  # no row without its time to live
        for bucket, mapping in grouped.items():
            pipe.hset(f"{key}:rows:{bucket}", mapping=mapping)  # type: ignore[arg-type]
            pipe.expire(f"{key}:rows:{bucket}", ttl)
        pipe.execute()

    def _keys(self, manifest: StoreVersion) -> list[str]:
        key = manifest.redis_key or self._version_key(manifest.version)
        rows = [f"{key}:rows:{bucket}" for bucket in range(manifest.buckets or 0)]
        return [*rows, f"{key}:columns", f"{key}:manifest"]

    def publish(self, version: StoreVersion) -> None:
        """One transaction: the version's keys kept for good and `CURRENT` switched to it;
        then versions past `keep_versions` are given `expire_seconds` to live."""
        with self._errors("could not be published"):
            pipe = self.client.pipeline(transaction=True)
            for key in self._keys(version):
                pipe.persist(key)
            pipe.set(self.current_key, version.version)
            pipe.rpush(self.versions_key, version.version)
            pipe.execute()
            self._expire_old()

    def _expire_old(self) -> None:
        published = [str(v) for v in self.client.lrange(self.versions_key, 0, -1)]
        old = published[: -self.settings.keep_versions]
        if not old:
            return
        manifests = self.client.mget([f"{self._version_key(v)}:manifest" for v in old])
        pipe = self.client.pipeline(transaction=False)
        for text in manifests:
            if text is not None:
                for key in self._keys(parse_manifest(str(text))):
                    pipe.expire(key, self.settings.expire_seconds)
        pipe.ltrim(self.versions_key, len(old), -1)
        pipe.execute()

    def discard(self, version: StoreVersion) -> None:
        with self._errors("could not be cleaned up"):
            self.client.unlink(*self._keys(version))
        shutil.rmtree(version.folder)

    def open(self, version: StoreVersion) -> RedisRows:
        with self._errors("could not be read"):
            columns = self.client.get(f"{version.redis_key}:columns")
        if columns is None or version.redis_key is None or not version.buckets:
            raise PairError(f"online store {version.version} on Redis: its rows are gone")
        return RedisRows(self, version, json.loads(columns))


class RedisRows:
    """One version's rows on Redis; thread-safe (the client's pool hands each call its own
    connection)."""

    def __init__(self, store: RedisStore, version: StoreVersion, columns: list[str]) -> None:
        self.version = version
        self._store = store
        self._client = store.client
        self._columns = columns
        self._key_index = columns.index(KEY)
        self._key = f"{version.redis_key}:rows"
        self._buckets = int(version.buckets or 1)

    def lookup(self, user_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """One round trip: one HMGET per bucket the ids fall in, pipelined; rows in id order."""
        by_bucket: dict[int, list[str]] = {}
        for user_id in dict.fromkeys(user_ids):
            by_bucket.setdefault(bucket_of(user_id, self._buckets), []).append(user_id)
        with self._store._errors("could not be read"):
            if len(by_bucket) == 1:
                ((bucket, ids),) = by_bucket.items()
                replies: list[Any] = [self._client.hmget(f"{self._key}:{bucket}", ids)]
            else:
                pipe = self._client.pipeline(transaction=False)
                for bucket, ids in by_bucket.items():
                    pipe.hmget(f"{self._key}:{bucket}", ids)
                replies = pipe.execute()
        # in id order, as SQLite answers: a batch's order can move numpy's last bits
        rows = sorted(
            (json.loads(text) for reply in replies for text in reply if text is not None),
            key=lambda row: row[self._key_index],
        )
        values = list(zip(*rows, strict=True)) if rows else [()] * len(self._columns)
        return {
            name: object_array(column) for name, column in zip(self._columns, values, strict=True)
        }

    def stamp(self) -> Stamp:
        """The version's keys are never rewritten once published, only expired or deleted."""
        with self._store._errors("could not be read"):
            if not self._client.exists(f"{self.version.redis_key}:columns"):
                raise PairError(
                    f"online store {self.version.version} on Redis: its rows are gone "
                    "(expired or deleted)"
                )
        return self.version.version

    def first_user(self, *, thorough: bool, seconds: float) -> str:
        """`thorough`: every bucket holds as many users as the manifest says. Each call is
        bounded by the store's socket timeout, not by `seconds`."""
        try:
            if thorough:
                pipe = self._client.pipeline(transaction=False)
                for bucket in range(self._buckets):
                    pipe.hlen(f"{self._key}:{bucket}")
                stored = sum(pipe.execute())
                if stored != self.version.rows:
                    raise PairError(
                        f"online store {self.version.version} on Redis holds {stored:,} users, "
                        f"its manifest {self.version.rows:,}"
                    )
            for bucket in range(self._buckets):
                found = self._client.hrandfield(f"{self._key}:{bucket}")
                if found is not None:
                    return str(found)
        except redis.RedisError as error:
            raise PairError(
                f"online store {self.version.version} on Redis is unreadable: "
                f"{type(error).__name__}: {error}"
            ) from None
        raise PairError(f"online store {self.version.version} on Redis holds no users")

    def close(self) -> None:
        """The connections belong to the store's pool, shared by every version."""
