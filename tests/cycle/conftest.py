"""One trained world per session; every test works on a copy of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cycle.world import World, build, copy


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build(tmp_path_factory.mktemp("cycle-template"))


@pytest.fixture
def world(template: World, tmp_path: Path) -> World:
    return copy(template, tmp_path / "world")
