"""Row-level checks of a raw source: every row is either canonical or carries a reason.

Pure Ibis over the table an engine read; nothing is dropped here, so good + quarantined
always equals the input.
"""

from __future__ import annotations

import datetime as dt
import math

import ibis
import ibis.expr.types as ir

from core.config import InputError
from features.config import EventSource, FileSource, UserSource
from features.engine import SOURCE_FILE, SOURCE_ROW, Engine

REASON = "reason"
REPEAT = "repeat_kept"

REASONS: dict[str, str] = {
    "missing_user_id": "user id is empty or missing",
    "missing_timestamp": "timestamp is empty or missing",
    "bad_timestamp": "timestamp cannot be parsed (check ts_format / timezone)",
    "future_timestamp": "timestamp is later than the time of the run",
    "bad_value": "value is not a finite number",
    "negative_value": "value is negative",
    "unknown_event": "event type is not one of events.event_types",
    "duplicate": "exact copy of an earlier row",
    "duplicate_user": "user id already appeared on an earlier row of the users table",
}

_PREFIX = "__"


def source_columns(raw: ir.Table) -> list[str]:
    """Columns that came from the file (not the bookkeeping ones the engine added)."""
    return [name for name in raw.columns if name not in (SOURCE_FILE, SOURCE_ROW)]


def check_columns(raw: ir.Table, source: FileSource, mapping: dict[str, str | None]) -> None:
    """A mapped column that the file lacks is fatal: name it and list what the file has."""
    present = source_columns(raw)
    for field, column in mapping.items():
        if column is not None and column not in present:
            raise InputError(
                f"{source.path}: column {column!r} (mapped as {field}) not found; "
                f"the file has: {', '.join(present)}"
            )


def _text(value: ir.Value) -> ir.StringValue:
    """Trimmed text with empty strings as null, so 'missing' means one thing."""
    text = value.cast("string").strip()
    return ibis.ifelse(text == "", ibis.null("string"), text)


def _timestamp(value: ir.Value, source: FileSource, engine: Engine) -> ir.TimestampValue:
    kind = value.type()
    if kind.is_timestamp():
        return engine.to_utc(value, source.timezone)
    if kind.is_date():
        return value.cast("timestamp")
    return engine.parse_timestamp(_text(value), source.ts_format, source.timezone)


def _number(value: ir.Value) -> ir.FloatingValue:
    if value.type().is_numeric():
        return value.cast("float64")
    return _text(value).try_cast("float64")


def _not_finite(value: ir.FloatingValue) -> ir.BooleanValue:
    """Null, NaN or infinite; abs() == inf because Ibis 12 compiles isinf() to FALSE on PySpark."""
    return value.isnull() | value.isnan() | (value.abs() == math.inf)


def _first_reason(checks: list[tuple[ir.BooleanValue, str]]) -> ir.StringValue:
    """The first failing check names the row's reason; null means the row is good."""
    return ibis.cases(*checks, else_=ibis.null("string"))


def _mark_repeats(table: ir.Table, key: list[str], reason: str | None) -> ir.Table:
    """Flag later copies (in file order) of a key as `REPEAT`; with a reason, quarantine them."""
    order = ibis.row_number().over(
        group_by=[table[name] for name in key],
        order_by=[table[SOURCE_FILE], table[SOURCE_ROW]],
    )
    repeat = table[REASON].isnull() & (order > 0)
    if reason is None:
        return table.mutate(**{REPEAT: repeat})
    return table.mutate(
        **{REASON: ibis.ifelse(repeat, reason, table[REASON]), REPEAT: ibis.literal(False)}
    )


def flag_events(
    raw: ir.Table, source: EventSource, engine: Engine, run_time: dt.datetime
) -> ir.Table:
    """Raw rows plus canonical columns (prefixed `__`) and a `reason` (null for good rows)."""
    cols = source.columns
    check_columns(raw, source, cols.model_dump())
    user_id = _text(raw[cols.user_id])
    raw_ts = raw[cols.ts]
    ts = _timestamp(raw_ts, source, engine)
    ts_missing = raw_ts.isnull() | (_text(raw_ts).isnull() if raw_ts.type().is_string() else False)
    checks: list[tuple[ir.BooleanValue, str]] = [
        (user_id.isnull(), "missing_user_id"),
        (ts_missing, "missing_timestamp"),
        (ts.isnull(), "bad_timestamp"),
        (ts > ibis.literal(run_time, type="timestamp"), "future_timestamp"),
    ]
    value: ir.FloatingValue = ibis.null("float64")
    if cols.value is not None:
        raw_value = raw[cols.value]
        # Presence is judged on the text: Ibis's PySpark notnull() is false for NaN.
        present = _text(raw_value).notnull()
        value = _number(raw_value)
        checks.append((present & _not_finite(value), "bad_value"))
        checks.append((value < 0, "negative_value"))
    event: ir.StringValue = ibis.literal(source.default_event)
    if cols.event is not None:
        event = _text(raw[cols.event]).fill_null(source.default_event)
    if source.event_types is not None:
        checks.append((~event.isin(source.event_types), "unknown_event"))
    session: ir.StringValue = ibis.null("string")
    if cols.session_id is not None:
        session = _text(raw[cols.session_id])
    flagged = raw.mutate(
        **{
            f"{_PREFIX}user_id": user_id,
            f"{_PREFIX}ts": ts,
            f"{_PREFIX}event": event,
            f"{_PREFIX}value": value,
            f"{_PREFIX}session_id": session,
            REASON: _first_reason(checks),
        }
    )
    policy = "duplicate" if source.duplicates == "quarantine" else None
    return _mark_repeats(flagged, source_columns(raw), policy)


def flag_users(raw: ir.Table, source: UserSource, engine: Engine) -> ir.Table:
    """Users table: one row per id, signup parsed, attributes as text."""
    cols = source.columns
    mapping: dict[str, str | None] = {"user_id": cols.user_id, "signup_ts": cols.signup_ts}
    mapping.update({f"attribute {name}": name for name in cols.attributes})
    check_columns(raw, source, mapping)
    user_id = _text(raw[cols.user_id])
    checks: list[tuple[ir.BooleanValue, str]] = [(user_id.isnull(), "missing_user_id")]
    signup: ir.TimestampValue = ibis.null("timestamp")
    if cols.signup_ts is not None:
        raw_signup = raw[cols.signup_ts]
        signup = _timestamp(raw_signup, source, engine)
        checks.append((raw_signup.notnull() & signup.isnull(), "bad_timestamp"))
    flagged = raw.mutate(
        **{f"{_PREFIX}user_id": user_id, f"{_PREFIX}signup_ts": signup},
        **{f"{_PREFIX}{name}": _text(raw[name]) for name in cols.attributes},
        **{REASON: _first_reason(checks)},
    )
    return _mark_repeats(flagged, [f"{_PREFIX}user_id"], "duplicate_user")


def good_rows(flagged: ir.Table) -> ir.Table:
    """The canonical table: good rows, canonical names, nothing else."""
    names = [name for name in flagged.columns if name.startswith(_PREFIX)]
    good = flagged.filter(flagged[REASON].isnull())
    return good.select(**{name.removeprefix(_PREFIX): good[name] for name in names})


def quarantined_rows(flagged: ir.Table, raw_columns: list[str]) -> ir.Table:
    """Bad rows as they were in the file (text), with where they came from and why."""
    bad = flagged.filter(flagged[REASON].notnull())
    return bad.select(
        bad[SOURCE_FILE],
        bad[SOURCE_ROW],
        bad[REASON],
        *[bad[name].cast("string").name(name) for name in raw_columns],
    )


CANONICAL_EVENT_COLUMNS = ("user_id", "ts", "event", "value", "session_id")
_SEEN = "__seen_"


def mark_seen(
    flagged: ir.Table, earlier: ir.Table, since: dt.datetime, until: dt.datetime, keep: bool
) -> ir.Table:
    """Rows of new source files that equal an already validated row (`earlier`, canonical)
    in every canonical field are repeats of it, as a later copy of a row within the files
    is: quarantined as `duplicate`, or kept and counted (`keep`).

    Only earlier rows with ts in [since, until] (the new good rows' span) can match, so the
    scan of the earlier Parquet skips the row groups outside it."""
    window = earlier.filter(earlier.ts >= since, earlier.ts <= until)
    seen = window.select(
        **{f"{_SEEN}{name}": window[name] for name in CANONICAL_EVENT_COLUMNS}
    ).distinct()
    match = [
        flagged[f"{_PREFIX}{name}"].identical_to(seen[f"{_SEEN}{name}"])
        for name in CANONICAL_EVENT_COLUMNS
    ]
    joined = flagged.left_join(seen, match)
    repeat = joined[REASON].isnull() & joined[f"{_SEEN}user_id"].notnull()
    marked = (
        joined.mutate(**{REPEAT: joined[REPEAT] | repeat})
        if keep
        else joined.mutate(**{REASON: ibis.ifelse(repeat, "duplicate", joined[REASON])})
    )
    return marked.drop(*(f"{_SEEN}{name}" for name in CANONICAL_EVENT_COLUMNS))
