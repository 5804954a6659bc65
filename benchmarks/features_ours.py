"""Our build, run exactly as the pipeline runs it: Ibis on DuckDB, written by the engine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import ibis.expr.types as ir

from benchmarks.data import CHURN, SPEC
from features.engine import DuckDBEngine
from features.snapshots import build_snapshots


def expression(
    engine: DuckDBEngine, events: Path, cutoffs: Sequence[dt.date], until: dt.date
) -> ir.Table:
    """The snapshot expression over the events file, exactly as the pipeline builds it."""
    table = engine.con.read_parquet(str(events))
    return build_snapshots(table, None, cutoffs, SPEC, CHURN, until)


def run(events: Path, cutoffs: Sequence[dt.date], observed_until: dt.date, out: Path) -> None:
    engine = DuckDBEngine()
    engine.write_parquet(expression(engine, events, cutoffs, observed_until), out)
