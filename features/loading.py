"""Source files -> validated canonical Parquet in the workdir, plus quarantine and a report.

Validation runs once per change of the source files or their config; later steps read the
canonical Parquet, which is typed and small, instead of re-parsing text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
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
    quarantined_rows,
    source_columns,
)

Progress = Callable[[str], None]


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

    @property
    def rows_quarantined(self) -> int:
        return sum(self.quarantined.values())


@dataclass(frozen=True)
class Prepared:
    events: SourceReport
    users: SourceReport | None
    run_time: str
    fingerprint: str
    reused: bool = field(default=False, compare=False)

    @property
    def events_path(self) -> Path:
        return Path(self.events.output)

    @property
    def users_path(self) -> Path | None:
        return None if self.users is None else Path(self.users.output)


def data_dir(config: DatasetConfig) -> Path:
    return config.workdir_path / "data"


def _fingerprint(config: DatasetConfig, engine: Engine) -> str:
    """Changes when a source file, how it is read, or the engine that reads it changes (the
    engines differ on a few loose timestamp forms, so one's result is not the other's)."""
    digest = hashlib.sha256(engine.name.encode())
    sources: list[FileSource] = [config.events] + ([config.users] if config.users else [])
    for source in sources:
        digest.update(source.model_dump_json().encode())
        for name in expand_paths(source.path):
            stat = os.stat(name)
            digest.update(f"{name}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


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


def _prepare_events(config: DatasetConfig, engine: Engine, run_time: dt.datetime) -> SourceReport:
    raw = engine.read(config.events)
    output = data_dir(config) / "events.parquet"
    quarantine = config.workdir_path / "quarantine" / "events.parquet"
    flagged = flag_events(raw, config.events, engine, run_time)
    split = _write_split(engine, flagged, raw, output, quarantine)
    rows_read, reasons = split.rows_read, split.reasons
    if rows_read == 0:
        raise InputError(f"{config.events.path}: no data rows")
    good = engine.con.read_parquet(str(output))
    stats = (
        good.aggregate(
            rows=good.count(), users=good.user_id.nunique(), first=good.ts.min(), last=good.ts.max()
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    if stats["rows"] == 0:
        worst = max(reasons, key=lambda name: reasons[name])
        raise InputError(
            f"{config.events.path}: no usable rows: all {rows_read} quarantined "
            f"(mostly {worst}); see {quarantine}"
        )
    return SourceReport(
        source=config.events.path,
        rows_read=rows_read,
        rows_good=int(stats["rows"]),
        quarantined=reasons,
        output=str(output),
        quarantine=str(quarantine),
        users=int(stats["users"]),
        first_ts=str(stats["first"]),
        last_ts=str(stats["last"]),
        repeats_kept=split.repeats_kept,
    )


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
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def prepare(
    config: DatasetConfig,
    engine: Engine,
    run_time: dt.datetime | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> Prepared:
    """Validate sources into canonical Parquet, reusing the last result if nothing changed."""
    say = progress or (lambda _message: None)
    fingerprint = _fingerprint(config, engine)
    report_path = _report_path(config)
    previous = None if force else _load_report(report_path)
    if (
        previous is not None
        and previous.fingerprint == fingerprint
        and Path(previous.events.output).exists()
    ):
        return previous
    now = run_time or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    say(f"validating {config.events.path}")
    events = _prepare_events(config, engine, now)
    say("validating users" if config.users else "no users table configured")
    users = _prepare_users(config, engine)
    prepared = Prepared(
        events=events, users=users, run_time=now.isoformat(), fingerprint=fingerprint
    )
    report_path.write_text(json.dumps({**asdict(prepared), "reused": False}, indent=2, default=str))
    return prepared


def last_prepared(config: DatasetConfig) -> Prepared | None:
    """What the last validation wrote, without validating again (None before the first, or
    when its files are gone): for readers that must not write, such as the service."""
    found = _load_report(_report_path(config))
    return found if found is not None and found.events_path.exists() else None


def canonical_events(engine: Engine, prepared: Prepared) -> ir.Table:
    return engine.con.read_parquet(str(prepared.events_path))


def canonical_users(engine: Engine, prepared: Prepared) -> ir.Table | None:
    path = prepared.users_path
    return None if path is None else engine.con.read_parquet(str(path))
