"""The baseline: one hand-written DuckDB query, as a competent analyst would write it.

Same columns and semantics as `features.snapshots.build_snapshots` for `data.SPEC` and
`data.CHURN` (windows 7/14/30/90, trend 30, horizon 30, active and lapsed windows 60), with
every constant spelled out: a daily roll-up, joined with the cutoffs, reduced with FILTERed
aggregates. Counts are cast to BIGINT because DuckDB sums integers into HUGEINT.

`python -m benchmarks.features_sql EVENTS OUT --cutoff D ... --observed-until D` runs it as a
process of its own (imports only DuckDB): the baseline `python -m benchmarks cli` times
`winback features build` against, start to exit.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import duckdb

QUERY = """
WITH cutoffs AS (
    SELECT CAST(cutoff AS DATE) AS cutoff FROM (VALUES {cutoff_rows}) AS c(cutoff)
),
daily AS (  -- one row per user and active day
    SELECT
        user_id,
        CAST(ts AS DATE) AS day,
        count(*) AS events,
        sum(coalesce(value, 0)) AS value_sum,
        count(*) FILTER (WHERE value > 0) AS valued_events,
        count(DISTINCT session_id) AS sessions,
        min(ts) AS first_ts,
        max(ts) AS last_ts,
        max(ts) FILTER (WHERE value > 0) AS last_valued_ts,
        count(*) FILTER (WHERE event = 'visit') AS n_visit,
        count(*) FILTER (WHERE event = 'view') AS n_view,
        count(*) FILTER (WHERE event = 'add_to_cart') AS n_add_to_cart,
        count(*) FILTER (WHERE event = 'purchase') AS n_purchase,
        count(*) FILTER (WHERE event = 'cancel') AS n_cancel
    FROM read_parquet({events})
    GROUP BY user_id, day
),
gaps AS (  -- days since the previous active day: looks only back, so valid at any cutoff
    SELECT *, day - lag(day) OVER (PARTITION BY user_id ORDER BY day) AS gap_days
    FROM daily
),
past AS (  -- every active day before each cutoff; age 1 = the day before the cutoff
    SELECT
        d.*,
        c.cutoff,
        c.cutoff - d.day AS age_days
    FROM gaps AS d
    JOIN cutoffs AS c ON d.day < c.cutoff
),
history AS (
    SELECT
        user_id,
        cutoff,
        CAST(cutoff AS TIMESTAMP) AS cutoff_ts,
        min(first_ts) AS first_ts,
        max(last_ts) AS last_ts,
        max(last_valued_ts) AS last_valued_ts,
        CAST(coalesce(sum(events) FILTER (WHERE age_days <= 7), 0) AS BIGINT) AS events_7d,
        count(*) FILTER (WHERE age_days <= 7) AS active_days_7d,
        CAST(coalesce(sum(events) FILTER (WHERE age_days <= 14), 0) AS BIGINT) AS events_14d,
        count(*) FILTER (WHERE age_days <= 14) AS active_days_14d,
        CAST(coalesce(sum(events) FILTER (WHERE age_days <= 30), 0) AS BIGINT) AS events_30d,
        count(*) FILTER (WHERE age_days <= 30) AS active_days_30d,
        CAST(coalesce(sum(events) FILTER (WHERE age_days <= 90), 0) AS BIGINT) AS events_90d,
        count(*) FILTER (WHERE age_days <= 90) AS active_days_90d,
        CAST(sum(events) AS BIGINT) AS events_total,
        count(*) AS active_days_total,
        coalesce(sum(value_sum) FILTER (WHERE age_days <= 7), 0) AS value_7d,
        sum(valued_events) FILTER (WHERE age_days <= 7) AS valued_7d,
        coalesce(sum(value_sum) FILTER (WHERE age_days <= 14), 0) AS value_14d,
        sum(valued_events) FILTER (WHERE age_days <= 14) AS valued_14d,
        coalesce(sum(value_sum) FILTER (WHERE age_days <= 30), 0) AS value_30d,
        sum(valued_events) FILTER (WHERE age_days <= 30) AS valued_30d,
        coalesce(sum(value_sum) FILTER (WHERE age_days <= 90), 0) AS value_90d,
        sum(valued_events) FILTER (WHERE age_days <= 90) AS valued_90d,
        sum(value_sum) AS value_total,
        sum(valued_events) AS valued_total,
        coalesce(sum(n_visit) FILTER (WHERE age_days <= 90), 0) AS visit_90d,
        coalesce(sum(n_view) FILTER (WHERE age_days <= 90), 0) AS view_90d,
        coalesce(sum(n_add_to_cart) FILTER (WHERE age_days <= 90), 0) AS add_to_cart_90d,
        coalesce(sum(n_purchase) FILTER (WHERE age_days <= 90), 0) AS purchase_90d,
        coalesce(sum(n_cancel) FILTER (WHERE age_days <= 90), 0) AS cancel_90d,
        CAST(coalesce(sum(sessions) FILTER (WHERE age_days <= 90), 0) AS BIGINT) AS sessions_90d,
        CAST(coalesce(sum(events) FILTER (WHERE age_days BETWEEN 31 AND 60), 0) AS BIGINT)
            AS events_prev_30d,
        count(*) FILTER (WHERE age_days BETWEEN 31 AND 60) AS active_days_prev_30d,
        coalesce(sum(value_sum) FILTER (WHERE age_days BETWEEN 31 AND 60), 0) AS value_prev_30d,
        count(*) FILTER (WHERE age_days <= 60) AS active_days_60d,  -- active and lapsed windows
        avg(gap_days) AS gap_mean_days,
        stddev_samp(gap_days) AS gap_std_days,
        CAST(max(gap_days) AS DOUBLE) AS gap_max_days
    FROM past
    GROUP BY user_id, cutoff
),
future AS (  -- label window [cutoff, cutoff + 30 days)
    SELECT d.user_id, c.cutoff, sum(d.events) AS future_events
    FROM daily AS d
    JOIN cutoffs AS c ON d.day >= c.cutoff AND d.day < c.cutoff + 30
    GROUP BY d.user_id, c.cutoff
),
snapshot AS (
    SELECT
        h.*,
        f.future_events,
        CASE
            WHEN h.active_days_60d = 0 THEN 'lapsed'
            WHEN h.active_days_60d > 0 THEN 'active'
            ELSE 'dormant'
        END AS status,
        epoch(h.cutoff_ts - h.last_ts) / 86400 AS recency_days
    FROM history AS h
    LEFT JOIN future AS f USING (user_id, cutoff)
)
SELECT
    user_id,
    cutoff,
    status,
    CASE
        WHEN status = 'active' AND cutoff + 30 <= DATE '{observed_until}'
        THEN CAST(coalesce(future_events, 0) = 0 AS TINYINT)
    END AS label,
    recency_days,
    epoch(cutoff_ts - last_valued_ts) / 86400 AS recency_valued_days,
    events_7d,
    active_days_7d,
    events_14d,
    active_days_14d,
    events_30d,
    active_days_30d,
    events_90d,
    active_days_90d,
    events_total,
    active_days_total,
    value_7d,
    value_7d / nullif(valued_7d, 0) AS value_mean_7d,
    value_14d,
    value_14d / nullif(valued_14d, 0) AS value_mean_14d,
    value_30d,
    value_30d / nullif(valued_30d, 0) AS value_mean_30d,
    value_90d,
    value_90d / nullif(valued_90d, 0) AS value_mean_90d,
    value_total,
    value_total / nullif(valued_total, 0) AS value_mean_total,
    events_total / active_days_total AS events_per_active_day,
    events_90d / nullif(active_days_90d, 0) AS events_per_active_day_90d,
    visit_90d / nullif(events_90d, 0) AS share_visit_90d,
    view_90d / nullif(events_90d, 0) AS share_view_90d,
    add_to_cart_90d / nullif(events_90d, 0) AS share_add_to_cart_90d,
    purchase_90d / nullif(events_90d, 0) AS share_purchase_90d,
    cancel_90d / nullif(events_90d, 0) AS share_cancel_90d,
    sessions_90d,
    events_90d / nullif(sessions_90d, 0) AS events_per_session_90d,
    events_30d / nullif(events_prev_30d, 0) AS events_trend_ratio_30d,
    events_30d - events_prev_30d AS events_trend_diff_30d,
    active_days_30d - active_days_prev_30d AS active_days_trend_diff_30d,
    value_30d - value_prev_30d AS value_trend_diff_30d,
    gap_mean_days,
    gap_std_days,
    gap_max_days,
    recency_days / nullif(gap_mean_days, 0) AS gap_current_ratio,
    epoch(cutoff_ts - first_ts) / 86400 AS tenure_days
FROM snapshot
ORDER BY user_id, cutoff
"""


def query(events: Path, cutoffs: Sequence[dt.date], observed_until: dt.date) -> str:
    """The query with its inputs filled in (dates and a path: nothing to inject)."""
    rows = ", ".join(f"(DATE '{cutoff.isoformat()}')" for cutoff in sorted(set(cutoffs)))
    path = "'" + str(events).replace("'", "''") + "'"
    return QUERY.format(cutoff_rows=rows, events=path, observed_until=observed_until.isoformat())


def run(events: Path, cutoffs: Sequence[dt.date], observed_until: dt.date, out: Path) -> None:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    target = "'" + str(out).replace("'", "''") + "'"
    out.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY ({query(events, cutoffs, observed_until)}) TO {target} (FORMAT parquet)")
    con.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.features_sql")
    parser.add_argument("events", type=Path, help="events Parquet (user_id, ts, event, ...)")
    parser.add_argument("out", type=Path, help="snapshot Parquet to write")
    parser.add_argument("--cutoff", type=dt.date.fromisoformat, action="append", required=True)
    parser.add_argument("--observed-until", type=dt.date.fromisoformat, required=True)
    args = parser.parse_args(argv)
    run(args.events, args.cutoff, args.observed_until, args.out)


if __name__ == "__main__":
    main()
