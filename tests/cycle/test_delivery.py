"""Delivery to a real HTTP receiver (a process of its own on 127.0.0.1): a cycle killed with
SIGKILL in the middle of a delivery loses nothing and doubles nothing once the next cycle
runs; a receiver down for a day gets that day's contacts the next day; retries, backoff,
opt-outs that arrive while a contact waits, the lock and the exit codes."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cycle import outbox
from cycle.lock import held
from cycle.run import cycle_paths
from cycle.state import DECIDED, State
from tests.cycle.world import REPO, START, World
from tests.serving.served import free_port
from winback.cli.main import app

NEXT = START + dt.timedelta(days=1)


@contextmanager
def receiver(db: Path, port: int, delay: float = 0.0, fail_first: int = 0) -> Iterator[str]:
    args = [sys.executable, "-m", "tests.cycle.receiver", "--port", str(port), "--db", str(db)]
    args += ["--delay", str(delay), "--fail-first", str(fail_first)]
    process = subprocess.Popen(args, cwd=REPO)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket_to(port):
                    break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/contacts"
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def socket_to(port: int) -> Iterator[None]:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=1):
        yield


def received(db: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(every arrival of a contact, the contacts accepted once per key)."""
    with sqlite3.connect(db) as con:
        arrivals = pd.read_sql("SELECT * FROM arrivals", con)
        accepted = pd.read_sql("SELECT * FROM accepted", con)
    return arrivals, accepted


def hook(url: str, **options: object) -> dict[str, object]:
    return {"email": {"url": url, "timeout_seconds": 5, "backoff_seconds": 0.05, **options}}


def email_keys(world: World, day: dt.date) -> set[str]:
    return set(outbox.read(world.outbox, day).query("channel == 'email'").idempotency_key)


def cycle_process(world: World, day: dt.date) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "winback.cli", "cycle", "-c", str(world.config_path)]
    args += ["-p", str(world.policy_path), "--as-of", str(day)]
    return subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.mark.slow
@pytest.mark.integration
def test_killed_mid_delivery_the_next_cycle_delivers_each_key_exactly_once(
    world: World, tmp_path: Path
) -> None:
    db = tmp_path / "received.sqlite"
    with receiver(db, free_port(), delay=0.4) as url:
        world.set_cycle(webhooks=hook(url, batch_size=2))
        first = cycle_process(world, START)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and first.poll() is None:
            if db.exists() and received(db)[0].batch.nunique() >= 3:
                break  # the third batch is in, its answer is not: kill the sender now
            time.sleep(0.05)
        assert first.poll() is None, first.communicate()[0].decode()
        os.kill(first.pid, signal.SIGKILL)
        assert first.wait(timeout=30) == -signal.SIGKILL
        state = State(cycle_paths(world.config()).state)
        assert state.stage(START) == DECIDED and state.pending_counts()["email"] > 0
        state.close()

        again = cycle_process(world, START)
        output = again.communicate(timeout=600)[0].decode()
        assert again.returncode == 0, output
    decided = email_keys(world, START)
    arrivals, accepted = received(db)
    assert len(decided) >= 10
    assert set(accepted.key) == decided and accepted.key.is_unique  # each key once, none lost
    assert len(arrivals) > len(accepted)  # the unanswered batch came again, and was dropped
    assert arrivals.groupby("key").size().max() == 2
    assert (arrivals.header == arrivals.batch).all()
    history = pd.read_csv(cycle_paths(world.config()).contacts)
    assert (history.query("channel == 'email'").status == "sent").all()


@pytest.mark.slow
def test_a_receiver_down_for_a_day_gets_that_days_contacts_the_next_day(
    world: World, tmp_path: Path
) -> None:
    port, db, waits = free_port(), tmp_path / "received.sqlite", []
    world.set_cycle(webhooks=hook(f"http://127.0.0.1:{port}/contacts", attempts=3))
    down = world.cycle(START, sleep=waits.append)
    pending = down.summary["pending"]["email"]
    assert down.exit_code == 1 and pending == len(email_keys(world, START)) > 0
    assert "cannot reach" in down.summary["webhooks"]["email"]["error"]
    assert waits == [0.05, 0.1]  # the first batch tried three times, then the channel waits
    day_one = outbox.path(world.outbox, "email", START).read_bytes()
    waiting = outbox.read(world.outbox, START).query("channel == 'email'")
    said_no = waiting.iloc[0]
    world.opt_out([(said_no.user_id, "email")])  # while its contact waits: never sent

    with receiver(db, port) as url:
        assert url.endswith(f":{port}/contacts")
        up = world.cycle(NEXT)
    assert up.exit_code == 0 and up.summary["pending"] == {}
    assert up.summary["webhooks"]["email"]["withdrawn"] == 1
    arrivals, accepted = received(db)
    wanted = (email_keys(world, START) | email_keys(world, NEXT)) - {said_no.idempotency_key}
    assert set(accepted.key) == wanted and len(arrivals) == len(
        accepted
    )  # none dropped, none doubled
    assert outbox.path(world.outbox, "email", START).read_bytes() == day_one
    history = pd.read_csv(cycle_paths(world.config()).contacts).set_index("idempotency_key")
    assert history.loc[said_no.idempotency_key].status == "withdrawn"
    assert (history.drop(said_no.idempotency_key).status == "sent").all()


@pytest.mark.slow
def test_a_batch_refused_twice_goes_through_on_the_third_try(world: World, tmp_path: Path) -> None:
    db, waits = tmp_path / "received.sqlite", []
    with receiver(db, free_port(), fail_first=2) as url:
        world.set_cycle(webhooks=hook(url, attempts=3, backoff_seconds=0.5))
        result = world.cycle(START, sleep=waits.append)
    assert result.exit_code == 0 and waits == [0.5, 1.0]
    assert set(received(db)[1].key) == email_keys(world, START)


runner = CliRunner()


def test_a_second_cycle_while_one_runs_does_nothing_and_exits_75(world: World) -> None:
    args = ["cycle", "-c", str(world.config_path), "-p", str(world.policy_path)]
    with held(cycle_paths(world.config()).lock):
        busy = runner.invoke(app, [*args, "--as-of", str(START)])
    assert busy.exit_code == 75 and "another winback cycle is running" in busy.output
    assert not (world.workdir / "cycle" / "days").exists()


@pytest.mark.slow
def test_exit_codes_for_a_scheduler(world: World) -> None:
    args = ["cycle", "-c", str(world.config_path), "-p", str(world.policy_path)]
    world.feed(NEXT)
    first = runner.invoke(app, [*args, "--as-of", str(NEXT)])
    assert first.exit_code == 0, first.output
    assert f"cycle {NEXT}" in first.output and "outbox email" in first.output
    again = runner.invoke(app, [*args, "--as-of", str(NEXT)])
    assert again.exit_code == 0 and "ran before" in again.output
    earlier = runner.invoke(app, [*args, "--as-of", str(START)])
    assert earlier.exit_code == 2 and "cycles run forward" in earlier.output
    bad = world.root / "bad.yaml"
    bad.write_text(world.policy_path.read_text().replace("budget: 400", "budget: -1"))
    refused = runner.invoke(app, [*args[:3], "-p", str(bad), "--as-of", str(NEXT)])
    assert refused.exit_code == 2 and "budget" in refused.output
