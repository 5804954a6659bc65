"""The operations page for real: a small synthetic log trained on, scored, a campaign listed
and reviewed, the model monitored (all through the CLI); then `winback serve` as a process
with the bearer token, its /ui pages opened in Debian's headless Chromium (Playwright with
executable_path: nothing downloads a browser), and `winback report` writing the same pages.
Screenshots of every section go to .winback/test-artifacts/ops-page/."""

from __future__ import annotations

import io
import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from playwright.sync_api import Page, sync_playwright
from typer.testing import CliRunner

from ops.page import SECTIONS
from ops.sections import DRAWN_ROWS
from tests.serving.served import TOKEN, Server, serve
from tests.tracking_seed import seeded
from tests.trained import config_data
from winback.cli.main import app

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / ".winback" / "test-artifacts" / "ops-page"
CAMPAIGN, DATE = "ops-2025-07-15", "2025-07-15"
runner = CliRunner()


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def workdir(synthetic_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Config, model, store, scores, a recall list, its review and a monitor run."""
    folder = tmp_path_factory.mktemp("ops-page")
    policy = yaml.safe_load((REPO / "configs" / "recall.yaml").read_text())
    policy["campaign"] = {"id": CAMPAIGN, "date": DATE}
    (folder / "recall.yaml").write_text(yaml.safe_dump(policy))
    data = config_data(synthetic_dir, seeded(folder / "work"))
    data["serving"] = {"recall_policy": str(folder / "recall.yaml"), "poll_seconds": 0}
    data["monitor"] = {"bootstrap_rounds": 50}
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(data))
    c, scores, listed = str(config), str(folder / "scores.parquet"), str(folder / "recall.csv")
    _run("train", "-c", c)
    _run("materialize", "-c", c, "--cutoff", DATE, "--force")
    _run("score", "-c", c, "--out", scores)
    _run("recall", "-c", c, "-p", str(folder / "recall.yaml"), "--scores", scores, "--out", listed)
    _run("review", "-c", c, "--campaign", listed, "--window-days", "28")
    _run("monitor", "-c", c)
    return folder


@pytest.fixture(scope="module")
def server(workdir: Path) -> Iterator[Server]:
    with serve(workdir / "config.yaml", workdir / "server.log") as running:
        yield running


def _page(server: Server, section: str) -> httpx.Response:
    """The section once its first computation is done (503 + Retry-After until then)."""
    deadline = time.monotonic() + 180
    with server.client() as client:
        while True:
            answer = client.get(f"/ui/{section}")
            if answer.status_code != 503 or time.monotonic() > deadline:
                return answer
            assert answer.headers["retry-after"]
            time.sleep(1)


@pytest.fixture(scope="module")
def served(server: Server) -> dict[str, str]:
    pages = {}
    for section, _ in SECTIONS:
        answer = _page(server, section)
        assert answer.status_code == 200, answer.text[:500]
        assert answer.headers["content-type"].startswith("text/html")
        pages[section] = answer.text
    return pages


def test_the_page_is_refused_without_the_token(server: Server, served: dict[str, str]) -> None:
    for token in (None, "wrong-token"):
        with server.client(token=token) as client:
            for path in ("/ui", "/ui/now", "/ui/campaigns"):
                answer = client.get(path)
                assert answer.status_code == 401, (path, answer.status_code)
                assert "Winback" not in answer.text
    with server.client() as client:
        index = client.get("/ui/", follow_redirects=False)
        assert index.status_code in (302, 307) and index.headers["location"].endswith("/ui/now")
        assert client.get("/ui/nonsense").status_code == 404


def _main(page: str) -> str:
    found = re.search(r"<main id='section-\w+'>(.*)</main>", page, re.S)
    assert found, page[:300]
    return re.sub(r"computed \d{4}-\d\d-\d\d \d\d:\d\d UTC", "computed ...", found.group(1))


def test_winback_report_writes_the_same_pages(
    workdir: Path, served: dict[str, str], tmp_path: Path
) -> None:
    shutil.rmtree(workdir / "work" / "ui-cache")  # computed again, in this process
    out = tmp_path / "report"
    printed = _run("report", "-c", str(workdir / "config.yaml"), "--out", str(out))
    assert str(out / "index.html") in printed
    for section, _ in SECTIONS:
        static = (out / f"{section}.html").read_text()
        assert _main(static) == _main(served[section]), section
        assert f'href="{section}.html"' in static and 'href="now"' in served[section]
    assert (out / "index.html").read_text() == (out / "now.html").read_text()


def test_the_pages_show_what_the_commands_wrote(workdir: Path, served: dict[str, str]) -> None:
    listed = pd.read_csv(workdir / "recall.csv", dtype={"user_id": "str"})
    campaigns = served["campaigns"]
    assert f"Current recall list: campaign {CAMPAIGN}" in campaigns
    payload = re.search(
        r'<script type="application/json" id="recall-data">(.*?)</script>', campaigns
    )
    assert payload, "the list's rows travel as JSON in the page"
    rows = json.loads(payload.group(1))
    users = [row[rows["columns"].index("user_id")] for row in rows["rows"]]
    assert users == listed.user_id.tolist()  # the recall list, best first
    review = pd.read_csv(next((workdir / "work" / "reviews").glob("*/review.csv")))
    pooled = review[review.strategy == "all strategies"].iloc[0]
    assert f"{pooled.uplift * 100:+.1f} ({pooled.ci_low * 100:+.1f}, " in campaigns
    assert "No retrain recommended" in campaigns  # the monitor's verdict
    assert (
        "at risk" in served["now"]
        and "Warning line: churn probability at or above 0.30" in served["now"]
    )
    assert "Day-N retention" in served["retention"] and "2025-01" in served["retention"]


def _painted(png: bytes) -> tuple[int, float]:
    """Distinct colours and the share of pixels that are not white."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    return len(np.unique(pixels, axis=0)), float((pixels < 250).any(axis=1).mean())


def _visible_rows(page: Page) -> int:
    return int(page.evaluate("document.querySelectorAll('#recall tbody tr').length"))


def test_every_section_renders_in_headless_chromium_and_the_list_filters(
    server: Server, served: dict[str, str], workdir: Path
) -> None:
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing: run `make system-deps`"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    listed = pd.read_csv(workdir / "recall.csv", dtype={"user_id": "str"})
    problems: list[str] = []
    with sync_playwright() as playwright:
        # Debian's browser, not one Playwright downloads; as root Chromium needs --no-sandbox
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            context = browser.new_context(
                viewport={"width": 1400, "height": 900},
                extra_http_headers={"Authorization": f"Bearer {TOKEN}"},
            )
            page = context.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            for section, label in SECTIONS:
                answer = page.goto(f"{server.url}/ui/{section}")
                assert answer is not None and answer.status == 200, section
                page.wait_for_function("Array.from(document.images).every(i => i.complete)")
                assert page.locator(f"main#section-{section}").count() == 1
                for index in range(page.locator("img").count()):
                    image = page.locator("img").nth(index)
                    assert image.evaluate("i => i.naturalWidth") > 0, (section, index)
                assert page.locator("nav a.here").inner_text() == label
                shot = page.screenshot(full_page=True, path=str(ARTIFACTS / f"{section}.png"))
                colours, inked = _painted(shot)
                assert colours > 100 and inked > 0.05, (section, colours, inked)
            assert _visible_rows(page) == min(len(listed), DRAWN_ROWS)  # campaigns is the last
            strategy = listed.strategy.value_counts().index[-1]  # the rarest: a real filter
            page.select_option("select[data-column='strategy']", strategy)
            assert _visible_rows(page) == (listed.strategy == strategy).sum()
            shown = page.locator("#recall-shown").inner_text()
            assert shown.startswith(f"{(listed.strategy == strategy).sum()} of {len(listed)}")
            page.select_option("select[data-column='strategy']", "")
            page.fill("#recall-text", listed.user_id.iloc[-1])
            assert _visible_rows(page) == 1
            page.screenshot(full_page=True, path=str(ARTIFACTS / "campaigns-filtered.png"))
        finally:
            browser.close()
    assert problems == [], problems
