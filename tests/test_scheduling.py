"""The parallel run's groups stay true to the suite (tests/scheduling.py)."""

from __future__ import annotations

import pytest

from tests.scheduling import SHARED, scope


@pytest.mark.parametrize("fixture", sorted(SHARED))
def test_every_file_using_a_shared_session_fixture_is_in_its_group(
    request: pytest.FixtureRequest, fixture: str
) -> None:
    """Checked on the collected suite (a run of some files checks only those)."""
    using = {
        item.nodeid.split("::", 1)[0]
        for item in request.session.items
        if fixture in getattr(item, "fixturenames", ())
    }
    missing = using - set(SHARED[fixture])
    assert not missing, f"add {sorted(missing)} to SHARED[{fixture!r}] in tests/scheduling.py"


def test_a_grouped_file_joins_its_group_and_others_stay_alone() -> None:
    assert scope("tests/training/test_registry.py::test_x[sqlite]") == "scenario"
    assert scope("tests/cycle/test_delivery.py::test_y") == "template"
    assert scope("tests/core/test_config.py::test_z") == "tests/core/test_config.py"
