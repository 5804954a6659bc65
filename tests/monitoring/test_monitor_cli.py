"""`winback score` into the ledger, then `winback monitor`, all real: a trained model in a
SQLite MLflow store, a DuckDB-built online store, the synthetic log's own labels.

The matured snapshot's realised metrics are checked against an independent computation: the
labels straight from the raw events with pandas, the metrics with sklearn. The HTML report is
opened in a real headless Chromium (Debian's, driven by Playwright; `make system-deps`
installs it)."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from playwright.sync_api import sync_playwright
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score
from typer.testing import CliRunner

from serving.ledger import entries, read_entry
from tests.tracking_seed import seeded
from tests.trained import config_data
from winback.cli.main import app

runner = CliRunner()
MATURED, OPEN = "2025-07-15", "2025-08-15"
CAMPAIGN = "monitor-2025-07-15"
POLICY = Path(__file__).parents[2] / "configs" / "recall.yaml"
HORIZON = 30
STAYING = ("visit", "view", "add_to_cart", "purchase")


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def monitored(synthetic_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("monitor")
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(config_data(synthetic_dir, seeded(folder / "work"))))
    c = str(config)
    _run("train", "-c", c)
    policy = yaml.safe_load(POLICY.read_text())
    policy["campaign"] = {"id": CAMPAIGN, "date": MATURED}
    (folder / "recall.yaml").write_text(yaml.safe_dump(policy))
    for cutoff in (MATURED, OPEN, OPEN):  # the second score of OPEN must replace the first
        _run("materialize", "-c", c, "--cutoff", cutoff, "--force")
        scores = str(folder / f"scores-{cutoff}.parquet")
        _run("score", "-c", c, "--out", scores)
        if cutoff == MATURED:  # a campaign inside the matured snapshot's label window
            policy_file, listed = str(folder / "recall.yaml"), str(folder / "recall.csv")
            recalled = _run(
                "recall", "-c", c, "-p", policy_file, "--scores", scores, "--out", listed
            )
    result = runner.invoke(app, ["monitor", "-c", c])
    report = folder / "work" / "monitor"
    return {
        "exit_code": result.exit_code,
        "output": result.output,
        "summary": json.loads((report / "summary.json").read_text()),
        "report": report,
        "ledger": folder / "work" / "ledger",
        "recall_output": recalled,
        "recall": pd.read_csv(folder / "recall.csv", dtype={"user_id": "str"}),
    }


def _labels_with_pandas(events: pd.DataFrame, cutoff: dt.date) -> pd.Series:
    """1 when a scored user has no qualifying event in [cutoff, cutoff + horizon)."""
    start = pd.Timestamp(cutoff)
    window = events[
        (events.ts >= start)
        & (events.ts < start + pd.Timedelta(days=HORIZON))
        & events.event.isin(STAYING)
    ]
    return pd.Series(1, index=pd.Index(events.user_id.unique())).drop(window.user_id.unique())


def test_matured_metrics_equal_an_independent_computation(
    monitored: dict, synthetic_dir: Path
) -> None:
    snapshot = monitored["summary"]["snapshots"][0]
    assert snapshot["cutoff"] == MATURED and snapshot["matured"]
    (entry, path), *_ = entries(monitored["ledger"])
    scored = read_entry(path).dropna(subset=["churn_probability"])
    assert (scored.status == "active").all()
    listed = monitored["recall"]
    treated = set(listed.user_id[listed.group == "treatment"])
    assert treated & set(scored.user_id), "the campaign should reach scored users"
    scored = scored[~scored.user_id.isin(treated)]  # their outcome is the campaign's doing
    events = pd.read_parquet(synthetic_dir / "events.parquet")
    churned = _labels_with_pandas(events, entry.cutoff)
    y = scored.user_id.isin(churned.index).to_numpy(dtype=float)
    p = scored.churn_probability.to_numpy()
    realised = snapshot["realised"]
    assert realised["labelled"] == len(y) and realised["churned"] == int(y.sum())
    metrics = realised["metrics"]
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert metrics["pr_auc"] == pytest.approx(average_precision_score(y, p), abs=1e-12)
    assert metrics["log_loss"] == pytest.approx(log_loss(y, p), abs=1e-12)
    top = np.argsort(-p, kind="stable")[: int(np.ceil(0.1 * len(p)))]
    assert metrics["recall_top10"] == pytest.approx(y[top].sum() / y.sum())
    assert metrics["lift_top10"] == pytest.approx(y[top].mean() / y.mean())
    low, high = realised["intervals"]["roc_auc"]
    assert low < metrics["roc_auc"] < high


def test_an_open_snapshot_gets_drift_and_expected_performance(monitored: dict) -> None:
    snapshot = monitored["summary"]["snapshots"][1]
    assert snapshot["cutoff"] == OPEN and not snapshot["matured"]
    assert snapshot["realised"] is None
    assert snapshot["score_drift"]["statistic"] == "psi"
    assert {d["statistic"] for d in snapshot["drift"]} == {"psi", "js"}
    assert 0.5 < snapshot["expected"]["roc_auc"] < 1.0
    assert snapshot["promised"]["roc_auc"] is not None
    assert set(snapshot["promised_intervals"]) >= {"roc_auc", "pr_auc", "ece"}


def test_the_recall_list_is_kept_and_named_in_the_realised_check(monitored: dict) -> None:
    kept = pd.read_parquet(next((monitored["ledger"] / "recall").rglob("*.parquet")))
    listed = monitored["recall"]
    assert sorted(kept.user_id) == sorted(listed.user_id)
    assert set(kept.campaign_id) == {CAMPAIGN} and kept.model_version.notna().all()
    assert "ledger:" in monitored["recall_output"] and "MLflow run" in monitored["recall_output"]
    (_, path), *_ = entries(monitored["ledger"])
    scored = set(read_entry(path).dropna(subset=["churn_probability"]).user_id)
    treated = len(scored & set(listed.user_id[listed.group == "treatment"]))
    notes = [f["text"] for f in monitored["summary"]["snapshots"][0]["findings"]]
    assert any(text.startswith(f"{treated:,} users contacted") for text in notes), notes


def test_rescoring_a_cutoff_replaced_its_ledger_rows(monitored: dict) -> None:
    found = entries(monitored["ledger"])
    assert [str(e.cutoff) for e, _ in found] == [MATURED, OPEN]
    for _, path in found:
        assert read_entry(path).user_id.is_unique


def test_a_stationary_log_exits_0_with_a_report(monitored: dict) -> None:
    assert monitored["exit_code"] == 0, monitored["output"]
    assert "No retrain recommended" in monitored["output"]
    html = (monitored["report"] / "monitor.html").read_text()
    for image in ("score_distribution", "drift", "metrics_over_time", "reliability"):
        assert (monitored["report"] / f"{image}.png").stat().st_size > 5_000
        assert f'src="{image}.png"' in html


def _painted(png: bytes) -> tuple[int, float]:
    """Distinct colours and the share of pixels that are not white."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    return len(np.unique(pixels, axis=0)), float((pixels < 250).any(axis=1).mean())


@pytest.mark.integration
def test_the_html_report_renders_with_its_plots_in_headless_chromium(monitored: dict) -> None:
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing: run `make system-deps`"
    with sync_playwright() as playwright:
        # Debian's browser, not one Playwright downloads; as root Chromium needs --no-sandbox
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto((monitored["report"] / "monitor.html").resolve().as_uri())
            page.wait_for_function("Array.from(document.images).every(i => i.complete)")
            images = page.locator("img")
            assert images.count() == 4
            plots = []
            for index in range(images.count()):
                image = images.nth(index)
                assert image.evaluate("i => i.naturalWidth") > 0, image.get_attribute("src")
                plots.append(image.screenshot())
            whole = page.screenshot(full_page=True)
        finally:
            browser.close()
    colours, inked = _painted(whole)
    assert colours > 100 and inked > 0.05, (colours, inked)
    for png in plots:  # each plot drawn, not an empty frame
        colours, inked = _painted(png)
        assert colours > 20 and inked > 0.02, (colours, inked)
