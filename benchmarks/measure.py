"""Run one approach in this (fresh) process and report its wall time and peak memory.

A process of its own per run keeps the numbers honest: peak RSS is the high-water mark of
this approach alone (DuckDB's buffers included), and no run profits from another's caches
inside the interpreter. Imports happen before the clock starts: startup is not the work.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import resource
import sys
import time
from pathlib import Path

import psutil

MODULES = {
    "ours": "benchmarks.features_ours",
    "sql": "benchmarks.features_sql",
    "pandas": "benchmarks.features_pandas",
}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("approach", choices=sorted(MODULES))
    parser.add_argument("events", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--cutoffs", required=True, help="comma-separated ISO dates")
    parser.add_argument("--observed-until", required=True, type=dt.date.fromisoformat)
    args = parser.parse_args(argv)
    cutoffs = [dt.date.fromisoformat(day) for day in args.cutoffs.split(",")]

    module = importlib.import_module(MODULES[args.approach])
    baseline_mb = psutil.Process().memory_info().rss / 2**20
    cpu_start, start = _cpu_seconds(), time.perf_counter()
    module.run(args.events, cutoffs, args.observed_until, args.out)
    seconds = time.perf_counter() - start
    cpu_seconds = _cpu_seconds() - cpu_start  # all threads: robust to a busy machine
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    report = {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "peak_mb": peak_mb,
        "baseline_mb": baseline_mb,
    }
    print(json.dumps(report), file=sys.stdout, flush=True)


if __name__ == "__main__":
    main()
