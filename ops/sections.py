"""Each piece of the page as HTML: the figures of `layers`, `why`, `retention` and
`campaigns`, their tables and pictures, and the sentences that say what they mean."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import pandas as pd

from ops import charts, html
from ops.campaigns import (
    RULE,
    health,
    read_summary,
    recall_rows,
    reviews,
    summary_path,
)
from ops.layers import Layers, band_counts, layers, risk_histogram, status_by_tier
from ops.retention import RETENTION_DAYS, active_users, cohorts
from ops.why import leading, rollup
from recall.codes import CONTROL, TREATMENT
from recall.report import display_table, reviews_root
from recall.selection import summary

if TYPE_CHECKING:
    from ops.page import Inputs

# The page carries the best MAX_LIST_ROWS of the list (recall.csv and /recall_list hold every
# row) and draws the first DRAWN_ROWS that match the filter: each 1,000 rows add about 370 KB
# that Chromium must parse before the page has loaded.
MAX_LIST_ROWS = 2_000
DRAWN_ROWS = 100
CHART_FEATURES = 8  # features with a colour of their own in the reasons chart
LIST_FILTERS = ("group", "strategy", "channel", "segment", "tier", RULE)
STATUS_LABELS = {"at_risk": "at risk"}
NO_POLICY = (
    "No recall policy (serving.recall_policy, or --policy for winback report): no value tiers, "
    "no warning line and no recall list."
)


def _stamp() -> str:
    return f"computed {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"


@dataclass
class Figures:
    """What several pieces share (the layers of every user), computed once per served pair
    and policy: `page.Pages` keeps one while they stay the same."""

    inputs: Inputs

    @cached_property
    def layers(self) -> Layers:
        i = self.inputs
        return layers(i.scores(), i.store(), i.policy)


def _label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def now(figures: Figures) -> str:
    inputs, layered = figures.inputs, figures.layers
    counts = status_by_tier(layered)
    shown = counts.rename(index=_label).rename_axis("status").reset_index()
    scored = len(layered.scored)
    above = layered.above_line
    share = f" ({above / scored:.1%})" if scored else ""
    parts = [
        html.heading("Users per status and value tier"),
        html.paragraph(
            f"{inputs.users:,} users in online store {inputs.store_version}, features as of "
            f"{inputs.cutoff}. At risk: active users above the warning line; new, dormant and "
            "lapsed users are not scored."
        ),
    ]
    if inputs.policy is None:
        parts.append(html.problem(NO_POLICY))
    parts += [
        html.table(
            shown,
            {column: html.number() for column in shown.columns if column != "status"},
            text_columns=("status",),
        ),
        html.picture(charts.status_tiers(counts), "users per status and tier"),
        html.heading("Risk distribution and the warning line"),
        html.paragraph(
            f"Warning line: {layered.line_rule}. {above:,} of {scored:,} scored (active) users "
            f"are above it{share}."
        ),
        html.picture(
            charts.risk_distribution(*risk_histogram(layered), layered.line), "risk distribution"
        ),
    ]
    bands = band_counts(layered).rename("users").rename_axis("risk band").reset_index()
    bands["share"] = bands["users"] / max(scored, 1)
    parts.append(
        html.table(
            bands, {"users": html.number(), "share": html.percent()}, text_columns=("risk band",)
        )
    )
    return "".join(parts) + html.paragraph(_stamp(), "note")


def _reason(row: pd.Series) -> str:
    return f"{row['share']:.0%} {row['feature']}, e.g. \u201c{row['example']}\u201d"


def why(figures: Figures) -> str:
    inputs, layered = figures.inputs, figures.layers
    table = rollup(layered, inputs.catalog)
    parts = [
        html.heading("Top churn reason per layer"),
        html.paragraph(
            "For each layer (status x value tier x risk band) of scored users: the share whose "
            "strongest reason is each feature, with the sentence of the layer's median-risk user "
            "whose reason it is. Reasons are the ones the service gives every user (LightGBM's "
            "per-feature contributions, worded in the feature's unit)."
        ),
    ]
    if inputs.policy is None:
        parts.append(html.problem(NO_POLICY))
    if table.empty:
        return "".join([*parts, html.paragraph("No scored users: nothing to explain.")])
    layer = ["status", "tier", "risk_band"]
    rows = []
    for (status, tier, band), group in table.groupby(layer, sort=False):
        top = group.head(3).reset_index(drop=True)
        rows.append(
            {
                "layer": f"{_label(str(status))} / {tier} / {band}",
                "users": int(group["layer_users"].iloc[0]),
                **{
                    f"reason {n + 1}": _reason(top.iloc[n]) if n < len(top) else None
                    for n in range(3)
                },
            }
        )
    frame = pd.DataFrame(rows)
    named = table.drop_duplicates("feature").sort_values("feature")[["feature", "description"]]
    parts += [
        html.table(
            frame,
            {"users": html.number()},
            text_columns=("layer", "reason 1", "reason 2", "reason 3"),
        ),
        html.picture(
            charts.reasons_per_layer(table, leading(table, CHART_FEATURES)),
            "top churn reason per layer",
        ),
        html.table(named, text_columns=("feature", "description")),
        html.paragraph(_stamp(), "note"),
    ]
    return "".join(parts)


def retention(inputs: Inputs) -> str:
    events = inputs.events()
    if events is None:
        return html.problem(
            "No validated event log in this workdir yet: run `winback validate --config ...`."
        )
    found = cohorts(events)
    active = active_users(events)
    day_columns = [f"day_{n}" for n in RETENTION_DAYS]
    table = found.table.assign(cohort=found.table["cohort"].map(lambda d: f"{d:%Y-%m}"))
    monthly = active.monthly.assign(
        month=active.monthly["month"].dt.strftime("%Y-%m"),
        partial=active.monthly["partial"].map({True: "yes", False: ""}),
    )[["month", "users", "mean_daily", "stickiness", "partial"]]
    return "".join(
        [
            html.heading("Cohort retention"),
            html.paragraph(
                "Cohort: users whose first active day (any event, UTC) is in the month. Day-N "
                "retention: the share of the cohort active on day N after their first day; "
                "blank until every user of the cohort has reached day N. The first month's "
                "cohort also holds every user already active when the log begins. Events "
                f"observed until {found.observed_until} (exclusive), from the validated log."
            ),
            html.table(
                table,
                {"users": html.number(), **{c: html.percent(2) for c in day_columns}},
                {c: c.replace("_", " ") for c in day_columns},
                text_columns=("cohort",),
            ),
            html.picture(charts.cohort_curves(found.curves), "retention curves"),
            html.heading("Active users and stickiness"),
            html.paragraph(
                "DAU, WAU (weeks from Monday) and MAU (calendar months): distinct users with an "
                "event. Stickiness: mean DAU over the month's days / MAU. Partial: the log "
                "covers the month only in part."
            ),
            html.picture(
                charts.active_users(active.daily, active.weekly, active.monthly), "active users"
            ),
            html.table(
                monthly,
                {
                    "users": html.number(),
                    "mean_daily": html.number(1),
                    "stickiness": html.percent(1),
                },
                {"users": "MAU", "mean_daily": "mean DAU", "stickiness": "DAU/MAU"},
                text_columns=("month", "partial"),
            ),
            html.picture(charts.stickiness(active.monthly), "stickiness"),
            html.paragraph(_stamp(), "note"),
        ]
    )


def recall(inputs: Inputs) -> str:
    if inputs.policy is None:
        return html.heading("Current recall list") + html.problem(NO_POLICY)
    listed = inputs.listed()
    rows = recall_rows(listed, inputs.scores())
    policy = inputs.policy
    treated = int((listed["group"] == TREATMENT).sum())
    control = int((listed["group"] == CONTROL).sum())
    per_strategy = summary(listed.assign(skip=None))
    shown = rows.head(MAX_LIST_ROWS)
    cut = (
        f" This page holds the best {MAX_LIST_ROWS:,} of the {len(rows):,} listed users; "
        "recall.csv and /recall_list have every one."
        if len(rows) > MAX_LIST_ROWS
        else ""
    )
    money = html.number(2)
    return "".join(
        [
            html.heading(f"Current recall list: campaign {policy.campaign.id}"),
            html.paragraph(
                f"Campaign date {policy.campaign.date}; {treated:,} users to contact, {control:,} "
                f"held out as control; cost {listed['cost'].sum():,.2f} of a budget of "
                f"{policy.budget:,.2f}. What `winback recall` writes and /recall_list answers "
                f"for this model, store and policy.{cut}"
            ),
            html.table(
                per_strategy,
                {
                    "treatment": html.number(),
                    "control": html.number(),
                    "cost": money,
                    "expected_saves": html.number(1),
                    "expected_net_value": money,
                },
                {"expected_saves": "expected saves", "expected_net_value": "expected net value"},
                text_columns=("strategy", "channel"),
            ),
            html.filtered_table(
                "recall",
                shown,
                LIST_FILTERS,
                DRAWN_ROWS,
                {"priority": html.number(), "cost": money, "expected_net_value": money},
                {"expected_net_value": "net value", "risk_band": "band"},
                text_columns=tuple(c for c in shown.columns if c not in ("priority", "cost")),
                long_columns=("reasons", "why"),
            ),
            html.paragraph(_stamp(), "note"),
        ]
    )


def _with_interval(row: dict[str, object]) -> str:
    uplift, low, high = (row.get(k) for k in ("uplift", "ci_low", "ci_high"))
    if html.is_missing(uplift):
        return html.MISSING
    return f"{float(uplift) * 100:+.1f} ({float(low) * 100:+.1f}, {float(high) * 100:+.1f})"  # type: ignore[arg-type]


def reviewed(inputs: Inputs) -> str:
    found = reviews(inputs.config)
    parts = [html.heading("Reviewed campaigns")]
    if not found:
        folder = reviews_root(inputs.config)
        return "".join(
            [
                *parts,
                html.paragraph(f"No reviews yet under {folder} (`winback review` writes them)."),
            ]
        )
    overview = pd.DataFrame(
        [
            {
                "campaign": review.campaign_id,
                "treated": review.pooled.get("treated"),
                "control": review.pooled.get("control"),
                "uplift, points (95% CI)": _with_interval(review.pooled),
                "saved users": review.pooled.get("saved_users"),
                "cost": review.pooled.get("cost"),
                "cost per saved user": review.pooled.get("cost_per_saved"),
                "ROI": review.pooled.get("roi"),
            }
            for review in found
        ]
    )
    parts += [
        html.paragraph("All strategies pooled, newest review first; per strategy below."),
        html.table(
            overview,
            {
                "treated": html.number(),
                "control": html.number(),
                "saved users": html.number(1),
                "cost": html.number(2),
                "cost per saved user": html.number(2),
                "ROI": lambda v: html.MISSING if html.is_missing(v) else f"{float(v):+.0%}",  # type: ignore[arg-type]
            },
            text_columns=("campaign", "uplift, points (95% CI)"),
        ),
    ]
    for review in found:
        parts.append(f"<h3>{html.escape(review.campaign_id)}</h3>")
        parts += [html.paragraph(line) for line in review.headline]
        parts.append(html.table(display_table(review.table), text_columns=("strategy", "channel")))
        parts += [html.picture(charts.file_uri(path), path.stem) for path in review.charts]
    return "".join(parts)


def model_health(inputs: Inputs) -> str:
    path = summary_path(inputs.config)
    parts = [html.heading("Model health over time")]
    found = read_summary(path)
    if found is None:
        return "".join(
            [*parts, html.paragraph(f"`winback monitor` has not run here yet (no {path}).")]
        )
    table = health(found)
    parts.append(html.paragraph(str(found.get("verdict", "")), "verdict"))
    if table.empty:
        return "".join(parts)
    shown = table[
        [
            "cutoff",
            "model_version",
            "scored",
            "matured",
            "promised_auc",
            "realised_auc",
            "expected_auc",
            "ece",
            "score_psi",
            "findings",
        ]
    ].assign(matured=table["matured"].map({True: "yes", False: "no"}))
    four = html.number(4)
    parts += [
        html.picture(charts.model_health(table), "model health"),
        html.table(
            shown,
            {
                "scored": html.number(),
                "promised_auc": four,
                "realised_auc": four,
                "expected_auc": four,
                "ece": four,
                "score_psi": four,
            },
            {
                "model_version": "model",
                "promised_auc": "promised ROC AUC",
                "realised_auc": "realised ROC AUC",
                "expected_auc": "expected ROC AUC",
                "score_psi": "score PSI",
            },
            text_columns=("cutoff", "model_version", "matured", "findings"),
        ),
        html.paragraph(f"From {path} (`winback monitor`).", "note"),
    ]
    return "".join(parts)
