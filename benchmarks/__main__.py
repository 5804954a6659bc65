"""`python -m benchmarks` runs every benchmark; `python -m benchmarks features --small` one."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from benchmarks import (
    bench_cli,
    bench_cycle,
    bench_features,
    bench_fleet,
    bench_generator,
    bench_monitor,
    bench_score,
    bench_serving,
    bench_soak,
    bench_spark,
    bench_training,
    bench_ui,
)

BENCHMARKS: dict[str, Callable[..., int]] = {
    "features": bench_features.main,
    "generator": bench_generator.main,
    "training": bench_training.main,
    "serving": bench_serving.main,
    "soak": bench_soak.main,
    "spark": bench_spark.main,
    "cli": bench_cli.main,
    "monitor": bench_monitor.main,
    "fleet": bench_fleet.main,
    "ui": bench_ui.main,
    "cycle": bench_cycle.main,
    "score": bench_score.main,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("name", nargs="?", choices=sorted(BENCHMARKS), help="default: all")
    parser.add_argument("--small", action="store_true", help="a quick run on a small log")
    parser.add_argument("--runs", type=int, default=2, help="runs per approach (best is kept)")
    args = parser.parse_args(argv)
    names = [args.name] if args.name else list(BENCHMARKS)
    statuses = [BENCHMARKS[name](small=args.small, runs=args.runs) for name in names]
    return max(statuses)


if __name__ == "__main__":
    sys.exit(main())
