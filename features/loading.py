"""Source files -> validated canonical Parquet in the workdir, plus quarantine and a report.

Validation runs once per change of the source files or their config; later steps read the
canonical Parquet, which is typed and small, instead of re-parsing text.

A log that grows by new files (a daily export into a folder the events glob names) is
validated by what is new: when every file validated before is still there unchanged and the
way they are read has not changed, only the new files are read, into a canonical part of
their own (`data/events-parts/`, quarantine beside it), and a row equal in every canonical
field to one validated before is a `duplicate` of it. Anything else (a file changed or gone,
another config or engine) validates everything again. DuckDB only; Spark always reads all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import ibis.expr.types as ir

from core.config import DatasetConfig, InputError
from features.config import FileSource
from features.engine import Engine, expand_paths
from features.validation import (
    REASON,
    REPEAT,
    flag_events,
    flag_users,
    good_rows,
    mark_seen,
    quarantined_rows,
    source_columns,
)

Progress = Callable[[str], None]
FileStamp = tuple[str, int, int]  # path, size, mtime in ns
PARTS = "events-parts"


@dataclass(frozen=True)
class SourceReport:
    """What happened to one source: a person reads this to trust (or not) the run."""

    source: str
    rows_read: int
    rows_good: int
    quarantined: dict[str, int]
    output: str
    quarantine: str
    users: int | None = None
    first_ts: str | None = None
    last_ts: str | None = None
    repeats_kept: int = 0
    parts: list[str] = field(default_factory=list)  # canonical rows of files added later
    quarantine_parts: list[str] = field(default_factory=list)

    @property
    def rows_quarantined(self) -> int:
        return sum(self.quarantined.values())

    @property
    def outputs(self) -> list[str]:
        """Every canonical file: the first validation's, then one per increment."""
        return [self.output, *self.parts]


@dataclass(frozen=True)
class Prepared:
    events: SourceReport
    users: SourceReport | None
    run_time: str
    fingerprint: str
    reused: bool = field(default=False, compare=False)
    events_key: str = ""  # how the events are read: their config and the engine
    event_files: list[FileStamp] = field(default_factory=list)  # validated so far
    users_fingerprint: str = ""
    # What this call validated when it only added new files (not written to the report).
    increment: SourceReport | None = field(default=None, compare=False)

    @property
    def events_path(self) -> Path:
        return Path(self.events.output)

    @property
    def users_path(self) -> Path | None:
        return None if self.users is None else Path(self.users.output)


def data_dir(config: DatasetConfig) -> Path:
    return config.workdir_path / "data"


def _stamps(source: FileSource) -> list[FileStamp]:
    stamps = []
    for name in expand_paths(source.path):
        stat = os.stat(name)
        stamps.append((name, stat.st_size, stat.st_mtime_ns))
    return stamps


def _source_key(source: FileSource, engine: Engine) -> str:
    """Changes when how a source is read changes: its config, or the engine that reads it
    (the engines differ on a few loose timestamp forms, so one's result is not the other's)."""
    return hashlib.sha256((engine.name + source.model_dump_json()).encode()).hexdigest()[:16]


def _source_fingerprint(source: FileSource | None, engine: Engine) -> str:
    """Changes when a source file or how it is read changes."""
    if source is None:
        return ""
    digest = hashlib.sha256(_source_key(source, engine).encode())
    for name, size, mtime in _stamps(source):
        digest.update(f"{name}|{size}|{mtime}".encode())
    return digest.hexdigest()[:16]


def _fingerprint(config: DatasetConfig, engine: Engine) -> str:
    """Changes when any source file, or how the sources are read, changes."""
    events, users = (_source_fingerprint(s, engine) for s in (config.events, config.users))
    return hashlib.sha256(f"{events}|{users}".encode()).hexdigest()[:16]


def _repeats_kept(flagged: ir.Table) -> int:
    return int(flagged[REPEAT].sum().to_pyarrow().as_py() or 0)


def _reason_counts(flagged: ir.Table) -> dict[str, int]:
    bad = flagged.filter(flagged[REASON].notnull())
    counts = bad.group_by(REASON).aggregate(rows=bad.count()).to_pyarrow().to_pylist()
    return {row[REASON]: int(row["rows"]) for row in sorted(counts, key=lambda r: r[REASON])}


@dataclass(frozen=True)
class _Split:
    rows_read: int
    reasons: dict[str, int]
    repeats_kept: int


def _write_split(
    engine: Engine, flagged: ir.Table, raw: ir.Table, output: Path, quarantine: Path
) -> _Split:
    flagged = engine.materialize(flagged, f"flagged_{output.stem}")
    engine.write_parquet(good_rows(flagged), output)
    engine.write_parquet(quarantined_rows(flagged, source_columns(raw)), quarantine)
    return _Split(
        rows_read=int(flagged.count().to_pyarrow().as_py()),
        reasons=_reason_counts(flagged),
        repeats_kept=_repeats_kept(flagged),
    )


@dataclass(frozen=True)
class _Counts:
    rows: int
    users: int
    first: str | None
    last: str | None


def _counts(engine: Engine, paths: Sequence[str]) -> _Counts:
    good = read_parts(engine, paths)
    row = (
        good.aggregate(
            rows=good.count(), users=good.user_id.nunique(), first=good.ts.min(), last=good.ts.max()
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    first, last = row["first"], row["last"]
    return _Counts(
        rows=int(row["rows"]),
        users=int(row["users"]),
        first=None if first is None else str(first),
        last=None if last is None else str(last),
    )


def _prepare_events(config: DatasetConfig, engine: Engine, run_time: dt.datetime) -> SourceReport:
    raw = engine.read(config.events)
    output = data_dir(config) / "events.parquet"
    quarantine = config.workdir_path / "quarantine" / "events.parquet"
    for parts in (data_dir(config) / PARTS, config.workdir_path / "quarantine" / PARTS):
        shutil.rmtree(parts, ignore_errors=True)  # of an earlier log: this one starts afresh
    flagged = flag_events(raw, config.events, engine, run_time)
    split = _write_split(engine, flagged, raw, output, quarantine)
    rows_read, reasons = split.rows_read, split.reasons
    if rows_read == 0:
        raise InputError(f"{config.events.path}: no data rows")
    stats = _counts(engine, [str(output)])
    if stats.rows == 0:
        worst = max(reasons, key=lambda name: reasons[name])
        raise InputError(
            f"{config.events.path}: no usable rows: all {rows_read} quarantined "
            f"(mostly {worst}); see {quarantine}"
        )
    return SourceReport(
        source=config.events.path,
        rows_read=rows_read,
        rows_good=stats.rows,
        quarantined=reasons,
        output=str(output),
        quarantine=str(quarantine),
        users=stats.users,
        first_ts=stats.first,
        last_ts=stats.last,
        repeats_kept=split.repeats_kept,
    )


def _added_files(
    previous: Prepared, key: str, stamps: list[FileStamp], engine: Engine
) -> list[str] | None:
    """The files new since `previous`, if it can be extended by them; None when everything
    must be validated again (another engine or config, a file changed or gone)."""
    known = {stamp[0]: tuple(stamp) for stamp in previous.event_files}
    now = {stamp[0]: stamp for stamp in stamps}
    if not engine.increments or previous.events_key != key or not known:
        return None
    if any(now.get(name) != stamp for name, stamp in known.items()):
        return None
    return [name for name in now if name not in known]


def _merged(first: dict[str, int], second: dict[str, int]) -> dict[str, int]:
    return {key: first.get(key, 0) + second.get(key, 0) for key in sorted({*first, *second})}


def _prepare_increment(
    config: DatasetConfig,
    engine: Engine,
    run_time: dt.datetime,
    before: SourceReport,
    files: list[str],
) -> tuple[SourceReport, SourceReport]:
    """(everything validated so far, what this increment added)."""
    raw = engine.read(config.events, files)
    flagged = engine.materialize(
        flag_events(raw, config.events, engine, run_time), "flagged_increment"
    )
    good = good_rows(flagged)
    span = good.aggregate(lo=good.ts.min(), hi=good.ts.max()).to_pyarrow()
    since, until = span["lo"][0].as_py(), span["hi"][0].as_py()
    if since is not None:
        earlier = read_parts(engine, before.outputs)
        keep = config.events.duplicates == "keep"
        flagged = mark_seen(flagged, earlier, since, until, keep)
    name = f"part-{len(before.parts) + 1:05d}.parquet"
    output = data_dir(config) / PARTS / name
    quarantine = config.workdir_path / "quarantine" / PARTS / name
    split = _write_split(engine, flagged, raw, output, quarantine)
    added = _counts(engine, [str(output)])
    increment = SourceReport(
        source=", ".join(files),
        rows_read=split.rows_read,
        rows_good=added.rows,
        quarantined=split.reasons,
        output=str(output),
        quarantine=str(quarantine),
        users=added.users,
        first_ts=added.first,
        last_ts=added.last,
        repeats_kept=split.repeats_kept,
    )
    total = _counts(engine, [*before.outputs, str(output)])
    combined = replace(
        before,
        rows_read=before.rows_read + split.rows_read,
        rows_good=before.rows_good + added.rows,
        quarantined=_merged(before.quarantined, split.reasons),
        users=total.users,
        first_ts=total.first,
        last_ts=total.last,
        repeats_kept=before.repeats_kept + split.repeats_kept,
        parts=[*before.parts, str(output)],
        quarantine_parts=[*before.quarantine_parts, str(quarantine)],
    )
    return combined, increment


def _prepare_users(config: DatasetConfig, engine: Engine) -> SourceReport | None:
    if config.users is None:
        return None
    raw = engine.read(config.users)
    output = data_dir(config) / "users.parquet"
    quarantine = config.workdir_path / "quarantine" / "users.parquet"
    flagged = flag_users(raw, config.users, engine)
    split = _write_split(engine, flagged, raw, output, quarantine)
    rows_read, reasons = split.rows_read, split.reasons
    rows_good = rows_read - sum(reasons.values())
    if rows_good == 0:
        raise InputError(f"{config.users.path}: no usable rows in the users table")
    return SourceReport(
        source=config.users.path,
        rows_read=rows_read,
        rows_good=rows_good,
        quarantined=reasons,
        output=str(output),
        quarantine=str(quarantine),
        users=rows_good,
    )


def _report_path(config: DatasetConfig) -> Path:
    return config.workdir_path / "validation.json"


def _load_report(path: Path) -> Prepared | None:
    try:
        saved = json.loads(path.read_text())
        users = saved["users"] and SourceReport(**saved["users"])
        return Prepared(
            events=SourceReport(**saved["events"]),
            users=users,
            run_time=saved["run_time"],
            fingerprint=saved["fingerprint"],
            reused=True,
            events_key=saved.get("events_key", ""),
            event_files=[(str(n), int(b), int(t)) for n, b, t in saved.get("event_files", [])],
            users_fingerprint=saved.get("users_fingerprint", ""),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _outputs_exist(prepared: Prepared) -> bool:
    files = [*prepared.events.outputs, *(prepared.users.outputs if prepared.users else [])]
    return all(Path(name).exists() for name in files)


def _write_report(path: Path, prepared: Prepared) -> None:
    """Written beside and renamed over: a crash never leaves a report naming half a part."""
    data = {**asdict(prepared), "reused": False}
    data.pop("increment")
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(data, indent=2, default=str))
    os.replace(partial, path)


def prepare(
    config: DatasetConfig,
    engine: Engine,
    run_time: dt.datetime | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> Prepared:
    """Validate sources into canonical Parquet, reusing the last result if nothing changed
    and adding only the new files when the log grew by files (see the module's doc)."""
    say = progress or (lambda _message: None)
    fingerprint = _fingerprint(config, engine)
    report_path = _report_path(config)
    previous = None if force else _load_report(report_path)
    if previous is not None and not _outputs_exist(previous):
        previous = None
    if previous is not None and previous.fingerprint == fingerprint:
        return previous
    now = run_time or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    key, stamps = _source_key(config.events, engine), _stamps(config.events)
    added = None if previous is None else _added_files(previous, key, stamps, engine)
    increment = None
    if previous is not None and added == []:
        events = previous.events
    elif previous is not None and added:
        say(f"validating {len(added)} new file(s) of {config.events.path}")
        events, increment = _prepare_increment(config, engine, now, previous.events, added)
    else:
        say(f"validating {config.events.path}")
        events = _prepare_events(config, engine, now)
    users_fingerprint = _source_fingerprint(config.users, engine)
    if previous is not None and previous.users_fingerprint == users_fingerprint:
        users = previous.users
    else:
        say("validating users" if config.users else "no users table configured")
        users = _prepare_users(config, engine)
    prepared = Prepared(
        events=events,
        users=users,
        run_time=now.isoformat(),
        fingerprint=fingerprint,
        events_key=key,
        event_files=stamps,
        users_fingerprint=users_fingerprint,
    )
    _write_report(report_path, prepared)
    return replace(prepared, increment=increment)


def read_parts(engine: Engine, paths: Sequence[str | Path]) -> ir.Table:
    """Canonical Parquet files as one table (one scan of them all on DuckDB, the only engine
    that writes parts)."""
    if len(paths) == 1:
        return engine.con.read_parquet(str(paths[0]))
    return engine.con.read_parquet([str(path) for path in paths])


def last_prepared(config: DatasetConfig) -> Prepared | None:
    """What the last validation wrote, without validating again (None before the first, or
    when its files are gone): for readers that must not write, such as the service."""
    found = _load_report(_report_path(config))
    return found if found is not None and found.events_path.exists() else None


def canonical_events(engine: Engine, prepared: Prepared) -> ir.Table:
    return read_parts(engine, prepared.events.outputs)


def canonical_users(engine: Engine, prepared: Prepared) -> ir.Table | None:
    path = prepared.users_path
    return None if path is None else engine.con.read_parquet(str(path))
