"""Two synthetic campaigns with heterogeneous planted effects: learn uplift from the first, target
the second by it, and compare with the risk-based policy at the same budget.

Planted (strategy `rescue`, the at-risk users' email): of the users whose current gap is 2-4
times their usual one, 60% of those who would have stayed away come back when contacted; of
the users from the paid channel, 30% of those who would have come back stay away (both: 20%
come back); everyone else does what they would have done. Lapsed users' push (`win_back`): +5 points
for everyone, an effect with nothing to target. The second campaign is planted twice, once per
policy (two counterfactual worlds from the same log), and each world is reviewed against its
own control group.
"""

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
from features.synthetic import SyntheticSpec, generate, read, write
from features.synthetic_campaign import CampaignSpec, parse_effects, plant_campaign
from features.synthetic_campaign import returned_in_window as returned_after
from recall.campaign import decisions
from recall.campaign_file import CampaignList, write_recall_list
from recall.policy import RecallPolicy
from recall.review import ALL, Review, review
from serving.materialize import materialize
from serving.online_store import read_all
from tests.recall.builders import scores_for
from tests.tracking_seed import seeded
from uplift.model import Champion
from uplift.registry import champions, prefix_of
from winback.cli.main import app

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
FIRST, SECOND = dt.date(2025, 8, 1), dt.date(2025, 9, 1)
WINDOW_DAYS = 14
EFFECTS = [
    {"share": 0.3, "strategy": "rescue", "when": {"gap_current_ratio": [2, 4], "channel": "paid"}},
    {"share": 0.8, "strategy": "rescue", "when": {"gap_current_ratio": [2, 4]}},
    {"share": -0.4, "strategy": "rescue", "when": {"channel": "paid"}},
]
PUSH_UPLIFT = {"win_back": 0.05}
runner = CliRunner()


def policy_data(campaign: str, date: dt.date, budget: float, **extra: object) -> dict[str, object]:
    return {
        "campaign": {"id": campaign, "date": date},
        "warning_line": {"probability": 0.2},
        "tiers": [{"name": "high", "min_score": 10}, {"name": "low", "min_score": 3}],
        "strategies": [
            {
                "name": "rescue",
                "when": {"status": "at_risk"},
                "channel": "email",
                "offer": "come-back-10",
                "unit_cost": 0.5,
                "save_rate": 0.1,
            },
            {
                "name": "win_back",
                "when": {"status": "lapsed"},
                "channel": "push",
                "offer": "we-miss-you",
                "unit_cost": 0.1,
                "save_rate": 0.05,
            },
        ],
        "budget": budget,
        "control_fraction": 0.5,
        **extra,
    }


@dataclass(frozen=True)
class World:
    root: Path
    config: Path
    first_csv: Path
    fit_output: str
    champions: dict[str, Champion]
    second: dict[str, pd.DataFrame]  # policy -> its decisions for the second campaign
    outcomes: dict[str, pd.DataFrame]  # policy -> planted truth per listed user
    reviews: dict[str, Review]


def _features(config: Path, date: dt.date) -> pd.DataFrame:
    return read_all(materialize(load_config(config), DuckDBEngine(), date)).to_pandas()


def _scores(features: pd.DataFrame) -> pd.DataFrame:
    """Risk rises with days since the last event (a stand-in for the churn model)."""
    return scores_for(features, 1 - np.exp(-features.recency_days / 10))


def _plant(
    data: Path, listed: pd.DataFrame, date: dt.date, features: pd.DataFrame, seed: int
) -> tuple[pd.DataFrame, frozenset[str], dt.date]:
    spec = CampaignSpec(date, WINDOW_DAYS, PUSH_UPLIFT, seed, effects=parse_effects(EFFECTS, "x"))
    planted = plant_campaign(read(data), listed, spec, features)
    events = planted.log.events
    back = frozenset(returned_after(events, spec))
    until = (events.ts.max() + pd.Timedelta(days=1)).date()
    return planted.outcomes, back, until


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """15,000 users; the first campaign lists every candidate, half held out; the second has a
    budget for about 200 contacts and power-sized control groups."""
    root = tmp_path_factory.mktemp("uplift")
    seeded(root / "work")
    write(generate(SyntheticSpec(users=15_000, days=300, seed=11)), root / "data")
    text = (REPO / "configs" / "demo.yaml").read_text()
    config = root / "demo.yaml"
    config.write_text(
        text.replace("../.winback/demo/data", str(root / "data")).replace(
            "workdir: ../.winback/demo", f"workdir: {root / 'work'}"
        )
    )
    first = _features(config, FIRST)
    plan = RecallPolicy.model_validate(policy_data("learn-1", FIRST, 1e9))
    first_csv = root / "first.csv"
    write_recall_list(decisions(_scores(first), pa_table(first), plan, {}), first_csv)
    (root / "effects.yaml").write_text(yaml.safe_dump(EFFECTS))
    simulate = ["simulate-campaign", "--data", str(root / "data"), "--campaign", str(first_csv)]
    simulate += ["--window-days", str(WINDOW_DAYS), "--effects", str(root / "effects.yaml")]
    simulate += ["--uplift", "win_back=0.05", "--config", str(config), "--seed", "1"]
    planted = runner.invoke(app, simulate)
    assert planted.exit_code == 0, planted.output

    fit = ["uplift", "fit", "-c", str(config), "--campaign", str(first_csv)]
    fitted = runner.invoke(
        app, [*fit, "--window-days", str(WINDOW_DAYS)], env={"MLFLOW_TRACKING_URI": None}
    )
    assert fitted.exit_code == 0, fitted.output
    cfg = load_config(config)
    from artifact.tracking import resolve_store

    found = champions(resolve_store(cfg, environ={}), prefix_of(cfg))

    second = _features(config, SECOND)
    power = {"minimum_detectable_effect": 0.15, "expected_return_rate": 0.7, "min_share": 0.1}
    targeting = RecallPolicy.model_validate(
        policy_data("target-2", SECOND, 150.0, control_power=power)
    )
    decided = {
        "risk": decisions(_scores(second), pa_table(second), targeting, {}),
        "uplift": decisions(_scores(second), pa_table(second), targeting, found),
    }
    outcomes, reviews = {}, {}
    for name, made in decided.items():
        listed = made[made.group != "skipped"]
        truth, back, until = _plant(root / "data", listed, SECOND, second, seed=2)
        outcomes[name] = truth
        campaign = CampaignList("target-2", SECOND, listed.reset_index(drop=True))
        reviews[name] = review(campaign, back, WINDOW_DAYS, until)
    return World(root, config, first_csv, fitted.output, found, decided, outcomes, reviews)


def pa_table(features: pd.DataFrame):  # type: ignore[no-untyped-def]
    import pyarrow as pa

    return pa.Table.from_pandas(features, preserve_index=False)


def saved(truth: pd.DataFrame) -> int:
    """Users the contact brought back, minus those it drove away (the planted truth)."""
    treated = truth[truth.group == "treatment"]
    return int(treated.planted.sum() - treated.driven_away.sum())


def test_the_fit_finds_the_targetable_strategy_and_only_it(world: World) -> None:
    assert set(world.champions) == {"rescue"}, world.fit_output
    rescue = world.champions["rescue"].model.metadata.metrics
    assert rescue["qini_low"] > 0, rescue
    client = mlflow.MlflowClient(f"sqlite:///{world.root / 'work' / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("demo-uplift").experiment_id])
    assert {run.data.params["strategy"] for run in runs} == {"rescue", "win_back"}
    for run in runs:
        assert {"qini", "qini_low", "qini_high", "auuc", "auuc_low", "auuc_high"} <= set(
            run.data.metrics
        )
        assert {"qini_rescue.png", "uplift_deciles_rescue.png"} <= {
            a.path for a in client.list_artifacts(run.info.run_id)
        } or run.data.params["strategy"] == "win_back"
    aliases = client.get_registered_model("demo-churn-uplift-rescue").aliases
    assert set(aliases) == {"champion", "challenger"}
    push = client.get_registered_model("demo-churn-uplift-win_back").aliases
    assert set(push) == {"challenger"}  # its Qini interval does not lie above 0


def test_uplift_targeting_saves_at_least_a_fifth_more_users_at_the_same_budget(
    world: World,
) -> None:
    truth = {name: saved(outcome) for name, outcome in world.outcomes.items()}
    measured = {name: r.table.set_index("strategy").loc[ALL] for name, r in world.reviews.items()}
    spent = {name: made.cost.sum() for name, made in world.second.items()}
    print(
        {
            name: (
                truth[name],
                round(m.saved_users, 1),
                round(m.saved_low, 1),
                round(m.saved_high, 1),
            )
            for name, m in measured.items()
        },
        spent,
    )
    assert abs(spent["uplift"] - spent["risk"]) <= 1.0 and max(spent.values()) <= 150.0
    assert truth["uplift"] >= 1.2 * max(truth["risk"], 1)
    uplift, risk = measured["uplift"], measured["risk"]
    assert uplift.saved_low > 0  # the review finds the saves against its own control group
    assert uplift.saved_users >= 1.2 * max(risk.saved_users, 1)
    assert uplift.saved_low > risk.saved_users


def test_users_with_planted_negative_effects_are_not_contacted_by_uplift(world: World) -> None:
    truth = world.outcomes["uplift"]
    made = world.second["uplift"].set_index("user_id")
    treated = truth[truth.group == "treatment"]
    assert not (treated.effect < 0).any(), treated[treated.effect < 0]
    rescue = made[made.strategy == "rescue"]
    assert set(rescue.rule) == {"uplift"} and set(made[made.strategy == "win_back"].rule) <= {
        "save_rate"
    }
    assert (rescue.skip == "negative_uplift").sum() > 0
    # the risk-based policy, blind to the effect, contacts many of them
    risk = world.outcomes["risk"]
    assert (risk[risk.group == "treatment"].effect < 0).sum() > 10


def test_the_review_reports_the_power_of_power_sized_control_groups(world: World) -> None:
    table = world.reviews["uplift"].table.set_index("strategy")
    rescue = table.loc["rescue"]
    assert rescue.planned_mde == 0.15 and 0 < rescue.mde < 1 and 0 < rescue.power <= 1
    shares = world.second["uplift"].query("group != 'skipped'").groupby("strategy").control_share
    assert (shares.nunique() == 1).all() and (shares.first() >= 0.1).all()
    assert "rescue" in world.reviews["uplift"].targeting


def test_fitting_before_the_window_is_over_is_refused_in_one_line(world: World) -> None:
    fit = ["uplift", "fit", "-c", str(world.config), "--campaign", str(world.first_csv)]
    result = runner.invoke(app, [*fit, "--window-days", "200"], env={"MLFLOW_TRACKING_URI": None})
    assert result.exit_code == 2
    assert "its 200-day window ends 2026-02-17 but events stop at" in result.output
    assert "fit once the window is over" in result.output and "Traceback" not in result.output
