"""Config mistakes are reported as one readable error naming the file and the key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from core.config import ConfigError, load_config

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


BASE = """
name: t
workdir: out
events: {path: e.csv, format: csv, columns: {user_id: u, ts: t}}
churn: {mode: inactivity, horizon_days: 30, active_window_days: 60, lapsed_after_days: 90}
cutoffs: {start: 2024-01-01, end: 2024-03-01, step_days: 30}
model: {name: m}
"""


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE))
    assert config.events.path == str(tmp_path / "e.csv")
    assert config.workdir_path == tmp_path / "out"


def test_environment_variables_are_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WINBACK_TEST_DATA", "/data/logs")
    config = load_config(write(tmp_path, BASE.replace("e.csv", "${WINBACK_TEST_DATA}/e.csv")))
    assert config.events.path == "/data/logs/e.csv"


def test_cutoff_range_lists_every_step(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE))
    assert config.cutoffs.dates() == [
        dt.date(2024, 1, 1),
        dt.date(2024, 1, 31),
        dt.date(2024, 3, 1),
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("horizon_days: 30", "horizon_days: -3"), "churn.horizon_days: Input should be greater"),
        (("format: csv", "format: xlsx"), "events.format: Input should be 'csv'"),
        (("name: m", "nmae: m"), "model.nmae: Extra inputs are not permitted"),
        (("lapsed_after_days: 90", "lapsed_after_days: 10"), "cannot be both active and lapsed"),
        (("mode: inactivity", "mode: event"), "mode 'event' needs churn_events"),
        (("end: 2024-03-01", "end: 2023-03-01"), "cutoffs: Value error, end"),
    ],
)
def test_bad_keys_are_named_with_the_file(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = write(tmp_path, BASE.replace(*change))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(str(path))
    assert message in str(info.value)


def test_unreadable_or_invalid_yaml_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "name: [unclosed"))


def test_a_key_given_twice_is_an_error_not_silently_the_last(tmp_path: Path) -> None:
    path = tmp_path / "twice.yaml"
    path.write_text("name: first\nworkdir: .\nname: second\n")
    with pytest.raises(ConfigError, match=r"twice.yaml: not valid YAML: key 'name' is given twice"):
        load_config(path)


@pytest.mark.parametrize("name", ["cdnow.yaml", "demo.yaml"])
def test_shipped_configs_load(name: str) -> None:
    assert load_config(REPO / "configs" / name).name
