SELECT
  "t21"."user_id",
  "t21"."cutoff",
  CASE
    WHEN FALSE
    THEN 'new'
    WHEN FALSE OR (
      "t21"."_active_days_lapse_window" = 0
    )
    THEN 'lapsed'
    WHEN "t21"."_active_days_recent" > 0
    THEN 'active'
    ELSE 'dormant'
  END AS "status",
  CASE
    WHEN (
      CASE
        WHEN FALSE
        THEN 'new'
        WHEN FALSE OR (
          "t21"."_active_days_lapse_window" = 0
        )
        THEN 'lapsed'
        WHEN "t21"."_active_days_recent" > 0
        THEN 'active'
        ELSE 'dormant'
      END = 'active'
    )
    AND (
      (
        "t21"."cutoff" + INTERVAL '30' DAY
      ) <= MAKE_DATE(2024, 6, 1)
    )
    THEN CAST(COALESCE("t21"."_future_events", 0) = 0 AS TINYINT)
    ELSE CAST(NULL AS TINYINT)
  END AS "label",
  "t21"."recency_days",
  "t21"."recency_valued_days",
  "t21"."events_7d",
  "t21"."active_days_7d",
  "t21"."events_30d",
  "t21"."active_days_30d",
  "t21"."events_total",
  "t21"."active_days_total",
  "t21"."value_7d",
  "t21"."value_mean_7d",
  "t21"."value_30d",
  "t21"."value_mean_30d",
  "t21"."value_total",
  "t21"."value_mean_total",
  "t21"."events_per_active_day",
  "t21"."events_per_active_day_30d",
  "t21"."share_visit_30d",
  "t21"."share_purchase_30d",
  "t21"."sessions_30d",
  "t21"."events_per_session_30d",
  "t21"."events_trend_ratio_7d",
  "t21"."events_trend_diff_7d",
  "t21"."active_days_trend_diff_7d",
  "t21"."value_trend_diff_7d",
  "t21"."gap_mean_days",
  "t21"."gap_std_days",
  "t21"."gap_max_days",
  "t21"."gap_current_ratio",
  (
    EPOCH(CAST("t21"."cutoff_ts" AS TIMESTAMP)) - EPOCH(
      CAST(LEAST(COALESCE("t21"."signup_ts", "t21"."_first_ts"), "t21"."_first_ts") AS TIMESTAMP)
    )
  ) / 86400 AS "tenure_days",
  "t21"."plan"
FROM (
  SELECT
    "t20".*
    EXCLUDE ("user_id_right")
  FROM (
    SELECT
      "t19"."user_id",
      "t19"."cutoff",
      "t19"."recency_days",
      "t19"."recency_valued_days",
      "t19"."events_7d",
      "t19"."active_days_7d",
      "t19"."events_30d",
      "t19"."active_days_30d",
      "t19"."events_total",
      "t19"."active_days_total",
      "t19"."value_7d",
      "t19"."value_mean_7d",
      "t19"."value_30d",
      "t19"."value_mean_30d",
      "t19"."value_total",
      "t19"."value_mean_total",
      "t19"."events_per_active_day",
      "t19"."events_per_active_day_30d",
      "t19"."share_visit_30d",
      "t19"."share_purchase_30d",
      "t19"."sessions_30d",
      "t19"."events_per_session_30d",
      "t19"."events_trend_ratio_7d",
      "t19"."events_trend_diff_7d",
      "t19"."active_days_trend_diff_7d",
      "t19"."value_trend_diff_7d",
      "t19"."gap_mean_days",
      "t19"."gap_std_days",
      "t19"."gap_max_days",
      "t19"."gap_current_ratio",
      "t19"."_active_days_recent",
      "t19"."_active_days_lapse_window",
      "t19"."cutoff_ts",
      "t19"."_first_ts",
      "t19"."_future_events",
      "t4"."user_id" AS "user_id_right",
      "t4"."signup_ts",
      "t4"."plan"
    FROM (
      SELECT
        "t17".*
        EXCLUDE ("cutoff_right", "user_id_right")
      FROM (
        SELECT
          "t16"."user_id",
          "t16"."cutoff",
          "t16"."recency_days",
          "t16"."recency_valued_days",
          "t16"."events_7d",
          "t16"."active_days_7d",
          "t16"."events_30d",
          "t16"."active_days_30d",
          "t16"."events_total",
          "t16"."active_days_total",
          "t16"."value_7d",
          "t16"."value_mean_7d",
          "t16"."value_30d",
          "t16"."value_mean_30d",
          "t16"."value_total",
          "t16"."value_mean_total",
          "t16"."events_per_active_day",
          "t16"."events_per_active_day_30d",
          "t16"."share_visit_30d",
          "t16"."share_purchase_30d",
          "t16"."sessions_30d",
          "t16"."events_per_session_30d",
          "t16"."events_trend_ratio_7d",
          "t16"."events_trend_diff_7d",
          "t16"."active_days_trend_diff_7d",
          "t16"."value_trend_diff_7d",
          "t16"."gap_mean_days",
          "t16"."gap_std_days",
          "t16"."gap_max_days",
          "t16"."gap_current_ratio",
          "t16"."_active_days_recent",
          "t16"."_active_days_lapse_window",
          "t16"."cutoff_ts",
          "t16"."_first_ts",
          "t14"."user_id" AS "user_id_right",
          "t14"."cutoff" AS "cutoff_right",
          "t14"."_future_events"
        FROM (
          SELECT
            "t12"."user_id",
            "t12"."cutoff",
            (
              EPOCH(CAST(MAX("t12"."cutoff_ts") AS TIMESTAMP)) - EPOCH(CAST(MAX("t12"."last_ts") AS TIMESTAMP))
            ) / 86400 AS "recency_days",
            (
              EPOCH(CAST(MAX("t12"."cutoff_ts") AS TIMESTAMP)) - EPOCH(CAST(MAX("t12"."last_valued_ts") AS TIMESTAMP))
            ) / 86400 AS "recency_valued_days",
            COALESCE(
              SUM("t12"."events") FILTER(WHERE
                (
                  "t12"."age_days" >= 1
                ) AND (
                  "t12"."age_days" <= 7
                )),
              0
            ) AS "events_7d",
            COUNT(*) FILTER(WHERE
              (
                "t12"."age_days" >= 1
              ) AND (
                "t12"."age_days" <= 7
              )) AS "active_days_7d",
            COALESCE(
              SUM("t12"."events") FILTER(WHERE
                (
                  "t12"."age_days" >= 1
                ) AND (
                  "t12"."age_days" <= 30
                )),
              0
            ) AS "events_30d",
            COUNT(*) FILTER(WHERE
              (
                "t12"."age_days" >= 1
              ) AND (
                "t12"."age_days" <= 30
              )) AS "active_days_30d",
            SUM("t12"."events") AS "events_total",
            COUNT(*) AS "active_days_total",
            COALESCE(
              SUM("t12"."value_sum") FILTER(WHERE
                (
                  "t12"."age_days" >= 1
                ) AND (
                  "t12"."age_days" <= 7
                )),
              0
            ) AS "value_7d",
            CASE
              WHEN COALESCE(
                SUM("t12"."valued_events") FILTER(WHERE
                  (
                    "t12"."age_days" >= 1
                  ) AND (
                    "t12"."age_days" <= 7
                  )),
                0
              ) = 0
              THEN CAST(NULL AS DOUBLE)
              ELSE COALESCE(
                SUM("t12"."value_sum") FILTER(WHERE
                  (
                    "t12"."age_days" >= 1
                  ) AND (
                    "t12"."age_days" <= 7
                  )),
                0
              ) / COALESCE(
                SUM("t12"."valued_events") FILTER(WHERE
                  (
                    "t12"."age_days" >= 1
                  ) AND (
                    "t12"."age_days" <= 7
                  )),
                0
              )
            END AS "value_mean_7d",
            COALESCE(
              SUM("t12"."value_sum") FILTER(WHERE
                (
                  "t12"."age_days" >= 1
                ) AND (
                  "t12"."age_days" <= 30
                )),
              0
            ) AS "value_30d",
            CASE
              WHEN COALESCE(
                SUM("t12"."valued_events") FILTER(WHERE
                  (
                    "t12"."age_days" >= 1
                  ) AND (
                    "t12"."age_days" <= 30
                  )),
                0
              ) = 0
              THEN CAST(NULL AS DOUBLE)
              ELSE COALESCE(
                SUM("t12"."value_sum") FILTER(WHERE
                  (
                    "t12"."age_days" >= 1
                  ) AND (
                    "t12"."age_days" <= 30
                  )),
                0
              ) / COALESCE(
                SUM("t12"."valued_events") FILTER(WHERE
                  (
                    "t12"."age_days" >= 1
                  ) AND (
                    "t12"."age_days" <= 30
                  )),
                0
              )
            END AS "value_mean_30d",
            SUM("t12"."value_sum") AS "value_total",
            CASE
              WHEN SUM("t12"."valued_events") = 0
              THEN CAST(NULL AS DOUBLE)
              ELSE SUM("t12"."value_sum") / SUM("t12"."valued_events")
            END AS "value_mean_total",
            SUM("t12"."events") / COUNT(*) AS "events_per_active_day",
            CASE
              WHEN COUNT(*) FILTER(WHERE
                (
                  "t12"."age_days" >= 1
                ) AND (
                  "t12"."age_days" <= 30
                )) = 0
              THEN CAST(NULL AS DOUBLE)
              ELSE COALESCE(
                SUM("t12"."events") FILTER(WHERE
                  (
                    "t12"."age_days" >= 1
                  ) AND (
                    "t12"."age_days" <= 30
                  )),
                0
              ) / COUNT(*) FILTER(WHERE
                (
                  "t12"."age_days" >= 1
                ) AND (
                  "t12"."age_days" <= 30
                ))
            END AS "events_per_active_day_30d",
            CASE
              WHEN COALESCE(
                SUM("t12"."events") FILTER(WHERE
                  (
                    "t12"."age_days" >= 1
                  ) AND (
                    "t12"."age_days" <= 30
                  )),
                0
              ) = 0
              THEN CAST(NULL AS DOUBLE)
              ELSE COALESCE(
                SUM("t12"."n_visit") FILTER(WHERE
                  (
                    "t12"."age_days" >= 1
                  ) AND (
                    "t12"."age_days" <= 30
                  )),
                0
              ) / COALESCE(
                SUM("t12"."events") FILTER(WHERE
                  (
                    "t12"."age_days" >= 1
                  ) AND (
                    "t12"."age_days" <= 30
                  )),
                0
              )
            END AS "share_visit_30d",
            CASE
              WHEN COALESCE(
                SUM("t12"."events") FILTER(WHERE
                  (
                    "t12"."age_days" >= 1
                  ) AND (
                    "t12"."age_days" <= 30
                  )),
                0
              ) = 0
              THEN CAST(NULL AS DOUBLE)
              ELSE COALESCE(
                SUM("t12"."n_purchase") FILTER(WHERE
                  (
                    "t12"."age_days" >= 1
                  ) AND (
                    "t12"."age_days" <= 30
                  )),
                0
              ) / COALESCE(
                SUM("t12"."events") FILTER(WHERE
                  (
                    "t12"."age_days" >= 1
                  ) AND (
                    "t12"."age_days" <= 30
                  )),
                0
              )
            END AS "share_purchase_30d",
            COALESCE(
              SUM("t12"."sessions") FILTER(WHERE
                (
                  "t12"."age_days" >= 1
                ) AND (
                  "t12"."age_days" <= 30
                )),
              0
            ) AS "sessions_30d",
            CASE
              WHEN COALESCE(
                SUM("t12"."sessions") FILTER(WHERE
                  (
                    "t12"."age_days" >= 1
                  ) AND (
                    "t12"."age_days" <= 30
                  )),
                0
              ) = 0
              THEN CAST(NULL AS DOUBLE)
              ELSE COALESCE(
                SUM("t12"."events") FILTER(WHERE
                  (
                    "t12"."age_days" >= 1
                  ) AND (
                    "t12"."age_days" <= 30
                  )),
                0
              ) / COALESCE(
                SUM("t12"."sessions") FILTER(WHERE
                  (
                    "t12"."age_days" >= 1
                  ) AND (
                    "t12"."age_days" <= 30
                  )),
                0
              )
            END AS "events_per_session_30d",
            CASE
              WHEN COALESCE(
                SUM("t12"."events") FILTER(WHERE
                  (
                    "t12"."age_days" >= 8
                  ) AND (
                    "t12"."age_days" <= 14
                  )),
                0
              ) = 0
              THEN CAST(NULL AS DOUBLE)
              ELSE COALESCE(
                SUM("t12"."events") FILTER(WHERE
                  (
                    "t12"."age_days" >= 1
                  ) AND (
                    "t12"."age_days" <= 7
                  )),
                0
              ) / COALESCE(
                SUM("t12"."events") FILTER(WHERE
                  (
                    "t12"."age_days" >= 8
                  ) AND (
                    "t12"."age_days" <= 14
                  )),
                0
              )
            END AS "events_trend_ratio_7d",
            COALESCE(
              SUM("t12"."events") FILTER(WHERE
                (
                  "t12"."age_days" >= 1
                ) AND (
                  "t12"."age_days" <= 7
                )),
              0
            ) - COALESCE(
              SUM("t12"."events") FILTER(WHERE
                (
                  "t12"."age_days" >= 8
                ) AND (
                  "t12"."age_days" <= 14
                )),
              0
            ) AS "events_trend_diff_7d",
            COUNT(*) FILTER(WHERE
              (
                "t12"."age_days" >= 1
              ) AND (
                "t12"."age_days" <= 7
              )) - COUNT(*) FILTER(WHERE
              (
                "t12"."age_days" >= 8
              ) AND (
                "t12"."age_days" <= 14
              )) AS "active_days_trend_diff_7d",
            COALESCE(
              SUM("t12"."value_sum") FILTER(WHERE
                (
                  "t12"."age_days" >= 1
                ) AND (
                  "t12"."age_days" <= 7
                )),
              0
            ) - COALESCE(
              SUM("t12"."value_sum") FILTER(WHERE
                (
                  "t12"."age_days" >= 8
                ) AND (
                  "t12"."age_days" <= 14
                )),
              0
            ) AS "value_trend_diff_7d",
            AVG(CAST("t12"."gap_days" AS DOUBLE)) AS "gap_mean_days",
            STDDEV_SAMP(CAST("t12"."gap_days" AS DOUBLE)) AS "gap_std_days",
            MAX(CAST("t12"."gap_days" AS DOUBLE)) AS "gap_max_days",
            CASE
              WHEN AVG(CAST("t12"."gap_days" AS DOUBLE)) = 0
              THEN CAST(NULL AS DOUBLE)
              ELSE (
                (
                  EPOCH(CAST(MAX("t12"."cutoff_ts") AS TIMESTAMP)) - EPOCH(CAST(MAX("t12"."last_ts") AS TIMESTAMP))
                ) / 86400
              ) / AVG(CAST("t12"."gap_days" AS DOUBLE))
            END AS "gap_current_ratio",
            COUNT(*) FILTER(WHERE
              (
                "t12"."age_days" >= 1
              ) AND (
                "t12"."age_days" <= 30
              )) AS "_active_days_recent",
            COUNT(*) FILTER(WHERE
              (
                "t12"."age_days" >= 1
              ) AND (
                "t12"."age_days" <= 60
              )) AS "_active_days_lapse_window",
            MAX("t12"."cutoff_ts") AS "cutoff_ts",
            MIN("t12"."first_ts") AS "_first_ts"
          FROM (
            SELECT
              "t10"."user_id",
              "t10"."day",
              "t10"."events",
              "t10"."value_sum",
              "t10"."valued_events",
              "t10"."sessions",
              "t10"."first_ts",
              "t10"."last_ts",
              "t10"."last_valued_ts",
              "t10"."n_qualifying",
              "t10"."n_visit",
              "t10"."n_purchase",
              "t10"."gap_days",
              "t10"."cutoff",
              "t10"."cutoff_ts",
              DATE_DIFF('DAY', "t10"."day", "t10"."cutoff") AS "age_days"
            FROM (
              SELECT
                "t9"."user_id",
                "t9"."day",
                "t9"."events",
                "t9"."value_sum",
                "t9"."valued_events",
                "t9"."sessions",
                "t9"."first_ts",
                "t9"."last_ts",
                "t9"."last_valued_ts",
                "t9"."n_qualifying",
                "t9"."n_visit",
                "t9"."n_purchase",
                "t9"."gap_days",
                "t6"."cutoff",
                "t6"."cutoff_ts"
              FROM (
                SELECT
                  "t7"."user_id",
                  "t7"."day",
                  "t7"."events",
                  "t7"."value_sum",
                  "t7"."valued_events",
                  "t7"."sessions",
                  "t7"."first_ts",
                  "t7"."last_ts",
                  "t7"."last_valued_ts",
                  "t7"."n_qualifying",
                  "t7"."n_visit",
                  "t7"."n_purchase",
                  DATE_DIFF(
                    'DAY',
                    LAG("t7"."day") OVER (
                      PARTITION BY "t7"."user_id"
                      ORDER BY "t7"."day" ASC
                      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
                    ),
                    "t7"."day"
                  ) AS "gap_days"
                FROM (
                  SELECT
                    "t1"."user_id",
                    CAST("t1"."ts" AS DATE) AS "day",
                    COUNT(*) AS "events",
                    SUM(COALESCE("t1"."value", 0.0)) AS "value_sum",
                    SUM(CAST(COALESCE("t1"."value", 0.0) > 0 AS INT)) AS "valued_events",
                    COUNT(DISTINCT "t1"."session_id") AS "sessions",
                    MIN("t1"."ts") AS "first_ts",
                    MAX("t1"."ts") AS "last_ts",
                    MAX("t1"."ts") FILTER(WHERE
                      COALESCE("t1"."value", 0.0) > 0) AS "last_valued_ts",
                    COUNT(*) AS "n_qualifying",
                    SUM(CAST("t1"."event" = 'visit' AS INT)) AS "n_visit",
                    SUM(CAST("t1"."event" = 'purchase' AS INT)) AS "n_purchase"
                  FROM "events" AS "t1"
                  GROUP BY
                    1,
                    2
                ) AS "t7"
              ) AS "t9"
              INNER JOIN (
                SELECT
                  "t2"."cutoff",
                  CAST("t2"."cutoff" AS TIMESTAMP) AS "cutoff_ts"
                FROM "cutoffs" AS "t2"
              ) AS "t6"
                ON "t9"."day" < "t6"."cutoff"
            ) AS "t10"
          ) AS "t12"
          GROUP BY
            1,
            2
        ) AS "t16"
        LEFT OUTER JOIN (
          SELECT
            "t11"."user_id",
            "t11"."cutoff",
            SUM("t11"."n_qualifying") AS "_future_events"
          FROM (
            SELECT
              "t9"."user_id",
              "t9"."day",
              "t9"."events",
              "t9"."value_sum",
              "t9"."valued_events",
              "t9"."sessions",
              "t9"."first_ts",
              "t9"."last_ts",
              "t9"."last_valued_ts",
              "t9"."n_qualifying",
              "t9"."n_visit",
              "t9"."n_purchase",
              "t9"."gap_days",
              "t6"."cutoff",
              "t6"."cutoff_ts"
            FROM (
              SELECT
                "t7"."user_id",
                "t7"."day",
                "t7"."events",
                "t7"."value_sum",
                "t7"."valued_events",
                "t7"."sessions",
                "t7"."first_ts",
                "t7"."last_ts",
                "t7"."last_valued_ts",
                "t7"."n_qualifying",
                "t7"."n_visit",
                "t7"."n_purchase",
                DATE_DIFF(
                  'DAY',
                  LAG("t7"."day") OVER (
                    PARTITION BY "t7"."user_id"
                    ORDER BY "t7"."day" ASC
                    ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
                  ),
                  "t7"."day"
                ) AS "gap_days"
              FROM (
                SELECT
                  "t1"."user_id",
                  CAST("t1"."ts" AS DATE) AS "day",
                  COUNT(*) AS "events",
                  SUM(COALESCE("t1"."value", 0.0)) AS "value_sum",
                  SUM(CAST(COALESCE("t1"."value", 0.0) > 0 AS INT)) AS "valued_events",
                  COUNT(DISTINCT "t1"."session_id") AS "sessions",
                  MIN("t1"."ts") AS "first_ts",
                  MAX("t1"."ts") AS "last_ts",
                  MAX("t1"."ts") FILTER(WHERE
                    COALESCE("t1"."value", 0.0) > 0) AS "last_valued_ts",
                  COUNT(*) AS "n_qualifying",
                  SUM(CAST("t1"."event" = 'visit' AS INT)) AS "n_visit",
                  SUM(CAST("t1"."event" = 'purchase' AS INT)) AS "n_purchase"
                FROM "events" AS "t1"
                GROUP BY
                  1,
                  2
              ) AS "t7"
            ) AS "t9"
            INNER JOIN (
              SELECT
                "t2"."cutoff",
                CAST("t2"."cutoff" AS TIMESTAMP) AS "cutoff_ts"
              FROM "cutoffs" AS "t2"
            ) AS "t6"
              ON "t9"."day" >= "t6"."cutoff"
              AND "t9"."day" < (
                "t6"."cutoff" + INTERVAL '30' DAY
              )
          ) AS "t11"
          GROUP BY
            1,
            2
        ) AS "t14"
          ON "t16"."user_id" = "t14"."user_id" AND "t16"."cutoff" = "t14"."cutoff"
      ) AS "t17"
    ) AS "t19"
    LEFT OUTER JOIN (
      SELECT
        *
      FROM "users" AS "t0"
    ) AS "t4"
      ON "t19"."user_id" = "t4"."user_id"
  ) AS "t20"
) AS "t21"
ORDER BY
  "t21"."cutoff" ASC,
  "t21"."user_id" ASC
