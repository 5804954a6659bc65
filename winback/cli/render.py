"""Rendering of run summaries for people; kept apart so commands stay a few lines.

Imported inside the commands that print, so `winback --help` never loads what they show; and
each printer imports what it needs itself, so `features build` does not pay for the recall
stack (scipy, matplotlib: over two seconds) to print one table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table

from winback.cli.console import console

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd

    from cycle.run import CycleResult
    from features.loading import Prepared, SourceReport
    from features.synthetic import SyntheticLog
    from features.synthetic_campaign import CampaignSpec
    from recall.feedback import PolicyUpdate
    from recall.policy import RecallPolicy
    from recall.report import ReportFiles
    from recall.review import Review
    from serving.online_store import StoreVersion


def facts_table(title: str) -> Table:
    """A two-column table of names and values. Values fold onto the next line rather than end
    in "…": a path or URL is printed whole, however long it is or narrow the terminal."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    return table


def source_table(title: str, report: SourceReport) -> Table:
    from features.validation import REASONS

    table = facts_table(title)
    table.add_row("source", report.source)
    table.add_row("rows read", f"{report.rows_read:,}")
    table.add_row("rows kept", f"{report.rows_good:,}")
    table.add_row("quarantined", f"{report.rows_quarantined:,}")
    for reason, count in report.quarantined.items():
        table.add_row(f"  {reason}", f"{count:,}  ({REASONS.get(reason, '')})")
    if report.repeats_kept:
        table.add_row("exact repeats kept", f"{report.repeats_kept:,}  (events.duplicates: keep)")
    if report.users is not None:
        table.add_row("users", f"{report.users:,}")
    if report.first_ts is not None:
        table.add_row("time span", f"{report.first_ts}  to  {report.last_ts}")
    table.add_row("written to", report.output)
    if report.rows_quarantined:
        table.add_row("quarantine", report.quarantine)
    return table


def print_prepared(prepared: Prepared) -> None:
    if prepared.reused:
        console.print(
            f"sources unchanged since {prepared.run_time}: reusing validated data", style="dim"
        )
    console.print(source_table("events", prepared.events))
    if prepared.users is not None:
        console.print(source_table("users", prepared.users))


def print_snapshot_summary(snapshot: ir.Table, path: Path) -> None:
    """Users per status, labelled rows and churn rate per cutoff: the first sanity check."""
    from features.status import LABEL, STATUS, STATUSES
    from features.timeline import CUTOFF

    counts = {name: (snapshot[STATUS] == name).sum() for name in STATUSES}
    rows = (
        snapshot.group_by(CUTOFF)
        .aggregate(
            users=snapshot.count(),
            **counts,
            labelled=snapshot[LABEL].count(),
            churn_rate=snapshot[LABEL].mean(),
        )
        .order_by(CUTOFF)
        .to_pyarrow()
        .to_pylist()
    )
    table = Table(title=f"snapshots written to {path}", title_justify="left")
    for column in ("cutoff", "users", *STATUSES, "labelled", "churn rate"):
        table.add_column(column, justify="right")
    for row in rows:
        rate = row["churn_rate"]
        table.add_row(
            str(row[CUTOFF]),
            f"{row['users']:,}",
            *(f"{row[name]:,}" for name in STATUSES),
            f"{row['labelled']:,}",
            "-" if rate is None else f"{rate:.1%}",
        )
    console.print(table)


def print_generated(log: SyntheticLog, paths: dict[str, Path]) -> None:
    kinds = log.truth.churn_kind.value_counts().to_dict()
    table = facts_table("synthetic log")
    table.add_row("events", f"{len(log.events):,}")
    table.add_row("users", f"{len(log.users):,}")
    table.add_row("time span", f"{log.events.ts.min()}  to  {log.events.ts.max()}")
    table.add_row("truth", ", ".join(f"{kind}: {n:,}" for kind, n in sorted(kinds.items())))
    table.add_row("came back", f"{int(log.truth.return_ts.notna().sum()):,} of the leavers")
    for name, path in paths.items():
        table.add_row(name, str(path))
    console.print(table)


def print_planted(outcomes: pd.DataFrame, spec: CampaignSpec) -> None:
    """Per strategy: treated users, those who came back anyway, the planted returns and
    losses, and the planted uplift (the mean effect over its treated users)."""
    treated = outcomes[outcomes.group == "treatment"]
    table = Table(
        title=f"planted campaign effect, {spec.date} + {spec.window_days} days",
        title_justify="left",
    )
    headers = ("strategy", "treated", "returned anyway", "planted returns", "driven away")
    for column in (*headers, "uplift"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    per_strategy = treated.groupby("strategy").agg(
        users=("user_id", "size"),
        anyway=("returned_anyway", "sum"),
        back=("planted", "sum"),
        away=("driven_away", "sum"),
        effect=("effect", "mean"),
    )
    for strategy, row in per_strategy.iterrows():
        table.add_row(
            str(strategy),
            f"{row.users:,}",
            f"{row.anyway:,}",
            f"{row.back:,}",
            f"{row.away:,}",
            f"{row.effect:.3f}",
        )
    console.print(table)


def print_store_version(version: StoreVersion) -> None:
    table = facts_table("online store")
    table.add_row("version", version.version)
    table.add_row("features as of", version.cutoff)
    table.add_row("users", f"{version.rows:,}")
    table.add_row("feature set", f"{version.feature_set} ({len(version.features)} features)")
    if version.redis_key:
        table.add_row("lookups (Redis)", f"{version.redis_key}:* ({version.buckets:,} hashes)")
    else:
        table.add_row("lookups (SQLite)", str(version.sqlite_path))
    table.add_row("batch (Parquet)", str(version.parquet_path))
    console.print(table)


def score_counts(scores: pd.DataFrame) -> pd.DataFrame:
    """Users per status and band (null for the unscored): what `print_scores` summarises."""
    groups = scores.groupby(["status", "risk_band"], dropna=False)
    return groups.size().reset_index(name="users")


def print_scores(
    out: str | Path,
    counts: pd.DataFrame,
    top: pd.DataFrame,
    rows_per_file: list[int] | None = None,
) -> None:
    """Counts by status and band, and the users most at risk (the first rows of `top`).

    Takes counts, not every row, so Spark scoring prints the same without collecting."""
    summary = facts_table(f"scores written to {out}")
    for column, label in (("status", "status"), ("risk_band", "band")):
        for value, users in counts.groupby(column).users.sum().sort_index().items():
            summary.add_row(f"{label} {value}", f"{users:,}")
    summary.add_row("model version", ", ".join(sorted(top.model_version.unique())) or "-")
    if rows_per_file:
        sizes = f"{min(rows_per_file):,} to {max(rows_per_file):,} rows"
        summary.add_row("files", f"{len(rows_per_file)} in rank order, {sizes}")
    console.print(summary)
    table = Table(title="most at risk", title_justify="left")
    for column in ("rank", "user", "probability", "band", "top reason"):
        table.add_column(column)
    for row in top.head(10).to_dict("records"):
        table.add_row(
            str(row["rank"]),
            str(row["user_id"]),
            f"{row['churn_probability']:.3f}",
            str(row["risk_band"]),
            str(row["top_reason"]),
        )
    console.print(table)


def print_recall(policy: RecallPolicy, decisions: pd.DataFrame, out: Path) -> None:
    from recall.selection import skipped_counts, summary

    per_strategy = summary(decisions)
    campaign = policy.campaign
    table = Table(title=f"campaign {campaign.id} on {campaign.date}", title_justify="left")
    table.add_column("strategy", no_wrap=True)
    table.add_column("channel")
    for column in ("treated", "control", "cost", "exp. saves", "exp. net value"):
        table.add_column(column, justify="right")
    total = per_strategy.drop(columns=["strategy", "channel"]).sum()
    rows = [*per_strategy.to_dict("records"), {"strategy": "total", "channel": "", **total}]
    for row in rows:
        table.add_row(
            str(row["strategy"]),
            str(row["channel"]),
            f"{int(row['treatment']):,}",
            f"{int(row['control']):,}",
            f"{row['cost']:,.2f}",
            f"{row['expected_saves']:,.1f}",
            f"{row['expected_net_value']:,.2f}",
            style="bold" if row is rows[-1] else None,
        )
    console.print(table)
    console.print(f"budget used: {total.cost:,.2f} of {policy.budget:,.2f}")
    listed = decisions[decisions.group != "skipped"]
    rules = ", ".join(f"{rule} {count:,}" for rule, count in listed.rule.value_counts().items())
    console.print(f"chosen by rule: {rules or 'nobody listed'}")
    skipped = ", ".join(
        f"{reason} {count:,}" for reason, count in skipped_counts(decisions).items()
    )
    console.print(f"not listed: {skipped or 'nobody'}")
    console.print(f"written to {out}")


def print_durable(durable: pd.DataFrame, title: str = "did they stay?") -> None:
    """Durable outcomes per strategy: treated vs control, the difference and its interval."""
    from recall.report import display_durable

    shown = display_durable(durable)
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("strategy", "outcome"):
        table.add_column(column, no_wrap=True)
    for column in ("treated/control", "treated vs control", "difference [95% CI]", "known"):
        table.add_column(column, justify="right", no_wrap=True)
    columns = list(shown.columns)
    for row in shown.itertuples(index=False):
        cells = dict(zip(columns, row, strict=True))
        table.add_row(
            str(cells["strategy"]),
            str(cells["outcome"]),
            f"{cells['treated']} / {cells['control']}",
            f"{cells['treated mean']} vs {cells['control mean']}",
            f"{cells['difference (points, or value)']} {cells['95% CI']}",
            str(cells["known"]),
        )
    console.print(table)


def print_review(result: Review, files: ReportFiles, run_id: str) -> None:
    from recall.report import COLUMNS, display_table

    shown = display_table(result.table)
    label = {key: text for key, (text, _) in COLUMNS.items()}
    table = Table(
        title=f"review of {result.campaign_id}: returns within {result.window_days} days",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("strategy", no_wrap=True)
    headers = (
        "treated/control",
        "return rate",
        "uplift, pts [95% CI]",
        "sig.",
        "cost/saved",
        "ROI",
        "MDE / power",
    )
    for column in headers:
        table.add_column(column, justify="right", no_wrap=True)
    for row in shown.to_dict("records"):
        table.add_row(
            str(row["strategy"]),
            f"{row[label['treated']]} / {row[label['control']]}",
            f"{row[label['rate_treated']]} vs {row[label['rate_control']]}",
            f"{row[label['uplift']]} [{row[label['ci_low']]}, {row[label['ci_high']]}]",
            str(row[label["significant"]]),
            str(row[label["cost_per_saved"]]),
            str(row[label["roi"]]),
            f"{row[label['mde']]} / {row[label['power']]}",
        )
    console.print(table)
    if result.durable is not None:
        print_durable(result.durable)
    if not result.complete:
        console.print(
            f"the window ends {result.window_end} but events stop at "
            f"{result.observed_until}: return rates are still rising",
            style="yellow",
        )
    for strategy, held_out in result.targeting.items():
        qini = held_out.qini
        console.print(
            f"{strategy} targeted by uplift: Qini {qini.value:.4f} [{qini.low:.4f}, "
            f"{qini.high:.4f}] on this campaign's control group"
        )
    console.print(f"report: {files.html}  ({files.markdown.name}, {len(files.charts)} charts)")
    console.print(f"MLflow run: {run_id}")


def print_update(update: PolicyUpdate | None) -> None:
    if update is None:
        console.print("no strategy had a significant uplift: the policy keeps its save rates")
        return
    rates = ", ".join(f"{name} {rate.save_rate:.3f}" for name, rate in update.updated.items())
    console.print(
        f"measured save rates ({rates or 'none in this policy'}) written to {update.path}"
    )
    console.print(
        "a new file, because the YAML writer cannot keep comments: "
        "review it and replace the policy",
        style="dim",
    )
    if update.not_in_policy:
        console.print(f"not in the policy any more: {', '.join(update.not_in_policy)}")


def _pts(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.1f}"


def _listing(counts: dict[str, int]) -> str:
    return ", ".join(f"{key} {value:,}" for key, value in counts.items()) or "none"


def print_cycle(result: CycleResult) -> None:
    """What the day did: who entered a segment, what was sent where, what the reviews found."""
    summary = result.summary
    model = summary.get("model", {})
    validated = summary.get("validated", {})
    new = validated.get("new_rows", 0)
    quarantined = sum(validated.get("quarantined", {}).values())
    again = " (ran before: nothing else to do)" if result.already_done else ""
    console.print(
        f"cycle {result.day}{again}: {model.get('name')} v{model.get('version')}, "
        f"store {summary.get('store_version')}; {new:,} new events ({quarantined:,} "
        f"quarantined); entered: {_listing(summary.get('entered', {}))}",
        soft_wrap=True,
    )
    decided = summary.get("decided", [])
    if decided and not result.already_done:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        for column in ("campaign", "channel", "treated", "control", "cost"):
            table.add_column(column, justify="left" if column == "campaign" else "right")
        for row in decided:
            table.add_row(
                row["campaign_id"],
                row["channel"],
                f"{row['treatment']:,}",
                f"{row['control']:,}",
                f"{row['cost']:,.2f}",
            )
        console.print(table)
    outbox = summary.get("outbox", {})
    hooks = summary.get("webhooks", {})
    sent = [f"outbox {_listing(outbox)}"]
    for channel, done in hooks.items():
        text = f"{channel} webhook: {done['delivered']:,} delivered, {done['pending']:,} pending"
        if done["withdrawn"]:
            text += f", {done['withdrawn']:,} withdrawn (opted out)"
        if done["error"]:
            text += f" ({done['error']})"
        sent.append(text)
    console.print("; ".join(sent), soft_wrap=True)
    for review in summary.get("reviews", []) if not result.already_done else []:
        found = ", ".join(
            f"{row['strategy']} {_pts(row['uplift'])} [{_pts(row['ci_low'])}, "
            f"{_pts(row['ci_high'])}] ({row['treated']}/{row['control']})"
            for row in review["returns"]
            if row["uplift"] is not None
        )
        stages = "returns" if review["stages"] == [0] else f"days after {review['stages']}"
        console.print(
            f"reviewed the campaigns of {review['campaign_day']} ({stages}): "
            f"{found or 'no strategy with both groups'}",
            soft_wrap=True,
        )
    pooled = summary.get("pooled")
    if pooled and not result.already_done:
        _print_pooled(pooled)
    pending = summary.get("pending", {})
    if pending:
        console.print(
            f"pending: {_listing(pending)}: the next cycle retries them (exit 1)", style="yellow"
        )


def _print_pooled(pooled: dict[str, Any]) -> None:
    """Every reviewed campaign pooled: per outcome (rows) and strategy (columns), treated -
    control with its interval, for the outcomes known so far."""
    first, last = pooled["campaign_days"]
    table = Table(
        title=f"all reviewed campaigns, {first} to {last}: treated - control, points "
        "(value: money) [95% CI]",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    cells: dict[str, dict[str, str]] = {}
    strategies: list[str] = []
    later: dict[str, str] = {}
    for row in pooled["durable"]:
        outcome, strategy = row["outcome"], row["strategy"]
        if strategy not in strategies:
            strategies.append(strategy)
        if row["difference"] is None:
            later.setdefault(outcome, str(row["matures_on"]))
            continue
        if outcome == "value":
            cell = f"{row['difference']:+,.2f} [{row['ci_low']:+,.2f}, {row['ci_high']:+,.2f}]"
        else:
            cell = f"{_pts(row['difference'])} [{_pts(row['ci_low'])}, {_pts(row['ci_high'])}]"
        cells.setdefault(outcome, {})[strategy] = cell + (" *" if row["significant"] else "")
        if outcome == "returned":
            counts = cells.setdefault("treated/control", {})
            counts[strategy] = f"{row['treated']:,}/{row['control']:,}"
    table.add_column("outcome", no_wrap=True)
    for strategy in strategies:
        table.add_column(strategy, justify="right", no_wrap=True)
    for outcome in ("treated/control", *(o for o in cells if o != "treated/control")):
        table.add_row(outcome, *(cells[outcome].get(s, "") for s in strategies))
    console.print(table)
    waiting = ", ".join(f"{outcome} (from {day})" for outcome, day in later.items())
    if waiting:
        console.print(f"not known for every campaign yet: {waiting}", soft_wrap=True)
    console.print(f"* the interval excludes 0; report: {pooled['report']}", soft_wrap=True)


def print_fed(paths: list[Path], planted: dict[Any, int], until: object) -> None:
    effects = ", ".join(f"{n:,} for the contacts of {day}" for day, n in planted.items())
    names = ", ".join(path.name for path in paths) or "none new"
    console.print(
        f"feed: {len(paths)} file(s) up to {until} ({names}); planted returns: {effects or 'none'}",
        soft_wrap=True,
    )
