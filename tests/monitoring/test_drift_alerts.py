"""Drift planted with the generator (`--drift churn-rise`) alerts at the first open snapshot
after the score has moved; drift planted from a date (`segment-drop`, `new-channel`) alerts,
on the drifted inputs, at the first scoring after that date; the same log without drift
raises no alert over six monthly snapshots, and there CBPE's expected ROC AUC is within 0.03
of the realised one.

3,000 users over a year, trained on cutoffs to 2025-07-01, scored monthly and judged with the
last snapshot still open. About 20 s per log here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.tracking_seed import seeded
from winback.cli.main import app

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()
pytestmark = pytest.mark.slow


def _run(*args: str) -> None:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output


def _monitored(
    folder: Path,
    drift: list[str],
    cutoffs: list[str],
    as_of: str = "2025-12-20",
    trained: str = "start: 2025-03-01, end: 2025-07-01",
) -> tuple[int, dict]:
    data, work = folder / "data", seeded(folder / "work")
    _run("generate", "--users", "3000", "--days", "365", "--seed", "5", "--out", str(data), *drift)
    text = (REPO / "configs" / "demo.yaml").read_text()
    text = text.replace("../.winback/demo/data", str(data))
    text = text.replace("workdir: ../.winback/demo", f"workdir: {work}")
    lines = [
        line
        for line in text.splitlines()
        if not line.startswith(("cutoffs:", "model:", "serving:"))
    ]
    lines += [
        f"cutoffs: {{{trained}, step_days: 30}}",
        "model: {name: drift-churn, search: {trials: 1}, bootstrap_rounds: 200}",
    ]
    config = folder / "config.yaml"
    config.write_text("\n".join(lines) + "\n")
    c = str(config)
    _run("train", "-c", c)
    for cutoff in cutoffs:
        _run("materialize", "-c", c, "--cutoff", cutoff, "--force")
        _run("score", "-c", c, "--out", str(folder / f"scores-{cutoff}.parquet"))
    result = runner.invoke(app, ["monitor", "-c", c, "--as-of", as_of])
    return result.exit_code, json.loads((work / "monitor" / "summary.json").read_text())


def test_a_stationary_log_raises_no_alert_over_six_months(tmp_path: Path) -> None:
    months = [f"2025-{m:02d}-01" for m in range(7, 13)]
    code, summary = _monitored(tmp_path, [], months)
    assert code == 0, summary["verdict"]
    snapshots = summary["snapshots"]
    assert [s["matured"] for s in snapshots] == [True] * 5 + [False]
    for snapshot in snapshots[:5]:
        realised = snapshot["realised"]["metrics"]["roc_auc"]
        assert snapshot["expected"]["roc_auc"] == pytest.approx(realised, abs=0.03)


def test_planted_churn_rise_alerts_once_the_score_moves(tmp_path: Path) -> None:
    code, summary = _monitored(tmp_path, ["--drift", "churn-rise"], ["2025-12-01"])
    assert code == 1
    (snapshot,) = summary["snapshots"]
    assert snapshot["score_drift"]["value"] >= 0.1
    assert any(d["value"] >= 0.2 for d in snapshot["drift"])
    assert summary["verdict"].startswith("Retrain recommended because")


def _alerts(snapshot: dict) -> list[str]:
    return [f["text"] for f in snapshot["findings"] if f["level"] == "alert"]


@pytest.mark.parametrize(
    ("preset", "drifted", "score_alerts"),
    [
        # the free plan's activity falls: its last 30 days, and so the score, move
        ("segment-drop", ("active_days_30d", "events_30d", "events_trend_ratio_30d"), True),
        # signups come from a channel never seen: that attribute moves, the score need not
        ("new-channel", ("channel",), False),
    ],
)
def test_drift_planted_from_a_date_alerts_on_the_drifted_inputs_at_the_next_scoring(
    tmp_path: Path, preset: str, drifted: tuple[str, ...], score_alerts: bool
) -> None:
    months = ["2025-08-01", "2025-09-01", "2025-10-01"]
    step = ["--drift", preset, "--drift-from", "2025-09-01"]
    code, summary = _monitored(tmp_path, step, months, as_of="2025-10-20")
    assert code == 1, summary["verdict"]
    before, _on_the_date, after = summary["snapshots"]
    assert _alerts(before) == []  # nothing had changed yet
    # The snapshot scored on the date sees no drifted event (features end before it), and
    # matured, may alert on what happened after it; the next one is open and judged on drift.
    assert not after["matured"]
    alerts = _alerts(after)
    for name in drifted:
        assert any(f" of {name} " in text for text in alerts), (name, alerts)
    assert any(" of the score " in text for text in alerts) == score_alerts, alerts
    by_name = {d["name"]: d for d in after["drift"]}
    assert all(by_name[name]["level"] == "alert" for name in drifted)
