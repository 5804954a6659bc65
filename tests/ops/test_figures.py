"""The page's figures are the recall policy's own: layers equal the decisions' segments and
tiers, reasons are read from the scores' reasons JSON, shares add up per layer."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from features.spec import Feature
from ops.campaigns import RULE, recall_rows
from ops.layers import STATUSES, band_counts, layers, status_by_tier
from ops.sections import LIST_FILTERS
from ops.why import rollup, top_feature
from recall.campaign import decisions
from recall.scores import SCORE_COLUMNS
from recall.selection import recall_list
from tests.recall.builders import policy, users

FEATURES = ("recency_days", "events_30d", "channel", "value_total")
CATALOG = [Feature(name, "unit", f"what {name} means", "family") for name in FEATURES]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """Scored users with reasons of varied features (first one the strongest)."""
    table = users(3_000, seed=4)
    rng = np.random.default_rng(5)
    picks = rng.choice(len(FEATURES), size=(len(table), 2))
    table["reasons"] = [
        json.dumps(
            [
                {"feature": FEATURES[i], "value": 1.0, "contribution": 0.5, "sentence": f"s{i}"}
                for i in pick
            ]
        )
        for pick in picks
    ]
    table["top_reason"] = [f"about {FEATURES[pick[0]]} {n}" for n, pick in enumerate(picks)]
    active = table.status == "active"
    table.loc[~active, ["reasons", "top_reason"]] = ["[]", None]
    return table


def _store(frame: pd.DataFrame) -> pa.Table:
    features = frame.drop(columns=[c for c in SCORE_COLUMNS if c not in ("user_id", "cutoff")])
    return pa.Table.from_pandas(features.drop(columns=["risk_percentile", "rank", "reasons"]))


def test_layers_are_the_decisions_segments_and_tiers(frame: pd.DataFrame) -> None:
    plan = policy()
    scores = frame[[*SCORE_COLUMNS, "risk_percentile", "rank", "reasons"]]
    ours = layers(scores, _store(frame), plan).users.set_index("user_id")
    decided = decisions(scores, _store(frame), plan, {}).set_index("user_id").loc[ours.index]
    assert (ours.status == decided.segment.fillna("active")).all()
    assert (ours.tier == decided.tier).all()
    assert set(ours.status) <= set(STATUSES) and (ours.status == "at_risk").any()


def test_counts_add_up(frame: pd.DataFrame) -> None:
    scores = frame[[*SCORE_COLUMNS, "risk_percentile", "rank", "reasons"]]
    layered = layers(scores, _store(frame), policy())
    table = status_by_tier(layered)
    assert table.loc["total", "total"] == len(frame)
    assert (
        table.drop(index="total")["total"]
        == table.drop(index="total").drop(columns="total").sum(axis=1)
    ).all()
    assert band_counts(layered).sum() == frame.churn_probability.notna().sum()
    line = policy().warning_line.probability
    above = (frame.status == "active") & (frame.churn_probability >= line)
    assert layered.above_line == above.sum() and layered.line == line


def test_top_feature_reads_the_first_reason_of_the_json(frame: pd.DataFrame) -> None:
    expected = frame.reasons.map(lambda text: (json.loads(text) or [{}])[0].get("feature"))
    assert top_feature(frame.reasons).fillna("none").tolist() == expected.fillna("none").tolist()


def test_rollup_shares_per_layer_equal_a_direct_count(frame: pd.DataFrame) -> None:
    scores = frame[[*SCORE_COLUMNS, "risk_percentile", "rank", "reasons"]]
    layered = layers(scores, _store(frame), policy())
    table = rollup(layered, CATALOG)
    scored = layered.scored.assign(
        first=lambda f: f.reasons.map(lambda t: json.loads(t)[0]["feature"])
    )
    direct = scored.groupby(["status", "tier", "risk_band", "first"]).size()
    ours = table.set_index(["status", "tier", "risk_band", "feature"])["users"]
    assert ours.sort_index().tolist() == direct.sort_index().tolist()
    shares = table.groupby(["status", "tier", "risk_band"])["share"].sum()
    np.testing.assert_allclose(shares, 1.0)
    assert table.example.str.startswith("about ").all()  # a sentence of that layer's users
    assert (table.example.str.split().str[1] == table.feature).all()
    assert table.description.str.startswith("what ").all()
    assert table.status.iloc[0] == "at_risk"  # at risk first


def test_the_list_keeps_the_rule_column_and_words_every_reason(frame: pd.DataFrame) -> None:
    scores = frame[[*SCORE_COLUMNS, "risk_percentile", "rank", "reasons"]]
    listed = recall_list(decisions(scores, _store(frame), policy(), {}))
    kept = recall_rows(listed, scores)  # no uplift champion: every user by the save-rate rule
    assert (kept[RULE] == "save_rate").all()
    ruled = listed.assign(rule=np.where(np.arange(len(listed)) % 2, "uplift", "save_rate"))
    rows = recall_rows(ruled, scores)
    assert (rows[RULE] == ruled[RULE]).all() and RULE in LIST_FILTERS
    first = rows.iloc[0]
    stored = json.loads(scores.set_index("user_id").loc[first.user_id, "reasons"])
    assert first.reasons == "; ".join(r["sentence"] for r in stored)
    unscored = rows[rows.segment != "at_risk"]
    assert len(unscored) and unscored.reasons.str.startswith("last seen ").all()
