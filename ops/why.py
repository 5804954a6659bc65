"""Why each layer is leaving: the share of its scored users whose top reason is each feature.

The reasons are the ones the service and batch scoring give every user (`serving.reasons`:
LightGBM's own contributions, worded in the feature's unit), read from the scores table, not
worked out again; a layer is (status, tier, band) as in `layers`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from features.spec import Feature
from ops.layers import BAND_ORDER, SCORED_STATUSES, Layers

LAYER = ["status", "tier", "risk_band"]
# The reasons JSON of the scores table starts with the first reason's feature name
# (serving.reasons.Explained.json: `[{"feature": "<name>", ...`); names are identifiers.
_FIRST_FEATURE = r'^\[\{"feature": "([^"\\]*)"'


def top_feature(reasons: pd.Series) -> pd.Series:
    """The feature of each row's first (strongest) reason; null for rows without reasons."""
    return reasons.astype("str").str.extract(_FIRST_FEATURE, expand=False)


def _order(table: pd.DataFrame, tiers: Sequence[str]) -> pd.DataFrame:
    """At risk before active, tiers highest first, bands critical first, then by share."""
    orders = {
        "status": {status: i for i, status in enumerate(SCORED_STATUSES)},
        "tier": {tier: i for i, tier in enumerate(tiers)},
        "risk_band": {band: i for i, band in enumerate(BAND_ORDER)},
    }
    keys = pd.DataFrame({name: table[name].map(order) for name, order in orders.items()})
    keys["share"] = -table["share"]
    order = keys.sort_values(list(keys.columns), kind="stable").index
    return table.loc[order].reset_index(drop=True)


def rollup(layered: Layers, catalog: Sequence[Feature]) -> pd.DataFrame:
    """One row per layer and top-reason feature: users, share of the layer, the feature's
    description and an example sentence (that of the layer's median-risk user with it)."""
    scored = layered.scored.assign(feature=lambda f: top_feature(f["reasons"]))
    scored = scored[scored["feature"].notna()]
    group = [*LAYER, "feature"]
    ordered = scored.sort_values([*group, "churn_probability", "user_id"])
    position = ordered.groupby(group, sort=False).cumcount()
    size = ordered.groupby(group, sort=False)["user_id"].transform("size")
    examples = ordered.loc[position == size // 2, [*group, "top_reason"]]
    counts = scored.groupby(group).size().rename("users").reset_index()
    totals = scored.groupby(LAYER).size().rename("layer_users").reset_index()
    table = counts.merge(totals, on=LAYER).merge(examples, on=group, how="left")
    described = {feature.name: feature.description for feature in catalog}
    table = table.assign(
        share=table["users"] / table["layer_users"],
        description=table["feature"].map(described).fillna(table["feature"]),
    ).rename(columns={"top_reason": "example"})
    return _order(table, layered.tiers)


def leading(rollup_table: pd.DataFrame, count: int) -> list[str]:
    """The features that lead most layers' users overall, most first (for a chart's colours)."""
    overall = rollup_table.groupby("feature")["users"].sum().sort_values(ascending=False)
    return list(overall.index[:count])
