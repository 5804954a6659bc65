"""bentofile.yaml installs the versions the suite runs with (constraints.txt), so a Bento is
the tested service (building and serving one is in test_fleet.py)."""

from __future__ import annotations

import re

import yaml

from tests.serving.served import REPO


def _pins(lines: list[str]) -> dict[str, str]:
    found = (re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==(\S+)$", line.strip()) for line in lines)
    return {m.group(1).lower(): m.group(2) for m in found if m}


def test_every_bento_package_is_pinned_as_in_constraints() -> None:
    bento = yaml.safe_load((REPO / "bentofile.yaml").read_text())
    packages = bento["python"]["packages"]
    pinned = _pins(packages)
    assert len(pinned) == len(packages), "every package in bentofile.yaml has an exact pin"
    tested = _pins((REPO / "constraints.txt").read_text().splitlines())
    assert {name: tested.get(name) for name in pinned} == pinned
