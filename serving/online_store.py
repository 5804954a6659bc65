"""The online feature store: latest features per user, for lookups by id and for batch scoring.

One materialization writes the same Arrow table twice: SQLite keyed by user id (sub-ms point
lookups for the service) and Parquet (fast full scans for batch scoring). Versions live in
their own folders and `CURRENT` names the live one, replaced atomically, so a reader never
sees a half-written store. A version can be written without going live (`publish=False`),
checked, then published or discarded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.config import DatasetConfig, WinbackError
from features.definition import FeatureDefinition
from features.labels import ACTIVE, LABEL, STATUS
from features.spec import Feature

TABLE = "features"
KEY = "user_id"
CURRENT = "CURRENT"


class StoreError(WinbackError):
    """The online store is missing or does not match what is asked of it."""


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


def _manifest_text(manifest: StoreVersion) -> str:
    data = asdict(manifest)
    definition = manifest.definition
    data["definition"] = None if definition is None else definition.model_dump()
    return json.dumps(data, indent=2)


def read_manifest(folder: Path) -> StoreVersion:
    data = json.loads((folder / "manifest.json").read_text())
    definition = data.pop("definition", None)
    parsed = None if definition is None else FeatureDefinition.model_validate(definition)
    return StoreVersion(**data, definition=parsed)


def write_version(
    root: Path,
    table: pa.Table,
    cutoff: dt.date,
    catalog: Sequence[Feature],
    definition: FeatureDefinition | None = None,
    publish: bool = True,
) -> StoreVersion:
    """Write a new store version; make it current unless `publish` is False."""
    table = table.drop_columns([LABEL]) if LABEL in table.column_names else table
    table = table.set_column(
        table.column_names.index("cutoff"), "cutoff", table["cutoff"].cast(pa.string())
    )
    created = dt.datetime.now(dt.UTC).replace(microsecond=0)
    version = f"{cutoff:%Y%m%d}-{created:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    folder = root / version
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "features.parquet")
    _write_sqlite(table, folder / "store.sqlite")
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
    (folder / "manifest.json").write_text(_manifest_text(manifest))
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
        raise StoreError(
            f"{root}: no online store yet; run `winback materialize --config ...` first"
        ) from None


class OnlineStore:
    """Read-only lookups against one store version; thread-safe for the service's workers."""

    def __init__(self, version: StoreVersion) -> None:
        self.version = version
        uri = f"file:{version.sqlite_path}?mode=ro&immutable=1"
        self._con = sqlite3.connect(uri, uri=True, check_same_thread=False)

    def lookup(self, user_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Columns by name for the known ids (unknown ids are simply absent), in no particular
        order. Plain object arrays, not a DataFrame: building one costs more than the lookup
        and the scoring of a request's few users together."""
        placeholders = ", ".join("?" for _ in user_ids) or "NULL"
        query = f"SELECT * FROM {TABLE} WHERE {KEY} IN ({placeholders})"
        cursor = self._con.execute(query, list(user_ids))
        names = [description[0] for description in cursor.description]
        rows = cursor.fetchall()
        values = list(zip(*rows, strict=True)) if rows else [()] * len(names)
        return {name: object_array(column) for name, column in zip(names, values, strict=True)}

    def close(self) -> None:
        self._con.close()


def object_array(values: Sequence[object]) -> np.ndarray:
    """A 1-D object array of exactly these values (np.array would nest tuples or guess types)."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def read_all(version: StoreVersion) -> pa.Table:
    """Every user in the version, for batch scoring."""
    return pq.read_table(version.parquet_path)
