"""CDNOW monitored through 1998: a model trained on cutoffs to 1997-12, the online store
materialized and scored on the first of every month of 1998, then `winback monitor`. The
realised metrics of every matured snapshot must equal a computation straight from the raw
text file (pandas for who was active and who churned, sklearn for the metrics), so neither
the labels nor the metrics lean on the product's own point-in-time code."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score
from typer.testing import CliRunner

from serving.ledger import entries, read_entry
from tests.tracking_seed import seeded
from winback.cli.main import app

REPO = Path(__file__).resolve().parents[2]
LOG = REPO / "data" / "cdnow" / "CDNOW_master.txt"
MONTHS = [dt.date(1998, month, 1) for month in range(1, 7)]
LOG_END = dt.date(1998, 7, 1)  # the first day the log does not cover
runner = CliRunner()
pytestmark = pytest.mark.slow


def _run(*args: str) -> None:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("cdnow-monitor")
    data = yaml.safe_load((REPO / "configs" / "cdnow.yaml").read_text())
    data["workdir"] = str(seeded(folder / "work"))
    data["events"]["path"] = str(LOG)
    data["cutoffs"]["end"] = "1997-12-31"
    # one setting of one family, fewer resamples: what is checked is the monitor's
    # arithmetic on whatever the champion scored
    data["model"].update(search={"trials": 1}, candidates=["lightgbm"], bootstrap_rounds=200)
    config = folder / "cdnow.yaml"
    config.write_text(yaml.safe_dump(data))
    c = str(config)
    _run("train", "-c", c)
    for month in MONTHS:
        _run("materialize", "-c", c, "--cutoff", month.isoformat(), "--force")
        _run("score", "-c", c, "--out", str(folder / f"scores-{month}.parquet"))
    result = runner.invoke(app, ["monitor", "-c", c])
    assert result.exit_code in (0, 1), result.output
    work = folder / "work"
    return {
        "config": data,
        "summary": json.loads((work / "monitor" / "summary.json").read_text()),
        "ledger": {entry.cutoff: read_entry(path) for entry, path in entries(work / "ledger")},
    }


@pytest.fixture(scope="module")
def purchases() -> pd.DataFrame:
    raw = pd.read_csv(LOG, sep=r"\s+", dtype={"customer_id": str, "date": str})
    return raw.assign(day=pd.to_datetime(raw["date"], format="%Y%m%d"))[["customer_id", "day"]]


def _labels(purchases: pd.DataFrame, cutoff: dt.date, churn: dict) -> pd.Series:
    """Active at T: a purchase on one of the `active_window_days` days before T (with the
    lapse window as long, nobody is dormant). Churned (1): no purchase in [T, T + horizon)."""
    t = pd.Timestamp(cutoff)
    assert churn["active_window_days"] == churn["lapsed_after_days"]
    recent = purchases[
        (purchases.day >= t - pd.Timedelta(days=churn["active_window_days"])) & (purchases.day < t)
    ]
    future = purchases[
        (purchases.day >= t) & (purchases.day < t + pd.Timedelta(days=churn["horizon_days"]))
    ]
    active = pd.Index(recent.customer_id.unique())
    return pd.Series((~active.isin(future.customer_id)).astype(float), index=active)


def test_every_snapshot_is_in_the_ledger_and_the_early_ones_matured(monitored: dict) -> None:
    horizon = dt.timedelta(days=monitored["config"]["churn"]["horizon_days"])
    snapshots = monitored["summary"]["snapshots"]
    assert [s["cutoff"] for s in snapshots] == [m.isoformat() for m in MONTHS]
    assert [s["matured"] for s in snapshots] == [m + horizon <= LOG_END for m in MONTHS]
    assert sum(s["matured"] for s in snapshots) == 4  # January to April
    assert monitored["summary"]["observed_until"] == LOG_END.isoformat()


def test_realised_metrics_equal_an_independent_computation_from_the_raw_log(
    monitored: dict, purchases: pd.DataFrame
) -> None:
    churn = monitored["config"]["churn"]
    matured = [s for s in monitored["summary"]["snapshots"] if s["matured"]]
    for snapshot in matured:
        cutoff = dt.date.fromisoformat(snapshot["cutoff"])
        truth = _labels(purchases, cutoff, churn)
        rows = monitored["ledger"][cutoff]
        scored = rows.dropna(subset=["churn_probability"]).set_index("user_id")
        assert set(scored.index) == set(truth.index), cutoff  # the same active users
        y = truth.reindex(scored.index).to_numpy()
        p = scored["churn_probability"].to_numpy(dtype=float)
        realised = snapshot["realised"]
        assert (realised["labelled"], realised["churned"]) == (len(y), int(y.sum())), cutoff
        metrics = realised["metrics"]
        assert metrics["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
        assert metrics["pr_auc"] == pytest.approx(average_precision_score(y, p), abs=1e-12)
        assert metrics["log_loss"] == pytest.approx(log_loss(y, p), abs=1e-12)
        top = np.argsort(-p, kind="stable")[: int(np.ceil(0.1 * len(p)))]
        assert metrics["recall_top10"] == pytest.approx(y[top].sum() / y.sum())
