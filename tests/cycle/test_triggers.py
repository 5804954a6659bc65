"""Who may be chosen today: users entering a segment, not those who stay in one."""

from __future__ import annotations

import pandas as pd

from cycle.triggers import entered, segments_today
from tests.recall.builders import policy, users


def frame(segments: dict[str, str | None]) -> pd.DataFrame:
    return pd.DataFrame({"user_id": list(segments), "segment": list(segments.values())})


def test_entering_a_segment_triggers_staying_in_it_does_not() -> None:
    before = frame({"a": None, "b": "at_risk", "c": "at_risk", "d": "lapsed", "e": None})
    today = frame({"a": "at_risk", "b": "at_risk", "c": "lapsed", "d": None, "e": None, "f": "new"})
    assert entered(today, before).tolist() == [True, False, True, False, False, True]


def test_the_first_cycle_takes_everyone_in_a_segment() -> None:
    today = frame({"a": "at_risk", "b": None, "c": "dormant"})
    assert entered(today, None).tolist() == [True, False, True]


def test_segments_are_the_ones_the_recall_list_uses() -> None:
    scored = users(500, seed=4)
    plan = policy(warning_line={"probability": 0.5})
    today = segments_today(scored, plan).set_index("user_id").segment
    active = scored.set_index("user_id")
    at_risk = (active.status == "active") & (active.churn_probability >= 0.5)
    assert (today[at_risk[at_risk].index] == "at_risk").all()
    assert today[active.status == "active"].isin(["at_risk", None]).all()
    lapsed = active.status == "lapsed"
    assert (today[lapsed[lapsed].index] == "lapsed").all()
