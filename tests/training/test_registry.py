"""Aliases: the first model is champion; a model must beat the champion, re-scored on the same
test snapshot, to take its place; people can move the champion by hand."""

from __future__ import annotations

import numpy as np
import pytest

from artifact.registry import CHALLENGER, CHAMPION, champion_version, load_version
from tests.training.conftest import Scenario
from training.config import PromotionConfig
from training.errors import TrainingError
from training.metrics import evaluate
from training.registry import Snapshot, _compare, promote, versions


def aliases(scenario: Scenario) -> dict[str, str]:
    found = scenario.store.client().get_registered_model(scenario.name).aliases
    return {name: str(version) for name, version in found.items()}


def decisions(scenario: Scenario) -> list[str]:
    client = scenario.store.client()
    runs = [v.run_id for v in client.search_model_versions(f"name = '{scenario.name}'")]
    return [client.get_run(run).data.tags["champion_decision"] for run in runs if run]


def test_the_first_model_becomes_champion(scenario: Scenario) -> None:
    """The first registered model takes the alias (two trainings raced for it here)."""
    assert any(reason.startswith("no champion yet; ECE ") for reason in decisions(scenario))
    assert scenario.first_champion in {"1", "2"}
    holder = scenario.store.client().get_model_version(scenario.name, scenario.first_champion)
    run = scenario.store.client().get_run(str(holder.run_id))
    assert run.data.tags["champion_decision"].startswith("no champion yet; ECE ")


def test_a_worse_model_stays_challenger(scenario: Scenario) -> None:
    worse = scenario.worse.decision
    assert not worse.promoted
    assert worse.champion in {"1", "2"}
    assert worse.champion_auc is not None and worse.challenger_auc < worse.champion_auc
    assert "not above the margin" in worse.reason


def test_every_check_is_listed_passed_or_failed(scenario: Scenario) -> None:
    for decision in (scenario.worse.decision, scenario.better.decision):
        assert [check.name for check in decision.checks] == ["roc_auc", "log_loss", "ece"]
        for check in decision.checks:
            assert str(check).endswith(": pass" if check.passed else ": FAIL")
            assert str(check) in decision.reason
    assert scenario.worse.decision.failed[0] == "roc_auc"
    assert scenario.better.decision.failed == []


def test_a_better_ranked_but_badly_calibrated_challenger_is_not_promoted(
    scenario: Scenario,
) -> None:
    """The champion's own scores shifted to overstate risk (claimed to rank better, too): the
    ROC AUC and log loss checks pass, the scores are far off as probabilities, ECE fails."""
    better = scenario.better
    test = better.data.test
    y = test["label"].to_numpy("float64")
    holder = champion_version(scenario.store, scenario.name)
    assert holder is not None
    champion = load_version(scenario.store, scenario.name, holder)
    shifted = np.clip(champion.predict_proba(test) + 0.3, 0, 1 - 1e-6)
    challenger = evaluate(y, shifted, is_probability=True)
    challenger["roc_auc"] = float(challenger["roc_auc"] or 0) + 0.05  # and it ranks better
    rules = PromotionConfig(min_auc_gain=0.0, max_log_loss_increase=10.0, max_ece=0.05)
    judged = Snapshot(better.data.split.test, test, y)
    decision = _compare(scenario.store, scenario.name, "99", challenger, judged, rules)
    assert not decision.promoted
    assert decision.failed == ["ece"]
    assert "ECE" in decision.reason and "FAIL" in decision.reason
    assert decision.champion == holder


def test_a_better_model_is_promoted(scenario: Scenario) -> None:
    better = scenario.better.decision
    assert better.promoted and better.champion == scenario.better.version
    assert better.champion_auc is not None and better.challenger_auc > better.champion_auc
    assert aliases(scenario)[CHAMPION] == scenario.better.version
    assert aliases(scenario)[CHALLENGER] == scenario.better.version


def test_versions_list_aliases_and_metrics_newest_first(scenario: Scenario) -> None:
    found = versions(scenario.store, scenario.name)
    assert [v.version for v in found] == ["4", "3", "2", "1"]
    assert set(found[0].aliases) == {CHAMPION, CHALLENGER}
    assert found[0].metrics["model/test_roc_auc"] == pytest.approx(
        scenario.better.decision.challenger_auc
    )


def test_promote_by_hand_moves_only_the_champion(scenario: Scenario) -> None:
    before = aliases(scenario)
    promote(scenario.store, scenario.name, "3")
    try:
        assert champion_version(scenario.store, scenario.name) == "3"
        assert aliases(scenario)[CHALLENGER] == before[CHALLENGER]
    finally:
        promote(scenario.store, scenario.name, before[CHAMPION])


def test_promoting_a_version_that_does_not_exist_is_a_clear_error(scenario: Scenario) -> None:
    with pytest.raises(TrainingError, match="has no version 99"):
        promote(scenario.store, scenario.name, "99")
