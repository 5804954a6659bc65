"""Are two snapshot tables the same table? Benchmarks compare like with like, or say so.

The reference schema is the Ibis schema of our build, so every approach must produce the
same columns in the same order, each losslessly castable to the declared type; then, sorted
by user and cutoff, integers, strings and dates must be equal, floats equal to a relative
1e-9 (summation order differs between engines), and nulls in the same places.
"""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from benchmarks.data import CHURN, SPEC
from features.schema import EVENTS
from features.snapshots import KEYS, build_snapshots

RTOL = 1e-9
ATOL = 1e-9  # differences of two sums (value_trend_diff) can be ~1e-12 around zero
SHOWN = 3


def reference_schema() -> pa.Schema:
    """What our build declares, read off the expression on an unbound events table."""
    day = dt.date(2000, 1, 1)
    events = ibis.table(EVENTS, name="events")
    expr = build_snapshots(events, None, [day], SPEC, CHURN, day)
    return expr.schema().to_pyarrow()


def type_drift(table: pa.Table, schema: pa.Schema) -> list[str]:
    """Columns written with another type than declared (values may still compare equal).

    Worth knowing on its own: DuckDB sums integers into HUGEINT, which Parquet stores as
    DOUBLE, so a count declared int64 can reach readers of the file as a float.
    """
    same = {(pa.string(), pa.large_string()), (pa.large_string(), pa.string())}
    drift = []
    for field in schema:
        if field.name not in table.column_names:
            continue
        written = table.schema.field(field.name).type
        if written != field.type and (written, field.type) not in same:
            drift.append(f"{field.name}: declared {field.type}, written {written}")
    return drift


def conform(table: pa.Table, schema: pa.Schema, name: str) -> tuple[pa.Table | None, list[str]]:
    """`table` in the reference column order and types, or the reasons it cannot be."""
    if table.column_names != schema.names:
        missing = [c for c in schema.names if c not in table.column_names]
        extra = [c for c in table.column_names if c not in schema.names]
        return None, [f"{name}: columns differ (missing {missing}, extra {extra}, or order)"]
    problems: list[str] = []
    columns = []
    for field in schema:
        column = table[field.name]
        try:
            columns.append(column.cast(field.type, safe=True))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            problems.append(f"{name}.{field.name}: {column.type} is not {field.type} ({error})")
    if problems:
        return None, problems
    conformed = pa.table(columns, schema=schema.remove_metadata())
    return conformed.sort_by([(key, "ascending") for key in KEYS]), []


def _examples(keys: pa.Table, rows: np.ndarray, left: pa.Array, right: pa.Array) -> str:
    shown = []
    for row in rows[:SHOWN]:
        key = tuple(keys[k][int(row)].as_py() for k in KEYS)
        shown.append(f"{key}: {left[int(row)].as_py()!r} vs {right[int(row)].as_py()!r}")
    return "; ".join(shown)


def _differing_rows(left: pa.Array, right: pa.Array) -> np.ndarray:
    left_null = left.is_null().to_numpy(zero_copy_only=False)
    right_null = right.is_null().to_numpy(zero_copy_only=False)
    if pa.types.is_floating(left.type):
        a = left.fill_null(0.0).to_numpy(zero_copy_only=False)
        b = right.fill_null(0.0).to_numpy(zero_copy_only=False)
        both_nan = np.isnan(a) & np.isnan(b)
        with np.errstate(invalid="ignore"):
            close = np.abs(a - b) <= RTOL * np.maximum(np.abs(a), np.abs(b)) + ATOL
        differ = ~(close | both_nan)
    else:
        differ = ~pc.fill_null(pc.equal(left, right), True).to_numpy(zero_copy_only=False)
    return np.flatnonzero((left_null != right_null) | (differ & ~left_null & ~right_null))


def differences(expected: pa.Table, actual: pa.Table, name: str) -> list[str]:
    """Every way `actual` differs from `expected` (our build's output); empty means equal."""
    schema = reference_schema()
    reference, problems = conform(expected, schema, "ours")
    candidate, more = conform(actual, schema, name)
    problems += more
    if reference is None or candidate is None:
        return problems
    if reference.num_rows != candidate.num_rows:
        return [f"{name}: {candidate.num_rows} rows, ours has {reference.num_rows}"]
    for key in KEYS:
        if not reference[key].equals(candidate[key]):
            return [f"{name}: the (user_id, cutoff) rows differ from ours"]
    for field in schema:
        if field.name in KEYS:
            continue
        left = reference[field.name].combine_chunks()
        right = candidate[field.name].combine_chunks()
        rows = _differing_rows(left, right)
        if rows.size:
            detail = _examples(reference, rows, left, right)
            problems.append(f"{name}.{field.name}: {rows.size} rows differ, e.g. {detail}")
    return problems
