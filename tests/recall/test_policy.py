"""Policy mistakes are one readable error naming the file and the key; the shipped policy loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import ConfigError
from recall.policy import Cell, MeasuredSaveRate, load_policy
from tests.recall.builders import policy

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "configs" / "recall.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


def test_the_shipped_policy_covers_every_cell_once() -> None:
    loaded = load_policy(SHIPPED)
    table = loaded.strategy_table()
    assert table[Cell("at_risk", "high", "critical")].name == "vip_call_back"
    assert table[Cell("lapsed", "low", None)].channel == "none"
    assert table[Cell("new", "medium", None)].name == "onboarding"
    assert len(table) == 4 * 3 + 2 * 3 + 3  # at_risk x bands x tiers, lapsed+dormant, new


def test_contact_files_resolve_against_the_policy_folder(tmp_path: Path) -> None:
    text = SHIPPED.read_text().replace("contact_history: null", "contact_history: c.csv")
    assert load_policy(write(tmp_path, text)).contact_history == str(tmp_path / "c.csv")


def test_a_measured_save_rate_replaces_the_prior() -> None:
    measured = MeasuredSaveRate(save_rate=0.31, low=0.1, high=0.5, campaign="c1", window_days=21)
    strategy = policy().strategies[0].model_copy(update={"measured": measured})
    assert (strategy.save_rate, strategy.expected_save_rate) == (0.2, 0.31)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "probability: 0.3 ",
            "{probability: 0.3, top_percent: 20} ",
            "warning_line: Value error, give exactly one of probability or top_percent",
        ),
        ("budget: 3000", "budjet: 3000", "budjet: Extra inputs are not permitted"),
        ("control_fraction: 0.2", "control_fraction: 1.5", "control_fraction: Input should be"),
        ("channel: sms", "channel: fax", "strategies.0.channel: Input should be"),
        (
            "tier: [medium, low]",
            "tier: [medium, lowest]",
            "strategies: Value error, at_risk_coupon: unknown tier ['lowest']",
        ),
        (
            "status: [lapsed, dormant], tier: low}",
            "status: [lapsed, dormant], tier: [low, medium]}",
            "win_back_valuable and let_go both cover ('lapsed', 'medium', None)",
        ),
        ("when: {status: new}", "when: {status: new, band: high}", "band applies to status"),
        ("{name: low, min_score: 3}", "{name: low, min_score: 4}", "last tier needs min_score 3"),
        ("{name: high, min_score: 12}", "{name: high, min_score: 16}", "above the top score 15"),
        ("channel: none", "channel: none\n    unit_cost: 1", "channel none means no contact"),
        ("offer: getting-started", "offer: ''", "channel in_app needs an offer"),
    ],
)
def test_mistakes_name_the_file_and_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = SHIPPED.read_text()
    assert old in text
    path = write(tmp_path, text.replace(old, new, 1))
    with pytest.raises(ConfigError) as error:
        load_policy(path)
    assert str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)


def test_an_unreadable_policy_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read policy"):
        load_policy(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_policy(write(tmp_path, "budget: [1,"))


def test_a_cell_may_allow_several_contact_strategies_but_let_go_stands_alone() -> None:
    strategies = [dict(s) for s in policy().model_dump()["strategies"]]
    strategies[1]["when"] = {"status": ["at_risk"]}  # email now also covers the high tier
    both = policy(strategies=strategies)
    allowed = [s.name for cell, s in both.allowed() if cell == Cell("at_risk", "high", "high")]
    assert allowed == ["rescue_sms", "rescue_email"]
    assert both.strategy_table()[Cell("at_risk", "high", "high")].name == "rescue_sms"
    strategies[2]["when"] = {"status": ["lapsed", "dormant"]}  # win_back over let_go's cells
    with pytest.raises(ValueError, match=r"win_back and let_go both cover .* allows no other"):
        policy(strategies=strategies)


def test_control_power_and_exploration_are_checked() -> None:
    power = {"minimum_detectable_effect": 0.05, "expected_return_rate": 0.3}
    assert policy(control_power=power).control_power is not None
    with pytest.raises(ValueError, match=r"min_share 0\.6 is above max_share 0\.5"):
        policy(control_power={**power, "min_share": 0.6})
    with pytest.raises(ValueError, match="exploration"):
        policy(exploration=1.0)
