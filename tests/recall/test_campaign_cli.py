"""End to end through the CLI: a synthetic log with a planted campaign effect, the recall
list built from it, and a review that must find exactly the uplifts that were planted."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from core.config import load_config
from features.engine import DuckDBEngine
from features.synthetic import SyntheticSpec, generate, write
from serving.materialize import materialize
from serving.online_store import read_all
from tests.recall.builders import scores_for
from tests.tracking_seed import seeded
from winback.cli.main import app

REPO = Path(__file__).resolve().parents[2]
DATE = dt.date(2025, 9, 1)
WINDOW_DAYS = 21
PLANTED = {"sms_rescue": 0.10, "email_rescue": 0.0, "push_win_back": 0.08}
runner = CliRunner()

POLICY = {
    "campaign": {"id": "synthetic-1", "date": DATE},
    "warning_line": {"probability": 0.2},
    "tiers": [{"name": "high", "min_score": 10}, {"name": "low", "min_score": 3}],
    "strategies": [
        {
            "name": "sms_rescue",
            "when": {"status": "at_risk", "tier": "high"},
            "channel": "sms",
            "offer": "sms-20",
            "unit_cost": 1.0,
            "save_rate": 0.2,
        },
        {
            "name": "email_rescue",
            "when": {"status": "at_risk", "tier": "low"},
            "channel": "email",
            "offer": "mail-10",
            "unit_cost": 0.1,
            "save_rate": 0.1,
        },
        {
            "name": "push_win_back",
            "when": {"status": "lapsed"},
            "channel": "push",
            "offer": "push-15",
            "unit_cost": 0.05,
            "save_rate": 0.05,
        },
    ],
    "budget": 10_000,
    "frequency_cap_days": 14,
    "contact_history": "contacts.csv",
    "opt_outs": "opt_outs.csv",
    "control_fraction": 0.5,  # a big control group: a few thousand users must show the effect
}


@dataclass(frozen=True)
class World:
    root: Path
    config: Path
    policy: Path
    scores: Path
    workdir: Path
    blocked: frozenset[str]  # opted out of every channel, or contacted last week


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """6,000 synthetic users, an online store as of the campaign date, and scores for it."""
    root = tmp_path_factory.mktemp("campaign")
    seeded(root / "work")
    log = generate(SyntheticSpec(users=6_000, days=300, seed=11))
    write(log, root / "data")
    text = (REPO / "configs" / "demo.yaml").read_text()
    config = root / "demo.yaml"
    config.write_text(
        text.replace("../.winback/demo/data", str(root / "data")).replace(
            "workdir: ../.winback/demo", f"workdir: {root / 'work'}"
        )
    )
    features = read_all(materialize(load_config(config), DuckDBEngine(), DATE)).to_pandas()
    scores = scores_for(features, 1 - np.exp(-features.recency_days / 10))
    scores.to_parquet(root / "scores.parquet")

    blocked = features.user_id.iloc[:40].tolist()
    pd.DataFrame(
        {"user_id": np.repeat(blocked[:20], 4), "channel": ["email", "sms", "push", "in_app"] * 20}
    ).to_csv(root / "opt_outs.csv", index=False)
    pd.DataFrame(
        {"user_id": blocked[20:], "channel": "email", "contacted_at": "2025-08-25T10:00:00Z"}
    ).to_csv(root / "contacts.csv", index=False)
    (root / "policy.yaml").write_text(yaml.safe_dump(POLICY, sort_keys=False))
    return World(
        root=root,
        config=config,
        policy=root / "policy.yaml",
        scores=root / "scores.parquet",
        workdir=root / "work",
        blocked=frozenset(blocked),
    )


@pytest.fixture(scope="module")
def recall_csv(world: World) -> Path:
    out = world.root / "recall.csv"
    args = ["recall", "-c", str(world.config), "-p", str(world.policy)]
    result = runner.invoke(app, [*args, "--scores", str(world.scores), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "budget used: " in result.output and "sms_rescue" in result.output
    return out


def test_recall_without_scores_says_they_are_needed(tmp_path: Path) -> None:
    args = ["recall", "-c", "c.yaml", "-p", "p.yaml", "--out", str(tmp_path / "r.csv")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "recall needs churn scores: pass --scores" in result.output


def test_recall_with_a_bad_policy_names_the_key(world: World, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**POLICY, "budget": -5}, sort_keys=False))
    args = ["recall", "-c", str(world.config), "-p", str(bad), "--scores", str(world.scores)]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "r.csv")])
    assert result.exit_code == 2 and f"{bad}: budget: Input should be greater" in result.output


@pytest.mark.slow
def test_the_list_has_every_strategy_and_none_of_the_blocked(
    world: World, recall_csv: Path
) -> None:
    listed = pd.read_csv(recall_csv)
    assert set(listed.strategy) == set(PLANTED)
    assert not world.blocked & set(listed.user_id)
    assert set(listed.group) == {"treatment", "control"}
    assert listed.why.notna().all() and (listed.campaign_id == "synthetic-1").all()


@pytest.mark.slow
def test_review_recovers_the_planted_uplifts(world: World, recall_csv: Path) -> None:
    uplifts = [arg for name, u in PLANTED.items() for arg in ("--uplift", f"{name}={u}")]
    simulate = ["simulate-campaign", "--data", str(world.root / "data")]
    simulate += ["--campaign", str(recall_csv), "--window-days", str(WINDOW_DAYS), *uplifts]
    planted = runner.invoke(app, [*simulate, "--seed", "2"])
    assert planted.exit_code == 0, planted.output
    assert "planted campaign effect" in planted.output

    args = ["review", "-c", str(world.config), "--campaign", str(recall_csv)]
    args += ["--window-days", str(WINDOW_DAYS), "--update-policy", str(world.policy)]
    result = runner.invoke(app, args, env={"MLFLOW_TRACKING_URI": None})
    assert result.exit_code == 0, result.output

    report = world.workdir / "reviews" / "synthetic-1"
    table = pd.read_csv(report / "review.csv").set_index("strategy")
    shown = next(line for line in result.output.splitlines() if line.lstrip().startswith("sms_"))
    assert f"{table.loc['sms_rescue'].cost_per_saved:,.2f}" in shown
    for strategy, uplift in PLANTED.items():
        row = table.loc[strategy]
        assert row.ci_low <= uplift <= row.ci_high, (strategy, uplift, row.to_dict())
        assert row.significant == (uplift > 0), (strategy, row.to_dict())
    assert {path.name for path in report.glob("*.png")} == {
        "uplift.png",
        "return_rates.png",
        "durable.png",
    }
    durable = pd.read_csv(report / "durable.csv").set_index(["strategy", "outcome"])
    for strategy in PLANTED:  # the durable table's "returned" is the review's return rate
        came_back = durable.loc[(strategy, "returned")]
        assert np.isclose(came_back.difference, table.loc[strategy].uplift)
        # a planted return is one visit: whoever it brought back is lapsed again at once, but
        # 60 days after 2025-09-22 are not in the log (it ends 2025-10-28) yet
        lapsed = durable.loc[(strategy, "lapsed_again")]
        assert np.isnan(lapsed.difference) and lapsed.matures_on == "2025-11-21"
    assert "Durable outcomes" in (report / "review.html").read_text()
    assert "did they stay?" in result.output
    assert all(name in (report / "review.html").read_text() for name in PLANTED)

    client = mlflow.MlflowClient(f"sqlite:///{world.workdir / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("demo-reviews")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1 and "uplift.sms_rescue" in runs[0].data.metrics
    updated = yaml.safe_load((world.root / "policy.reviewed-synthetic-1.yaml").read_text())
    measured = {s["name"]: s.get("measured") for s in updated["strategies"]}
    assert measured["email_rescue"] is None and measured["sms_rescue"]["campaign"] == "synthetic-1"


def test_simulate_campaign_rejects_a_malformed_uplift(recall_csv: Path, world: World) -> None:
    args = ["simulate-campaign", "--data", str(world.root / "data"), "--campaign", str(recall_csv)]
    result = runner.invoke(app, [*args, "--window-days", "7", "--uplift", "sms_rescue:0.1"])
    assert result.exit_code == 2 and "expected STRATEGY=UPLIFT" in result.output
