"""Contacts POSTed to a channel's receiver in JSON batches, at most once per key from here.

A batch is `{"batch": KEY, "channel": ..., "contacts": [outbox lines]}` with the header
`Idempotency-Key: KEY`, KEY a hash of its contacts' idempotency keys (the same batch sent
again carries the same header); each contact carries its own `idempotency_key`, by which the
receiver deduplicates. Before a POST the batch's keys are counted as attempted; on a 2xx
answer they are marked delivered, and a delivered key is never sent again. A crash between
the receiver's answer and that mark sends those keys once more next time, which the
receiver drops by key: every key arrives, and counts once.

A timeout, a connection error, a 5xx, 408 or 429 is tried again after `backoff_seconds` x
2**(k-1), up to `attempts` tries; any other answer is not (the receiver refused it: a token
or the payload is wrong) and the error is kept. A batch that still failed stays pending for
the next cycle, and the rest of the channel waits with it (the receiver is likely down).
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from cycle.config import Webhook
from cycle.outbox import line
from cycle.state import State

RETRIED_STATUSES = frozenset({408, 429})
Sleep = Callable[[float], None]


@dataclass(frozen=True)
class Answer:
    ok: bool
    retry: bool  # worth trying again
    message: str  # "200", "503: ...", "timed out after 5.0 s", ...


@dataclass(frozen=True)
class ChannelDelivery:
    channel: str
    delivered: int
    pending: int
    withdrawn: int
    error: str | None


def batch_key(keys: list[str]) -> str:
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:32]


def payload(channel: str, key: str, contacts: pd.DataFrame) -> bytes:
    lines = [line(row) for row in contacts.to_dict("records")]
    return json.dumps({"batch": key, "channel": channel, "contacts": lines}).encode()


def post(hook: Webhook, key: str, body: bytes) -> Answer:
    headers = {"Content-Type": "application/json", "Idempotency-Key": key, **hook.headers}
    request = urllib.request.Request(hook.url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=hook.timeout_seconds) as response:
            return Answer(ok=True, retry=False, message=str(response.status))
    except urllib.error.HTTPError as error:
        text = error.read(300).decode("utf-8", "replace").strip()
        retry = error.code >= 500 or error.code in RETRIED_STATUSES
        return Answer(ok=False, retry=retry, message=f"{error.code}: {text or error.reason}")
    except TimeoutError:
        return Answer(ok=False, retry=True, message=f"timed out after {hook.timeout_seconds} s")
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        return Answer(ok=False, retry=True, message=f"cannot reach {hook.url}: {reason}")


def send(hook: Webhook, key: str, body: bytes, sleep: Sleep) -> Answer:
    """One batch, with retries and backoff."""
    answer = post(hook, key, body)
    for attempt in range(1, hook.attempts):
        if answer.ok or not answer.retry:
            break
        sleep(hook.backoff_seconds * 2 ** (attempt - 1))
        answer = post(hook, key, body)
    return answer


def deliver(
    state: State, channel: str, hook: Webhook, opted_out: set[tuple[str, str]], sleep: Sleep
) -> ChannelDelivery:
    """Every pending contact of the channel, whichever day decided it, oldest first; a
    contact whose user has opted out of the channel since is withdrawn, not sent."""
    pending = state.pending(channel)
    said_no = [pair in opted_out for pair in zip(pending.user_id, pending.channel, strict=True)]
    withdrawn = pending.loc[said_no, "key"].tolist()
    state.withdraw(withdrawn, "opted out before delivery")
    pending = pending.loc[[not no for no in said_no]]
    delivered, error = 0, None
    for start in range(0, len(pending), hook.batch_size):
        batch = pending.iloc[start : start + hook.batch_size]
        keys = batch["key"].tolist()
        key = batch_key(keys)
        state.attempted(keys)
        answer = send(hook, key, payload(channel, key, batch), sleep)
        if not answer.ok:
            state.failed(keys, answer.message)
            error = answer.message
            break
        state.delivered(keys)
        delivered += len(keys)
    return ChannelDelivery(
        channel=channel,
        delivered=delivered,
        pending=len(pending) - delivered,
        withdrawn=len(withdrawn),
        error=error,
    )


def wait(seconds: float) -> None:
    time.sleep(seconds)
