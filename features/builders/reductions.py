"""Reductions over a user's past days that several families share."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from features.timeline import AGE, CUTOFF_TS, days_between


def in_window(past: ir.Table, newest: int, oldest: int) -> ir.BooleanValue:
    """Days `newest`..`oldest` before the cutoff (1 = the day before T)."""
    return (past[AGE] >= newest) & (past[AGE] <= oldest)


def window_sum(past: ir.Table, column: str, days: int, skip: int = 0) -> ir.NumericValue:
    """Sum of a daily count over the `days` days before T (after skipping the newest `skip`)."""
    total = past[column].sum(where=in_window(past, skip + 1, skip + days))
    return total.fill_null(0)


def active_days(past: ir.Table, days: int, skip: int = 0) -> ir.IntegerValue:
    return past.count(where=in_window(past, skip + 1, skip + days))


def ratio(numerator: ir.NumericValue, denominator: ir.NumericValue) -> ir.FloatingValue:
    """Null, not infinity, when there is nothing to divide by."""
    return ibis.ifelse(denominator == 0, ibis.null("float64"), numerator / denominator)


def days_since(past: ir.Table, ts: ir.TimestampValue) -> ir.FloatingValue:
    """Days from a (reduced) timestamp to the cutoff of the group."""
    return days_between(past[CUTOFF_TS].max(), ts)
