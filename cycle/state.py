"""What the cycle has done, kept in one SQLite file: the days, every contact with its delivery
status (the contact history Winback keeps), and which campaign reviews were written.

Each change is one transaction (WAL, synchronous=FULL), so a crash leaves the file as it was
before the change or after it, never in between. A contact's idempotency key is its primary
key: a day decided twice cannot hold a contact twice, and a key marked `delivered` is never
selected for sending again.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Collection, Iterable
from pathlib import Path

import pandas as pd

DECIDED, DONE = "decided", "done"
PENDING, DELIVERED, WITHDRAWN = "pending", "delivered", "withdrawn"
CONTACT_COLUMNS = ("key", "day", "campaign_id", "strategy", "user_id", "channel", "offer")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS days (
    day TEXT PRIMARY KEY,
    stage TEXT NOT NULL,          -- decided | done
    summary TEXT                  -- JSON, once done
);
CREATE TABLE IF NOT EXISTS contacts (
    key TEXT PRIMARY KEY,         -- campaign_id:user_id:channel
    day TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    strategy TEXT NOT NULL,
    user_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    offer TEXT NOT NULL,
    priority INTEGER NOT NULL,
    outbox_at TEXT,               -- when the day's outbox file with it was written
    webhook TEXT,                 -- null (no webhook) | pending | delivered | withdrawn
    webhook_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,  -- batches sent with it (each up to `attempts` tries)
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS contacts_by_day ON contacts (day);
CREATE INDEX IF NOT EXISTS contacts_pending ON contacts (webhook, channel);
CREATE TABLE IF NOT EXISTS reviews (
    campaign_day TEXT NOT NULL,
    stage INTEGER NOT NULL,       -- days after the window closed: 0, then each durable horizon
    on_day TEXT NOT NULL,
    PRIMARY KEY (campaign_day, stage)
);
"""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _chunks(values: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class State:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(path, isolation_level=None)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=FULL")
        self._con.executescript(_SCHEMA)

    def close(self) -> None:
        self._con.close()

    def _write(self, sql: str, rows: Iterable[tuple[object, ...]]) -> None:
        with self._con:
            self._con.execute("BEGIN IMMEDIATE")
            self._con.executemany(sql, rows)

    # days

    def stage(self, day: dt.date) -> str | None:
        row = self._con.execute("SELECT stage FROM days WHERE day = ?", (day.isoformat(),))
        found = row.fetchone()
        return None if found is None else str(found[0])

    def latest_day(self) -> dt.date | None:
        found = self._con.execute("SELECT max(day) FROM days").fetchone()[0]
        return None if found is None else dt.date.fromisoformat(found)

    def previous_day(self, day: dt.date) -> dt.date | None:
        query = "SELECT max(day) FROM days WHERE day < ?"
        found = self._con.execute(query, (day.isoformat(),)).fetchone()[0]
        return None if found is None else dt.date.fromisoformat(found)

    def days(self) -> list[dt.date]:
        rows = self._con.execute("SELECT day FROM days ORDER BY day").fetchall()
        return [dt.date.fromisoformat(row[0]) for row in rows]

    def record_decided(
        self, day: dt.date, contacts: pd.DataFrame, webhooks: Collection[str], summary: str
    ) -> None:
        """The day's contacts (CONTACT_COLUMNS and priority) and the day as decided, with what
        is known of it so far, at once."""
        rows = [
            (
                *(str(row[c]) for c in CONTACT_COLUMNS),
                int(row["priority"]),
                PENDING if row["channel"] in webhooks else None,
            )
            for row in contacts.to_dict("records")
        ]
        with self._con:
            self._con.execute("BEGIN IMMEDIATE")
            self._con.executemany(
                "INSERT OR IGNORE INTO contacts (key, day, campaign_id, strategy, user_id, "
                "channel, offer, priority, webhook) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            self._con.execute(
                "INSERT INTO days (day, stage, summary) VALUES (?, ?, ?) "
                "ON CONFLICT (day) DO NOTHING",
                (day.isoformat(), DECIDED, summary),
            )

    def mark_outbox(self, day: dt.date) -> None:
        self._write(
            "UPDATE contacts SET outbox_at = ? WHERE day = ? AND outbox_at IS NULL",
            [(_now(), day.isoformat())],
        )

    def mark_done(self, day: dt.date, summary: str) -> None:
        self._write(
            "UPDATE days SET stage = ?, summary = ? WHERE day = ?",
            [(DONE, summary, day.isoformat())],
        )

    def summary(self, day: dt.date) -> str | None:
        row = self._con.execute("SELECT summary FROM days WHERE day = ?", (day.isoformat(),))
        found = row.fetchone()
        return None if found is None else found[0]

    # contacts

    def contacts(self, where: str = "1 = 1", args: tuple[object, ...] = ()) -> pd.DataFrame:
        query = f"SELECT * FROM contacts WHERE {where} ORDER BY day, channel, priority, key"
        cursor = self._con.execute(query, args)
        names = [description[0] for description in cursor.description]
        return pd.DataFrame(cursor.fetchall(), columns=names)

    def history_before(self, day: dt.date) -> pd.DataFrame:
        """Contacts made on earlier days (not withdrawn): user_id, channel, contacted_at."""
        made = self.contacts(
            "day < ? AND (webhook IS NULL OR webhook != ?)", (day.isoformat(), WITHDRAWN)
        )
        return pd.DataFrame(
            {
                "user_id": made["user_id"].astype("str"),
                "channel": made["channel"].astype("str"),
                "contacted_at": pd.to_datetime(made["day"]).astype("datetime64[us]"),
            }
        )

    def pending(self, channel: str) -> pd.DataFrame:
        return self.contacts("webhook = ? AND channel = ?", (PENDING, channel))

    def pending_counts(self) -> dict[str, int]:
        rows = self._con.execute(
            "SELECT channel, count(*) FROM contacts WHERE webhook = ? GROUP BY channel ORDER BY 1",
            (PENDING,),
        ).fetchall()
        return {str(channel): int(count) for channel, count in rows}

    def _set(self, assignments: str, keys: list[str], args: tuple[object, ...]) -> None:
        for chunk in _chunks(keys):
            marks = ", ".join("?" for _ in chunk)
            self._write(
                f"UPDATE contacts SET {assignments} WHERE webhook = ? AND key IN ({marks})",
                [(*args, PENDING, *chunk)],
            )

    def attempted(self, keys: list[str]) -> None:
        """Counted before a batch is sent: a crash while sending leaves the count behind."""
        self._set("attempts = attempts + 1", keys, ())

    def failed(self, keys: list[str], error: str) -> None:
        self._set("last_error = ?", keys, (error,))

    def delivered(self, keys: list[str]) -> None:
        self._set("webhook = ?, webhook_at = ?", keys, (DELIVERED, _now()))

    def withdraw(self, keys: list[str], reason: str) -> None:
        self._set("webhook = ?, webhook_at = ?, last_error = ?", keys, (WITHDRAWN, _now(), reason))

    # reviews

    def reviewed(self) -> dict[dt.date, set[int]]:
        rows = self._con.execute("SELECT campaign_day, stage FROM reviews").fetchall()
        found: dict[dt.date, set[int]] = {}
        for day, stage in rows:
            found.setdefault(dt.date.fromisoformat(day), set()).add(int(stage))
        return found

    def record_review(self, campaign_day: dt.date, stages: Iterable[int], on_day: dt.date) -> None:
        self._write(
            "INSERT OR IGNORE INTO reviews (campaign_day, stage, on_day) VALUES (?, ?, ?)",
            [(campaign_day.isoformat(), stage, on_day.isoformat()) for stage in stages],
        )
