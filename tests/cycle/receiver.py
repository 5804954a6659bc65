"""A webhook receiver as a process of its own: what a CRM or messaging gateway does with the
cycle's batches, recorded where a test can count them after the fact.

`python -m tests.cycle.receiver --port P --db FILE [--delay S] [--fail-first N]` listens on
127.0.0.1:P. Every POSTed batch is recorded in SQLite before it is answered: each contact
once per arrival (`arrivals`), and once per idempotency key (`accepted`, where a key seen
before is dropped, as a real receiver deduplicates). `--delay` holds each answer back (a
slow receiver, so a test can kill the sender mid-batch); `--fail-first` answers the first N
batches 503 (a receiver that is briefly down).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS arrivals (batch TEXT, header TEXT, key TEXT, user_id TEXT,
    channel TEXT, received REAL);
CREATE TABLE IF NOT EXISTS accepted (key TEXT PRIMARY KEY, batch TEXT, received REAL);
"""


def serve(port: int, db: Path, delay: float, fail_first: int) -> None:
    con = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
    con.executescript(SCHEMA)
    seen = {"batches": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen["batches"] += 1
            if seen["batches"] <= fail_first:
                self._answer(503, {"error": "down for maintenance"})
                return
            now, header = time.time(), self.headers.get("Idempotency-Key", "")
            contacts = body["contacts"]
            with con:
                con.executemany(
                    "INSERT INTO arrivals VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (
                            body["batch"],
                            header,
                            c["idempotency_key"],
                            c["user_id"],
                            c["channel"],
                            now,
                        )
                        for c in contacts
                    ],
                )
                con.executemany(
                    "INSERT OR IGNORE INTO accepted VALUES (?, ?, ?)",
                    [(c["idempotency_key"], body["batch"], now) for c in contacts],
                )
            time.sleep(delay)
            self._answer(200, {"accepted": len(contacts)})

        def _answer(self, status: int, data: dict[str, object]) -> None:
            text = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, format: str, *args: object) -> None:
            return

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--fail-first", type=int, default=0)
    args = parser.parse_args()
    serve(args.port, args.db, args.delay, args.fail_first)
