"""Airflow DAG: the daily win-back cycle as one task that calls `winback cycle`.

Copy into Airflow's dags folder on a worker where Winback is installed (WINBACK_HOME). Each
run is for the day its data interval ends, the day it runs (`--as-of`): a backfill or a
re-run of a day runs exactly that day, and a day that already ran changes nothing (it only
retries webhook deliveries still pending). `max_active_runs=1` and `catchup=True` run missed days in
order; the cycle itself also refuses a day earlier than the last one it ran.

Exit codes: 0 done; 1 done with webhook deliveries pending (marked skipped, so it shows in
the grid, and the next day's run retries them); 2 fix the config or input (failed, no retry);
75 another cycle holds the lock (retried).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow import DAG
from airflow.exceptions import AirflowException, AirflowFailException, AirflowSkipException
from airflow.operators.python import PythonOperator

WINBACK_HOME = os.environ.get("WINBACK_HOME", "/opt/winback")
COMMAND = [
    f"{WINBACK_HOME}/.venv/bin/winback",
    "cycle",
    "--config",
    f"{WINBACK_HOME}/configs/prod.yaml",
    "--policy",
    f"{WINBACK_HOME}/configs/recall.yaml",
]


def run_cycle(data_interval_end: datetime, **_context: object) -> None:
    import subprocess

    day = data_interval_end.date().isoformat()
    done = subprocess.run([*COMMAND, "--as-of", day], cwd=WINBACK_HOME, check=False)
    if done.returncode == 1:
        raise AirflowSkipException("webhook deliveries pending: the next cycle retries them")
    if done.returncode == 75:
        raise AirflowException("another winback cycle is running: retry later")
    if done.returncode == 2:
        raise AirflowFailException("winback cycle refused its input (see the log): fix, clear")
    if done.returncode != 0:
        raise AirflowException(f"winback cycle exited {done.returncode}")


with DAG(
    dag_id="winback_cycle",
    description="Daily win-back loop: new events -> scores -> recall list -> delivery -> reviews",
    schedule="30 2 * * *",
    start_date=datetime(2025, 1, 1),
    catchup=True,
    max_active_runs=1,
    default_args={"retries": 3, "retry_delay": timedelta(minutes=15)},
    tags=["winback"],
) as dag:
    PythonOperator(task_id="winback_cycle", python_callable=run_cycle)
