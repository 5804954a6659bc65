"""Write one store version of a Parquet table's rows and publish it, in this (fresh) process;
print one JSON line with the write's own time. `benchmarks.launch` around it measures the
whole process (wall, CPU, peak RSS).

`python -m benchmarks.store_write sqlite|redis TABLE.parquet CONFIG ROOT [REDIS_URL]`
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

from core.config import load_config
from features.snapshots import catalog
from features.spec import feature_set
from serving.config import RedisStoreConfig
from serving.online_store import SqliteStore, Store
from serving.redis_store import RedisStore

REDIS_PREFIX = "bench-write"


def main(argv: list[str]) -> int:
    kind, table_path, config_path, root = argv[:4]
    config = load_config(Path(config_path))
    store: Store
    if kind == "redis":
        settings = RedisStoreConfig(kind="redis", url=argv[4])
        store = RedisStore(Path(root), settings, REDIS_PREFIX)
    else:
        store = SqliteStore(Path(root))
    start = time.perf_counter()
    table = pq.read_table(table_path)
    read = time.perf_counter() - start
    cutoff = dt.date.fromisoformat(table["cutoff"][0].as_py())
    features = catalog(feature_set(config))
    start = time.perf_counter()
    version = store.write(table, cutoff, features)
    store.publish(version)
    seconds = time.perf_counter() - start
    report = {"rows": version.rows, "read_s": read, "write_s": seconds}
    print(json.dumps({**report, "rows_per_s": version.rows / seconds}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
