WITH `t5` AS (
  SELECT
    `t1`.`cutoff`,
    CAST(`t1`.`cutoff` AS TIMESTAMP) AS `cutoff_ts`
  FROM `cutoffs` AS `t1`
), `t10` AS (
  SELECT
    `t9`.`user_id`,
    `t9`.`day`,
    `t9`.`events`,
    `t9`.`value_sum`,
    `t9`.`valued_events`,
    `t9`.`sessions`,
    `t9`.`first_ts`,
    `t9`.`last_ts`,
    `t9`.`last_valued_ts`,
    `t9`.`n_qualifying`,
    `t9`.`n_visit`,
    `t9`.`n_purchase`,
    DATEDIFF(
      DAY,
      LAG(`t9`.`day`) OVER (PARTITION BY `t9`.`user_id` ORDER BY `t9`.`day` ASC NULLS LAST),
      `t9`.`day`
    ) AS `gap_days`
  FROM (
    SELECT
      `t2`.`user_id`,
      CAST(`t2`.`ts` AS DATE) AS `day`,
      COUNT(*) AS `events`,
      SUM(COALESCE(`t2`.`value`, 0.0)) AS `value_sum`,
      SUM(CAST(COALESCE(`t2`.`value`, 0.0) > 0 AS BIGINT)) AS `valued_events`,
      COUNT(DISTINCT `t2`.`session_id`) AS `sessions`,
      MIN(`t2`.`ts`) AS `first_ts`,
      MAX(`t2`.`ts`) AS `last_ts`,
      MAX(IF(COALESCE(`t2`.`value`, 0.0) > 0, `t2`.`ts`, NULL)) AS `last_valued_ts`,
      COUNT(*) AS `n_qualifying`,
      SUM(CAST(`t2`.`event` = 'visit' AS BIGINT)) AS `n_visit`,
      SUM(CAST(`t2`.`event` = 'purchase' AS BIGINT)) AS `n_purchase`
    FROM `events` AS `t2`
    GROUP BY
      1,
      2
  ) AS `t9`
)
SELECT
  `t25`.`user_id`,
  `t25`.`cutoff`,
  CASE
    WHEN FALSE
    THEN 'new'
    WHEN FALSE OR (
      `t25`.`_active_days_lapse_window` = 0
    )
    THEN 'lapsed'
    WHEN `t25`.`_active_days_recent` > 0
    THEN 'active'
    ELSE 'dormant'
  END AS `status`,
  IF(
    (
      CASE
        WHEN FALSE
        THEN 'new'
        WHEN FALSE OR (
          `t25`.`_active_days_lapse_window` = 0
        )
        THEN 'lapsed'
        WHEN `t25`.`_active_days_recent` > 0
        THEN 'active'
        ELSE 'dormant'
      END = 'active'
    )
    AND (
      (
        `t25`.`cutoff` + INTERVAL '30' DAY
      ) <= MAKE_DATE(2024, 6, 1)
    ),
    CAST(COALESCE(`t25`.`_future_events`, 0) = 0 AS TINYINT),
    CAST(NULL AS TINYINT)
  ) AS `label`,
  `t25`.`recency_days`,
  `t25`.`recency_valued_days`,
  `t25`.`events_7d`,
  `t25`.`active_days_7d`,
  `t25`.`events_30d`,
  `t25`.`active_days_30d`,
  `t25`.`events_total`,
  `t25`.`active_days_total`,
  `t25`.`value_7d`,
  `t25`.`value_mean_7d`,
  `t25`.`value_30d`,
  `t25`.`value_mean_30d`,
  `t25`.`value_total`,
  `t25`.`value_mean_total`,
  `t25`.`events_per_active_day`,
  `t25`.`events_per_active_day_30d`,
  `t25`.`share_visit_30d`,
  `t25`.`share_purchase_30d`,
  `t25`.`sessions_30d`,
  `t25`.`events_per_session_30d`,
  `t25`.`events_trend_ratio_7d`,
  `t25`.`events_trend_diff_7d`,
  `t25`.`active_days_trend_diff_7d`,
  `t25`.`value_trend_diff_7d`,
  `t25`.`gap_mean_days`,
  `t25`.`gap_std_days`,
  `t25`.`gap_max_days`,
  `t25`.`gap_current_ratio`,
  DATEDIFF(
    MICROSECOND,
    LEAST(COALESCE(`t25`.`signup_ts`, `t25`.`_first_ts`), `t25`.`_first_ts`),
    `t25`.`cutoff_ts`
  ) / 86400000000 AS `tenure_days`,
  `t25`.`plan`
FROM (
  SELECT
    `t24`.`user_id`,
    `t24`.`cutoff`,
    `t24`.`recency_days`,
    `t24`.`recency_valued_days`,
    `t24`.`events_7d`,
    `t24`.`active_days_7d`,
    `t24`.`events_30d`,
    `t24`.`active_days_30d`,
    `t24`.`events_total`,
    `t24`.`active_days_total`,
    `t24`.`value_7d`,
    `t24`.`value_mean_7d`,
    `t24`.`value_30d`,
    `t24`.`value_mean_30d`,
    `t24`.`value_total`,
    `t24`.`value_mean_total`,
    `t24`.`events_per_active_day`,
    `t24`.`events_per_active_day_30d`,
    `t24`.`share_visit_30d`,
    `t24`.`share_purchase_30d`,
    `t24`.`sessions_30d`,
    `t24`.`events_per_session_30d`,
    `t24`.`events_trend_ratio_7d`,
    `t24`.`events_trend_diff_7d`,
    `t24`.`active_days_trend_diff_7d`,
    `t24`.`value_trend_diff_7d`,
    `t24`.`gap_mean_days`,
    `t24`.`gap_std_days`,
    `t24`.`gap_max_days`,
    `t24`.`gap_current_ratio`,
    `t24`.`_active_days_recent`,
    `t24`.`_active_days_lapse_window`,
    `t24`.`cutoff_ts`,
    `t24`.`_first_ts`,
    `t24`.`_future_events`,
    `t24`.`signup_ts`,
    `t24`.`plan`
  FROM (
    SELECT
      `t23`.`user_id`,
      `t23`.`cutoff`,
      `t23`.`recency_days`,
      `t23`.`recency_valued_days`,
      `t23`.`events_7d`,
      `t23`.`active_days_7d`,
      `t23`.`events_30d`,
      `t23`.`active_days_30d`,
      `t23`.`events_total`,
      `t23`.`active_days_total`,
      `t23`.`value_7d`,
      `t23`.`value_mean_7d`,
      `t23`.`value_30d`,
      `t23`.`value_mean_30d`,
      `t23`.`value_total`,
      `t23`.`value_mean_total`,
      `t23`.`events_per_active_day`,
      `t23`.`events_per_active_day_30d`,
      `t23`.`share_visit_30d`,
      `t23`.`share_purchase_30d`,
      `t23`.`sessions_30d`,
      `t23`.`events_per_session_30d`,
      `t23`.`events_trend_ratio_7d`,
      `t23`.`events_trend_diff_7d`,
      `t23`.`active_days_trend_diff_7d`,
      `t23`.`value_trend_diff_7d`,
      `t23`.`gap_mean_days`,
      `t23`.`gap_std_days`,
      `t23`.`gap_max_days`,
      `t23`.`gap_current_ratio`,
      `t23`.`_active_days_recent`,
      `t23`.`_active_days_lapse_window`,
      `t23`.`cutoff_ts`,
      `t23`.`_first_ts`,
      `t23`.`_future_events`,
      `t4`.`user_id` AS `user_id_right`,
      `t4`.`signup_ts`,
      `t4`.`plan`
    FROM (
      SELECT
        `t21`.`user_id`,
        `t21`.`cutoff`,
        `t21`.`recency_days`,
        `t21`.`recency_valued_days`,
        `t21`.`events_7d`,
        `t21`.`active_days_7d`,
        `t21`.`events_30d`,
        `t21`.`active_days_30d`,
        `t21`.`events_total`,
        `t21`.`active_days_total`,
        `t21`.`value_7d`,
        `t21`.`value_mean_7d`,
        `t21`.`value_30d`,
        `t21`.`value_mean_30d`,
        `t21`.`value_total`,
        `t21`.`value_mean_total`,
        `t21`.`events_per_active_day`,
        `t21`.`events_per_active_day_30d`,
        `t21`.`share_visit_30d`,
        `t21`.`share_purchase_30d`,
        `t21`.`sessions_30d`,
        `t21`.`events_per_session_30d`,
        `t21`.`events_trend_ratio_7d`,
        `t21`.`events_trend_diff_7d`,
        `t21`.`active_days_trend_diff_7d`,
        `t21`.`value_trend_diff_7d`,
        `t21`.`gap_mean_days`,
        `t21`.`gap_std_days`,
        `t21`.`gap_max_days`,
        `t21`.`gap_current_ratio`,
        `t21`.`_active_days_recent`,
        `t21`.`_active_days_lapse_window`,
        `t21`.`cutoff_ts`,
        `t21`.`_first_ts`,
        `t21`.`_future_events`
      FROM (
        SELECT
          `t20`.`user_id`,
          `t20`.`cutoff`,
          `t20`.`recency_days`,
          `t20`.`recency_valued_days`,
          `t20`.`events_7d`,
          `t20`.`active_days_7d`,
          `t20`.`events_30d`,
          `t20`.`active_days_30d`,
          `t20`.`events_total`,
          `t20`.`active_days_total`,
          `t20`.`value_7d`,
          `t20`.`value_mean_7d`,
          `t20`.`value_30d`,
          `t20`.`value_mean_30d`,
          `t20`.`value_total`,
          `t20`.`value_mean_total`,
          `t20`.`events_per_active_day`,
          `t20`.`events_per_active_day_30d`,
          `t20`.`share_visit_30d`,
          `t20`.`share_purchase_30d`,
          `t20`.`sessions_30d`,
          `t20`.`events_per_session_30d`,
          `t20`.`events_trend_ratio_7d`,
          `t20`.`events_trend_diff_7d`,
          `t20`.`active_days_trend_diff_7d`,
          `t20`.`value_trend_diff_7d`,
          `t20`.`gap_mean_days`,
          `t20`.`gap_std_days`,
          `t20`.`gap_max_days`,
          `t20`.`gap_current_ratio`,
          `t20`.`_active_days_recent`,
          `t20`.`_active_days_lapse_window`,
          `t20`.`cutoff_ts`,
          `t20`.`_first_ts`,
          `t18`.`user_id` AS `user_id_right`,
          `t18`.`cutoff` AS `cutoff_right`,
          `t18`.`_future_events`
        FROM (
          SELECT
            `t16`.`user_id`,
            `t16`.`cutoff`,
            DATEDIFF(MICROSECOND, MAX(`t16`.`last_ts`), MAX(`t16`.`cutoff_ts`)) / 86400000000 AS `recency_days`,
            DATEDIFF(MICROSECOND, MAX(`t16`.`last_valued_ts`), MAX(`t16`.`cutoff_ts`)) / 86400000000 AS `recency_valued_days`,
            COALESCE(
              SUM(
                IF((
                  `t16`.`age_days` >= 1
                ) AND (
                  `t16`.`age_days` <= 7
                ), `t16`.`events`, NULL)
              ),
              0
            ) AS `events_7d`,
            SUM(CAST((
              `t16`.`age_days` >= 1
            ) AND (
              `t16`.`age_days` <= 7
            ) AS BIGINT)) AS `active_days_7d`,
            COALESCE(
              SUM(
                IF((
                  `t16`.`age_days` >= 1
                ) AND (
                  `t16`.`age_days` <= 30
                ), `t16`.`events`, NULL)
              ),
              0
            ) AS `events_30d`,
            SUM(CAST((
              `t16`.`age_days` >= 1
            ) AND (
              `t16`.`age_days` <= 30
            ) AS BIGINT)) AS `active_days_30d`,
            SUM(`t16`.`events`) AS `events_total`,
            COUNT(*) AS `active_days_total`,
            COALESCE(
              SUM(
                IF((
                  `t16`.`age_days` >= 1
                ) AND (
                  `t16`.`age_days` <= 7
                ), `t16`.`value_sum`, NULL)
              ),
              0
            ) AS `value_7d`,
            IF(
              COALESCE(
                SUM(
                  IF(
                    (
                      `t16`.`age_days` >= 1
                    ) AND (
                      `t16`.`age_days` <= 7
                    ),
                    `t16`.`valued_events`,
                    NULL
                  )
                ),
                0
              ) = 0,
              CAST(NULL AS DOUBLE),
              COALESCE(
                SUM(
                  IF((
                    `t16`.`age_days` >= 1
                  ) AND (
                    `t16`.`age_days` <= 7
                  ), `t16`.`value_sum`, NULL)
                ),
                0
              ) / COALESCE(
                SUM(
                  IF(
                    (
                      `t16`.`age_days` >= 1
                    ) AND (
                      `t16`.`age_days` <= 7
                    ),
                    `t16`.`valued_events`,
                    NULL
                  )
                ),
                0
              )
            ) AS `value_mean_7d`,
            COALESCE(
              SUM(
                IF(
                  (
                    `t16`.`age_days` >= 1
                  ) AND (
                    `t16`.`age_days` <= 30
                  ),
                  `t16`.`value_sum`,
                  NULL
                )
              ),
              0
            ) AS `value_30d`,
            IF(
              COALESCE(
                SUM(
                  IF(
                    (
                      `t16`.`age_days` >= 1
                    ) AND (
                      `t16`.`age_days` <= 30
                    ),
                    `t16`.`valued_events`,
                    NULL
                  )
                ),
                0
              ) = 0,
              CAST(NULL AS DOUBLE),
              COALESCE(
                SUM(
                  IF(
                    (
                      `t16`.`age_days` >= 1
                    ) AND (
                      `t16`.`age_days` <= 30
                    ),
                    `t16`.`value_sum`,
                    NULL
                  )
                ),
                0
              ) / COALESCE(
                SUM(
                  IF(
                    (
                      `t16`.`age_days` >= 1
                    ) AND (
                      `t16`.`age_days` <= 30
                    ),
                    `t16`.`valued_events`,
                    NULL
                  )
                ),
                0
              )
            ) AS `value_mean_30d`,
            SUM(`t16`.`value_sum`) AS `value_total`,
            IF(
              SUM(`t16`.`valued_events`) = 0,
              CAST(NULL AS DOUBLE),
              SUM(`t16`.`value_sum`) / SUM(`t16`.`valued_events`)
            ) AS `value_mean_total`,
            SUM(`t16`.`events`) / COUNT(*) AS `events_per_active_day`,
            IF(
              SUM(CAST((
                `t16`.`age_days` >= 1
              ) AND (
                `t16`.`age_days` <= 30
              ) AS BIGINT)) = 0,
              CAST(NULL AS DOUBLE),
              COALESCE(
                SUM(
                  IF((
                    `t16`.`age_days` >= 1
                  ) AND (
                    `t16`.`age_days` <= 30
                  ), `t16`.`events`, NULL)
                ),
                0
              ) / SUM(CAST((
                `t16`.`age_days` >= 1
              ) AND (
                `t16`.`age_days` <= 30
              ) AS BIGINT))
            ) AS `events_per_active_day_30d`,
            IF(
              COALESCE(
                SUM(
                  IF((
                    `t16`.`age_days` >= 1
                  ) AND (
                    `t16`.`age_days` <= 30
                  ), `t16`.`events`, NULL)
                ),
                0
              ) = 0,
              CAST(NULL AS DOUBLE),
              COALESCE(
                SUM(
                  IF((
                    `t16`.`age_days` >= 1
                  ) AND (
                    `t16`.`age_days` <= 30
                  ), `t16`.`n_visit`, NULL)
                ),
                0
              ) / COALESCE(
                SUM(
                  IF((
                    `t16`.`age_days` >= 1
                  ) AND (
                    `t16`.`age_days` <= 30
                  ), `t16`.`events`, NULL)
                ),
                0
              )
            ) AS `share_visit_30d`,
            IF(
              COALESCE(
                SUM(
                  IF((
                    `t16`.`age_days` >= 1
                  ) AND (
                    `t16`.`age_days` <= 30
                  ), `t16`.`events`, NULL)
                ),
                0
              ) = 0,
              CAST(NULL AS DOUBLE),
              COALESCE(
                SUM(
                  IF(
                    (
                      `t16`.`age_days` >= 1
                    ) AND (
                      `t16`.`age_days` <= 30
                    ),
                    `t16`.`n_purchase`,
                    NULL
                  )
                ),
                0
              ) / COALESCE(
                SUM(
                  IF((
                    `t16`.`age_days` >= 1
                  ) AND (
                    `t16`.`age_days` <= 30
                  ), `t16`.`events`, NULL)
                ),
                0
              )
            ) AS `share_purchase_30d`,
            COALESCE(
              SUM(
                IF((
                  `t16`.`age_days` >= 1
                ) AND (
                  `t16`.`age_days` <= 30
                ), `t16`.`sessions`, NULL)
              ),
              0
            ) AS `sessions_30d`,
            IF(
              COALESCE(
                SUM(
                  IF((
                    `t16`.`age_days` >= 1
                  ) AND (
                    `t16`.`age_days` <= 30
                  ), `t16`.`sessions`, NULL)
                ),
                0
              ) = 0,
              CAST(NULL AS DOUBLE),
              COALESCE(
                SUM(
                  IF((
                    `t16`.`age_days` >= 1
                  ) AND (
                    `t16`.`age_days` <= 30
                  ), `t16`.`events`, NULL)
                ),
                0
              ) / COALESCE(
                SUM(
                  IF((
                    `t16`.`age_days` >= 1
                  ) AND (
                    `t16`.`age_days` <= 30
                  ), `t16`.`sessions`, NULL)
                ),
                0
              )
            ) AS `events_per_session_30d`,
            IF(
              COALESCE(
                SUM(
                  IF((
                    `t16`.`age_days` >= 8
                  ) AND (
                    `t16`.`age_days` <= 14
                  ), `t16`.`events`, NULL)
                ),
                0
              ) = 0,
              CAST(NULL AS DOUBLE),
              COALESCE(
                SUM(
                  IF((
                    `t16`.`age_days` >= 1
                  ) AND (
                    `t16`.`age_days` <= 7
                  ), `t16`.`events`, NULL)
                ),
                0
              ) / COALESCE(
                SUM(
                  IF((
                    `t16`.`age_days` >= 8
                  ) AND (
                    `t16`.`age_days` <= 14
                  ), `t16`.`events`, NULL)
                ),
                0
              )
            ) AS `events_trend_ratio_7d`,
            COALESCE(
              SUM(
                IF((
                  `t16`.`age_days` >= 1
                ) AND (
                  `t16`.`age_days` <= 7
                ), `t16`.`events`, NULL)
              ),
              0
            ) - COALESCE(
              SUM(
                IF((
                  `t16`.`age_days` >= 8
                ) AND (
                  `t16`.`age_days` <= 14
                ), `t16`.`events`, NULL)
              ),
              0
            ) AS `events_trend_diff_7d`,
            SUM(CAST((
              `t16`.`age_days` >= 1
            ) AND (
              `t16`.`age_days` <= 7
            ) AS BIGINT)) - SUM(CAST((
              `t16`.`age_days` >= 8
            ) AND (
              `t16`.`age_days` <= 14
            ) AS BIGINT)) AS `active_days_trend_diff_7d`,
            COALESCE(
              SUM(
                IF((
                  `t16`.`age_days` >= 1
                ) AND (
                  `t16`.`age_days` <= 7
                ), `t16`.`value_sum`, NULL)
              ),
              0
            ) - COALESCE(
              SUM(
                IF(
                  (
                    `t16`.`age_days` >= 8
                  ) AND (
                    `t16`.`age_days` <= 14
                  ),
                  `t16`.`value_sum`,
                  NULL
                )
              ),
              0
            ) AS `value_trend_diff_7d`,
            AVG(CAST(`t16`.`gap_days` AS DOUBLE)) AS `gap_mean_days`,
            STDDEV_SAMP(CAST(`t16`.`gap_days` AS DOUBLE)) AS `gap_std_days`,
            MAX(CAST(`t16`.`gap_days` AS DOUBLE)) AS `gap_max_days`,
            IF(
              AVG(CAST(`t16`.`gap_days` AS DOUBLE)) = 0,
              CAST(NULL AS DOUBLE),
              (
                DATEDIFF(MICROSECOND, MAX(`t16`.`last_ts`), MAX(`t16`.`cutoff_ts`)) / 86400000000
              ) / AVG(CAST(`t16`.`gap_days` AS DOUBLE))
            ) AS `gap_current_ratio`,
            SUM(CAST((
              `t16`.`age_days` >= 1
            ) AND (
              `t16`.`age_days` <= 30
            ) AS BIGINT)) AS `_active_days_recent`,
            SUM(CAST((
              `t16`.`age_days` >= 1
            ) AND (
              `t16`.`age_days` <= 60
            ) AS BIGINT)) AS `_active_days_lapse_window`,
            MAX(`t16`.`cutoff_ts`) AS `cutoff_ts`,
            MIN(`t16`.`first_ts`) AS `_first_ts`
          FROM (
            SELECT
              `t14`.`user_id`,
              `t14`.`day`,
              `t14`.`events`,
              `t14`.`value_sum`,
              `t14`.`valued_events`,
              `t14`.`sessions`,
              `t14`.`first_ts`,
              `t14`.`last_ts`,
              `t14`.`last_valued_ts`,
              `t14`.`n_qualifying`,
              `t14`.`n_visit`,
              `t14`.`n_purchase`,
              `t14`.`gap_days`,
              `t14`.`cutoff`,
              `t14`.`cutoff_ts`,
              DATEDIFF(DAY, `t14`.`day`, `t14`.`cutoff`) AS `age_days`
            FROM (
              SELECT
                `t12`.`user_id`,
                `t12`.`day`,
                `t12`.`events`,
                `t12`.`value_sum`,
                `t12`.`valued_events`,
                `t12`.`sessions`,
                `t12`.`first_ts`,
                `t12`.`last_ts`,
                `t12`.`last_valued_ts`,
                `t12`.`n_qualifying`,
                `t12`.`n_visit`,
                `t12`.`n_purchase`,
                `t12`.`gap_days`,
                `t8`.`cutoff`,
                `t8`.`cutoff_ts`
              FROM `t10` AS `t12`
              INNER JOIN `t5` AS `t8`
                ON `t12`.`day` < `t8`.`cutoff`
            ) AS `t14`
          ) AS `t16`
          GROUP BY
            1,
            2
        ) AS `t20`
        LEFT OUTER JOIN (
          SELECT
            `t15`.`user_id`,
            `t15`.`cutoff`,
            SUM(`t15`.`n_qualifying`) AS `_future_events`
          FROM (
            SELECT
              `t7`.`cutoff`,
              `t7`.`cutoff_ts`,
              `t13`.`user_id`,
              `t13`.`day`,
              `t13`.`events`,
              `t13`.`value_sum`,
              `t13`.`valued_events`,
              `t13`.`sessions`,
              `t13`.`first_ts`,
              `t13`.`last_ts`,
              `t13`.`last_valued_ts`,
              `t13`.`n_qualifying`,
              `t13`.`n_visit`,
              `t13`.`n_purchase`,
              `t13`.`gap_days`
            FROM `t5` AS `t7`
            INNER JOIN `t10` AS `t13`
              ON `t13`.`day` >= `t7`.`cutoff`
              AND `t13`.`day` < (
                `t7`.`cutoff` + INTERVAL '30' DAY
              )
          ) AS `t15`
          GROUP BY
            1,
            2
        ) AS `t18`
          ON `t20`.`user_id` = `t18`.`user_id` AND `t20`.`cutoff` = `t18`.`cutoff`
      ) AS `t21`
    ) AS `t23`
    LEFT OUTER JOIN (
      SELECT
        *
      FROM `users` AS `t0`
    ) AS `t4`
      ON `t23`.`user_id` = `t4`.`user_id`
  ) AS `t24`
) AS `t25`
ORDER BY
  `t25`.`cutoff` ASC NULLS LAST,
  `t25`.`user_id` ASC NULLS LAST
