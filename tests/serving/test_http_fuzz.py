"""The running service's HTTP API under client mistakes: named cases first (each a 4xx with
a message, logged at INFO without a traceback), then hypothesis generating thousands of
requests (JSON shapes, huge and non-finite numbers, strings, raw bytes, content types,
headers). No answer may be a 5xx, and none may hang past the client's timeout.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.serving.served import TOKEN, Server, copy_service, serve

pytestmark = [pytest.mark.integration, pytest.mark.slow]
LIMIT = 64 * 1024
FUZZ_REQUESTS = 400  # ~40 s on a busy 2-core machine (1000 took 98 s)
TIMEOUT = 10.0
PATHS = ["/score", "/score_features", "/recall_list", "/model", "/readyz", "/livez", "/nope"]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "text/plain",
    "multipart/form-data",
    "multipart/form-data; boundary=xyz",
    "application/x-www-form-urlencoded",
    "application/octet-stream",
    "application/vnd.bentoml+pickle",
    "application/vnd.bentoml+json",
]


@dataclass
class Running:
    server: Server
    log: Path
    features: list[str]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, served_template: Path) -> Iterator[Running]:
    folder = tmp_path_factory.mktemp("fuzz")
    serving = f"{{max_batch: 50, max_body_bytes: {LIMIT}, poll_seconds: 0}}"
    config = copy_service(served_template, folder, serving=serving)
    with serve(config, folder / "server.log") as server, server.client() as client:
        features = [f["name"] for f in client.get("/model").json()["features"]]
        yield Running(server, folder / "server.log", features)


def post(running: Running, path: str, content: bytes, content_type: str) -> httpx.Response:
    with running.server.client() as client:
        return client.post(path, content=content, headers={"Content-Type": content_type})


@pytest.mark.parametrize(
    ("path", "content", "content_type", "status", "fragment"),
    [
        (
            "/score_features",
            b'{"rows": [{"recency_days": 1' + b"0" * 400 + b"}]}",
            "application/json",
            400,
            "not a finite number",
        ),
        (
            "/score_features",
            b'{"rows": [{"recency_days": 1e400}]}',
            "application/json",
            400,
            "finite",
        ),
        ("/score", b"--x\r\n", "multipart/form-data", 415, "send application/json"),
        ("/score", b'{"user_ids": ["u1"]}', "text/plain", 415, "send application/json"),
        ("/score", b'{"user_ids": ["u1"', "application/json", 400, "error"),
        ("/score", b"[" * 100_000, "application/json", 413, "over the limit"),
        (
            "/score",
            b'{"user_ids": [' + b'"u1",' * 20_000 + b'"u1"]}',
            "application/json",
            413,
            "limit",
        ),
    ],
)
def test_client_mistakes_get_a_4xx_with_a_message(
    running: Running, path: str, content: bytes, content_type: str, status: int, fragment: str
) -> None:
    response = post(running, path, content, content_type)
    assert response.status_code == status, response.text
    assert fragment in response.text


def test_a_streamed_body_over_the_limit_is_refused_while_it_arrives(running: Running) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"user_ids": ['
        for _ in range(50_000):  # 300 kB: past the limit long before the end
            yield b'"u1", '
        yield b'"u1"]}'

    with running.server.client() as client:
        response = client.post(
            "/score", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413, response.text


def test_client_mistakes_are_logged_at_info_without_a_traceback(running: Running) -> None:
    post(running, "/score", b'{"user_ids": "u1"}', "application/json")
    post(running, "/score", b"x", "text/plain")
    text = running.log.read_text()
    assert "client error on /score [POST]: 400" in text
    assert "refused with 415" in text
    assert "Traceback" not in text and "[ERROR]" not in text


def json_values() -> st.SearchStrategy[Any]:
    numbers = (
        st.integers()
        | st.integers(min_value=10**300, max_value=10**1000)
        | st.floats(allow_nan=True, allow_infinity=True)
    )
    leaves = st.none() | st.booleans() | numbers | st.text(max_size=40)
    return st.recursive(
        leaves,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=12), children, max_size=4)
        ),
        max_leaves=12,
    )


def bodies(features: list[str]) -> st.SearchStrategy[bytes]:
    """Mostly almost-right JSON bodies (the shapes the API takes, wrong inside), some any
    JSON, some raw or truncated bytes."""
    value = json_values()
    names = st.sampled_from([*features, "user_id", "bogus", ""])
    shaped = st.one_of(
        st.fixed_dictionaries({"user_ids": st.lists(st.text(max_size=20) | value, max_size=60)}),
        st.fixed_dictionaries(
            {"rows": st.lists(st.dictionaries(names, value, max_size=8), max_size=5)}
        ),
        st.fixed_dictionaries({"limit": value}),
        value,
    )
    encoded = shaped.map(lambda body: json.dumps(body).encode())
    truncated = st.tuples(encoded, st.integers(0, 200)).map(lambda pair: pair[0][: pair[1]])
    return st.one_of(encoded, encoded, encoded, truncated, st.binary(max_size=300))


header_text = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=30)
header_name = st.from_regex(r"[A-Za-z0-9-]{1,20}", fullmatch=True)  # what HTTP allows


@settings(
    max_examples=FUZZ_REQUESTS,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_no_request_gets_a_5xx_or_hangs(running: Running, data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(PATHS), label="path")
    method = data.draw(st.sampled_from(["POST", "POST", "POST", "GET", "PUT"]), label="method")
    content_type = data.draw(st.sampled_from(CONTENT_TYPES) | header_text, label="type")
    extra = data.draw(st.dictionaries(header_name.map(lambda t: f"x-{t}"), header_text, max_size=2))
    body = data.draw(bodies(running.features), label="body")
    headers = {"Content-Type": content_type, "Authorization": f"Bearer {TOKEN}", **extra}
    response = httpx.request(
        method, running.server.url + path, content=body, headers=headers, timeout=TIMEOUT
    )
    assert response.status_code < 500, f"{method} {path} {content_type}: {response.text[:300]}"
