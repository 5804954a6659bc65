"""The online feature store: latest features per user, for lookups by id and for batch scoring.

One materialization writes the same Arrow table twice: rows keyed by user id (point lookups
for the service) and Parquet (fast full scans for batch scoring), each version in its own
folder with a manifest, and one `CURRENT` pointer names the live version, replaced
atomically, so a reader never sees a half-written store. A version can be written without
going live, checked, then published or discarded.

Where the rows and `CURRENT` live is a `Store`: the embedded default here (a SQLite file per
version, `CURRENT` a file), or Redis (`serving.redis_store`) shared by several replicas;
`serving.stores.open_store` picks one from the config. The Parquet copy and the manifest stay
in the workdir either way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable, Hashable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.config import DatasetConfig, WinbackError
from features.definition import FeatureDefinition
from features.spec import Feature
from features.status import ACTIVE, LABEL, STATUS

TABLE = "features"
KEY = "user_id"
CURRENT = "CURRENT"


class StoreError(WinbackError):
    """The online store is missing or does not match what is asked of it."""


class NoStoreError(StoreError):
    """The store answered: no version has been published yet."""


class PairError(WinbackError):
    """A model and store that do not work together (or a store version that cannot be read):
    refused, or no longer ready."""


@dataclass(frozen=True)
class StoreVersion:
    """What a materialization wrote, recorded beside it as manifest.json."""

    version: str
    cutoff: str
    rows: int
    feature_set: str
    features: list[str]
    created: str
    folder: str
    # None in manifests written before they were recorded
    definition: FeatureDefinition | None = None
    statuses: dict[str, int] | None = None  # users per status at the cutoff
    redis_key: str | None = None  # Redis stores: the prefix of this version's keys
    buckets: int | None = None  # Redis stores: how many hashes the rows are spread over

    @property
    def active(self) -> int | None:
        return None if self.statuses is None else self.statuses.get(ACTIVE, 0)

    @property
    def sqlite_path(self) -> Path:
        return Path(self.folder) / "store.sqlite"

    @property
    def parquet_path(self) -> Path:
        return Path(self.folder) / "features.parquet"


def store_root(config: DatasetConfig) -> Path:
    return config.workdir_path / "online"


def open_store(config: DatasetConfig) -> Store:
    """The store `serving.store` names; Redis's client is imported only when it is asked for."""
    settings = config.serving.store
    if settings.kind == "redis":
        from serving.redis_store import RedisStore

        return RedisStore(
            store_root(config), settings, settings.key_prefix or f"winback:{config.name}"
        )
    return SqliteStore(store_root(config))


def feature_set_version(catalog: Sequence[Feature]) -> str:
    """Changes whenever a feature's name, kind or meaning changes: models check it at load."""
    text = json.dumps([[f.name, f.kind, f.unit, f.description] for f in catalog])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _write_sqlite(table: pa.Table, path: Path) -> None:
    names = table.column_names
    columns = ", ".join(
        f'"{name}"' + (" TEXT PRIMARY KEY" if name == KEY else "") for name in names
    )
    with sqlite3.connect(path) as con:
        con.execute(f"CREATE TABLE {TABLE} ({columns}) WITHOUT ROWID")
        placeholders = ", ".join("?" for _ in names)
        for batch in table.to_batches(max_chunksize=50_000):
            rows = zip(*(column.to_pylist() for column in batch.columns), strict=True)
            con.executemany(f"INSERT INTO {TABLE} VALUES ({placeholders})", rows)


def _statuses(table: pa.Table) -> dict[str, int] | None:
    if STATUS not in table.column_names:
        return None
    counts = pc.value_counts(table[STATUS]).to_pylist()
    return dict(sorted((str(item["values"]), int(item["counts"])) for item in counts))


def manifest_text(manifest: StoreVersion) -> str:
    data = asdict(manifest)
    definition = manifest.definition
    data["definition"] = None if definition is None else definition.model_dump()
    return json.dumps(data, indent=2)


def parse_manifest(text: str) -> StoreVersion:
    data = json.loads(text)
    definition = data.pop("definition", None)
    parsed = None if definition is None else FeatureDefinition.model_validate(definition)
    return StoreVersion(**data, definition=parsed)


def read_manifest(folder: Path) -> StoreVersion:
    """The folder it was read from wins over the one it records: a workdir moved or restored
    elsewhere serves its own files, never the ones left where it was written."""
    return replace(parse_manifest((folder / "manifest.json").read_text()), folder=str(folder))


def new_version(
    root: Path,
    table: pa.Table,
    cutoff: dt.date,
    catalog: Sequence[Feature],
    definition: FeatureDefinition | None = None,
) -> tuple[pa.Table, StoreVersion]:
    """A new version's folder with its Parquet copy, and the table as its rows are stored
    (no label, cutoff as text); the manifest is written by `write_manifest` once the rows are."""
    table = table.drop_columns([LABEL]) if LABEL in table.column_names else table
    table = table.set_column(
        table.column_names.index("cutoff"), "cutoff", table["cutoff"].cast(pa.string())
    )
    created = dt.datetime.now(dt.UTC).replace(microsecond=0)
    version = f"{cutoff:%Y%m%d}-{created:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    folder = root / version
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "features.parquet")
    manifest = StoreVersion(
        version=version,
        cutoff=cutoff.isoformat(),
        rows=table.num_rows,
        feature_set=feature_set_version(catalog),
        features=[feature.name for feature in catalog],
        created=created.isoformat(),
        folder=str(folder),
        definition=definition,
        statuses=_statuses(table),
    )
    return table, manifest


def write_manifest(manifest: StoreVersion) -> None:
    (Path(manifest.folder) / "manifest.json").write_text(manifest_text(manifest))


def write_version(
    root: Path,
    table: pa.Table,
    cutoff: dt.date,
    catalog: Sequence[Feature],
    definition: FeatureDefinition | None = None,
    publish: bool = True,
) -> StoreVersion:
    """Write a new SQLite store version; make it current unless `publish` is False."""
    rows, manifest = new_version(root, table, cutoff, catalog, definition)
    _write_sqlite(rows, manifest.sqlite_path)
    write_manifest(manifest)
    if publish:
        make_current(root, manifest)
    return manifest


def make_current(root: Path, version: StoreVersion) -> None:
    """Point `CURRENT` at a written version, atomically."""
    pointer = root / f".{CURRENT}.{uuid.uuid4().hex}"
    pointer.write_text(version.version)
    os.replace(pointer, root / CURRENT)


def discard(version: StoreVersion) -> None:
    """Remove a version that was written but never published."""
    shutil.rmtree(version.folder)


def current_version(root: Path) -> StoreVersion:
    try:
        version = (root / CURRENT).read_text().strip()
        return read_manifest(root / version)
    except FileNotFoundError:
        raise NoStoreError(
            f"{root}: no online store yet; run `winback materialize --config ...` first"
        ) from None


def version_as_of(root: Path, day: dt.date) -> StoreVersion:
    """The store version a campaign on `day` was built on: the newest written at the latest
    cutoff on or before it. Versions of one cutoff and definition hold the same features (they
    see only events before the cutoff), so any of them gives what the campaign saw."""
    found = []
    for manifest in root.glob("*/manifest.json"):
        try:
            version = read_manifest(manifest.parent)
        except (OSError, ValueError, TypeError):
            continue
        if dt.date.fromisoformat(version.cutoff) <= day:
            found.append(version)
    if not found:
        raise StoreError(
            f"{root}: no online-store version with a cutoff on or before {day}; "
            f"materialize one with `winback materialize --cutoff {day}`"
        )
    return max(found, key=lambda v: (v.cutoff, v.created, v.version))


Stamp = Hashable  # changes when a version's rows were rewritten or removed in place


class StoreRows(Protocol):
    """One store version opened for the service's lookups; thread-safe for its workers."""

    version: StoreVersion

    def lookup(self, user_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Columns by name for the known ids (unknown ids are simply absent), in no
        particular order, as plain object arrays: one round trip to wherever the rows are."""
        ...

    def stamp(self) -> Stamp:
        """Cheap; `PairError` if the version's rows are gone."""
        ...

    def first_user(self, *, thorough: bool, seconds: float) -> str:
        """One stored user id; `thorough` also checks every stored row can be read (a
        candidate's one-off cost). `PairError` if not, or if it takes over `seconds`."""
        ...

    def close(self) -> None: ...


Progress = Callable[[str], None]


class Store(Protocol):
    """Where versions live and which one is live (`CURRENT`)."""

    root: Path  # the workdir folder of the versions' Parquet copies and manifests

    def current(self) -> StoreVersion:
        """The live version; `StoreError` if there is none."""
        ...

    def write(
        self,
        table: pa.Table,
        cutoff: dt.date,
        catalog: Sequence[Feature],
        definition: FeatureDefinition | None = None,
        progress: Progress | None = None,
    ) -> StoreVersion:
        """A new version, written whole but not live."""
        ...

    def publish(self, version: StoreVersion) -> None:
        """Make a written version live in one atomic step."""
        ...

    def discard(self, version: StoreVersion) -> None:
        """Remove a version that was written but never published."""
        ...

    def open(self, version: StoreVersion) -> StoreRows: ...


class SqliteStore:
    """The embedded default: a SQLite file per version under the workdir, `CURRENT` a file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def current(self) -> StoreVersion:
        return current_version(self.root)

    def write(
        self,
        table: pa.Table,
        cutoff: dt.date,
        catalog: Sequence[Feature],
        definition: FeatureDefinition | None = None,
        progress: Progress | None = None,
    ) -> StoreVersion:
        return write_version(self.root, table, cutoff, catalog, definition, publish=False)

    def publish(self, version: StoreVersion) -> None:
        make_current(self.root, version)

    def discard(self, version: StoreVersion) -> None:
        discard(version)

    def open(self, version: StoreVersion) -> OnlineStore:
        return OnlineStore(version)


class OnlineStore:
    """Read-only lookups against one SQLite store version; thread-safe for the service's
    workers."""

    def __init__(self, version: StoreVersion) -> None:
        self.version = version
        uri = f"file:{version.sqlite_path}?mode=ro&immutable=1"
        self._con = sqlite3.connect(uri, uri=True, check_same_thread=False)

    def lookup(self, user_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Plain object arrays, not a DataFrame: building one costs more than the lookup and
        the scoring of a request's few users together."""
        placeholders = ", ".join("?" for _ in user_ids) or "NULL"
        query = f"SELECT * FROM {TABLE} WHERE {KEY} IN ({placeholders})"
        cursor = self._con.execute(query, list(user_ids))
        names = [description[0] for description in cursor.description]
        rows = cursor.fetchall()
        values = list(zip(*rows, strict=True)) if rows else [()] * len(names)
        return {name: object_array(column) for name, column in zip(names, values, strict=True)}

    def stamp(self) -> Stamp:
        return file_stamp(self.version.sqlite_path)

    def first_user(self, *, thorough: bool, seconds: float) -> str:
        """Read through a connection of its own without `immutable=1` (which the lookups use
        for speed), so what is checked is what is on disk now; `thorough` runs SQLite's
        quick_check over every page, so damage anywhere in the file is found, not only
        where a lookup happens to read."""
        path = self.version.sqlite_path
        deadline = time.monotonic() + seconds
        try:
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=seconds)
        except sqlite3.Error as error:
            raise PairError(f"online store file {path}: {error}") from None
        try:
            con.set_progress_handler(lambda: time.monotonic() > deadline, SQLITE_STEPS)
            if thorough:
                verdict = [row[0] for row in con.execute("PRAGMA quick_check")]
                if verdict != ["ok"]:
                    problems = "; ".join(verdict[:3])
                    raise PairError(f"online store file {path} is damaged: {problems}")
            row = con.execute(f"SELECT {KEY} FROM {TABLE} LIMIT 1").fetchone()
        except sqlite3.Error as error:
            late = " (timed out)" if time.monotonic() > deadline else ""
            raise PairError(f"online store file {path} is unreadable{late}: {error}") from None
        finally:
            con.close()
        if row is None or not isinstance(row[0], str):
            raise PairError(f"online store file {path} holds no users")
        return row[0]

    def close(self) -> None:
        self._con.close()


SQLITE_STEPS = 1000  # progress-handler granularity (VM instructions between deadline checks)


def file_stamp(path: Path) -> tuple[int, int, int]:
    """Inode, size and mtime in ns: changes when the file is rewritten or replaced."""
    try:
        found = path.stat()
    except OSError as error:
        raise PairError(f"online store file {path}: {error.strerror or error}") from None
    return (found.st_ino, found.st_size, found.st_mtime_ns)


def object_array(values: Sequence[object]) -> np.ndarray:
    """A 1-D object array of exactly these values (np.array would nest tuples or guess types)."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def read_all(version: StoreVersion) -> pa.Table:
    """Every user in the version, for batch scoring."""
    return pq.read_table(version.parquet_path)


def all_rows(version: StoreVersion) -> pd.DataFrame:
    """`read_all` as pandas; each Arrow column is freed once converted, so the store is
    never held twice."""
    return read_all(version).to_pandas(self_destruct=True, split_blocks=True)
