"""Request checks before BentoML parses anything: body size and content type.

A body is read up to the limit (from `Content-Length` at once, or while it streams) and
refused with 413 past it, so an oversize request costs at most the limit in memory. Every
API takes JSON; any other content type (multipart, form, BentoML's pickle) is 415 here
instead of reaching a parser that may answer 500.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import MutableMapping
from typing import Any

from serving.auth import ASGIApp, Receive, Scope, Send
from serving.client_logs import BENTOML_LOGGER
from serving.config import ServingConfig
from serving.launch import BODY_LIMIT_ENV

# BentoML's own request logger, where its 4xx lines go too: one place for every client
# mistake, shown at INFO by BentoML's logging setup (which hides other loggers' INFO).
log = logging.getLogger(BENTOML_LOGGER)
JSON_TYPES = frozenset({"application/json", ""})
DEFAULT_LIMIT: int = ServingConfig.model_fields["max_body_bytes"].default


def media_type(scope: Scope) -> str:
    raw = dict(scope.get("headers", [])).get(b"content-type", b"")
    return raw.decode("latin-1").split(";")[0].strip().lower()


def declared_length(scope: Scope) -> int | None:
    raw = dict(scope.get("headers", [])).get(b"content-length")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


async def refuse(send: Send, status: int, message: str) -> None:
    log.info("refused with %d: %s", status, message)
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """ASGI middleware for every request with a body (POST)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.limit = int(os.environ.get(BODY_LIMIT_ENV, DEFAULT_LIMIT))

    def _too_big(self, size: int) -> str:
        return f"request body: {size:,} bytes or more, over the limit of {self.limit:,}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        kind = media_type(scope)
        if kind not in JSON_TYPES:
            await refuse(send, 415, f"content-type {kind!r}: send application/json")
            return
        length = declared_length(scope)
        if length is not None and length > self.limit:
            await refuse(send, 413, self._too_big(length))
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await refuse(send, 413, self._too_big(size))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, replay(b"".join(chunks), receive), send)


def replay(body: bytes, receive: Receive) -> Receive:
    """The buffered body as one message, then whatever the client sends next (disconnect)."""
    sent = False

    async def again() -> MutableMapping[str, Any]:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again
