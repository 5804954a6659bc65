"""`materialize`: the online store the service and batch scoring read."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from core.config import load_config
from winback.cli.common import (
    ConfigOption,
    EngineOption,
    open_config,
    open_engine,
    open_spark,
    parse_date,
    user_errors,
)
from winback.cli.console import console, errors, working

if TYPE_CHECKING:
    import pandas as pd

    from core.config import DatasetConfig
    from serving.model_source import Serving

ForceOption = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Go ahead although the store and the champion's feature definitions differ "
        "(or the store's users look implausible); says what was let through",
    ),
]


def _warn(message: str) -> None:
    """One line on stderr; the command goes on."""
    errors.print(Text.assemble(("warning:", "bold yellow"), " ", message), soft_wrap=True)


def materialize_command(
    config: ConfigOption,
    cutoff: Annotated[
        str, typer.Option(help="latest (day after the last event) | now (today) | YYYY-MM-DD")
    ] = "latest",
    engine: EngineOption = None,
    force: ForceOption = False,
) -> None:
    """Write every user's features as of the cutoff into a new online store version; it goes
    live only if it fits the champion and its users look plausible (or with --force)."""
    from artifact.tracking import resolve_store
    from serving.materialize import load_champion, materialize, resolve_cutoff
    from winback.cli.render import print_store_version

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    with user_errors():
        cfg = open_config(config)
        if cutoff not in ("latest", "now"):
            parse_date(cutoff, "--cutoff")
        champion = load_champion(resolve_store(cfg), cfg.model.name)
        if champion is None:
            _warn(f"{cfg.model.name} has no champion yet: the store is not checked against one")
        chosen = open_engine(cfg.engine, engine)
        with working("materializing") as status:
            version = materialize(
                cfg,
                chosen,
                resolve_cutoff(cutoff, cfg, chosen),
                progress=status,
                champion=champion,
                force=force,
                warn=_warn,
            )
        print_store_version(version)


def score(
    config: ConfigOption,
    out: Annotated[
        str,
        typer.Option(
            help="Parquet file for the scores; with spark a folder of files in rank order "
            "(a path, or a URI such as s3a://bucket/scores)"
        ),
    ],
    engine: EngineOption = None,
    force: ForceOption = False,
) -> None:
    """Score every user in the online store with the champion model (batch); refused when
    the store was materialized with another feature definition (unless --force)."""
    from serving.online_store import open_store
    from serving.store_read import ReadAhead
    from winback.cli.lightgbm_alone import import_lightgbm

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # the status says it
    with user_errors():
        cfg = open_config(config)
        spark = (engine or cfg.engine.kind) == "spark"
        # The local engine's read of the store begins now, on a thread: it is done while
        # LightGBM and MLflow are imported and the champion is loaded, below.
        ahead = None if spark else ReadAhead(open_store(cfg))
        import_lightgbm()
        import pandas as pd

        from artifact.compatibility import check
        from artifact.tracking import resolve_store
        from serving.batch import score_all, write_scores
        from serving.ledger import COLUMNS as LEDGER_COLUMNS
        from serving.model_source import ServingSource
        from winback.cli.render import print_scores, score_counts

        source = ServingSource(  # batch reads the store's Parquet: no page-by-page check
            resolve_store(cfg), cfg.model.name, open_store(cfg), not force, check_pages=False
        )
        with console.status("loading the champion and the online store"):
            source.refresh()  # refuses a pair whose definitions differ, unless --force
        serving = source.current
        assert serving is not None
        stored = serving.store.version
        fit = check(serving.model.metadata, stored.definition, stored.features)
        pair = f"champion {serving.name} v{serving.version} and online store {stored.version}"
        if fit.unknown:
            _warn(f"{fit.unknown}: {pair} are not checked")
        if not fit.compatible:
            _warn(f"{pair} do not fit: {fit.describe()}; scoring anyway (--force)")
        users = f"{stored.rows:,} users"
        if ahead is None:  # spark: its executors read the store themselves
            session = open_spark(cfg.engine.spark).session
            from serving.spark_scoring import score_all_on_spark  # pyspark: only when asked

            with console.status(f"scoring {users} on Spark"):
                written = score_all_on_spark(session, serving, out)
            print_scores(written.out, written.counts, written.top, written.rows_per_file)
            if Path(out).exists():  # a local folder: the ledger keeps it too
                recorded = _record(cfg, serving, pd.read_parquet(out, columns=list(LEDGER_COLUMNS)))
                console.print(recorded, soft_wrap=True)
            else:
                _warn(f"{out} is not a local path: not recorded in the ledger")
            return
        with console.status(f"scoring {users}"):
            scores = score_all(serving, ahead.rows)
        # Arrow writes the file on a thread while the ledger is recorded (Python, MLflow); a
        # write that fails still fails the command, with the ledger already holding the
        # scores (the same cutoff and model replace that entry when scoring is run again).
        with (
            console.status("writing the scores and recording them in the ledger"),
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="winback-write") as pool,
        ):
            writing = pool.submit(write_scores, scores, Path(out))
            recorded = _record(cfg, serving, scores)
            writing.result()
        ranked = int(scores["rank"].notna().sum())  # ranked users come first: a slice
        print_scores(out, score_counts(scores), scores.head(ranked))
        console.print(recorded, soft_wrap=True)


def _record(cfg: DatasetConfig, serving: Serving, scores: pd.DataFrame) -> str:
    """Into the ledger (`winback monitor` checks it later) and noted on an MLflow run; what
    to tell the user."""
    import datetime as dt

    from artifact.tracking import resolve_store
    from serving.ledger import Entry, ledger_root, record
    from serving.ledger_tracking import log_entry

    stored = serving.store.version
    entry = Entry(
        serving.name, serving.version, stored.version, dt.date.fromisoformat(stored.cutoff)
    )
    path = record(ledger_root(cfg), scores, entry)
    run_id = log_entry(resolve_store(cfg), entry, path, scores)
    return f"ledger: {path} (MLflow run {run_id})"


def serve(
    config: ConfigOption,
    port: Annotated[int, typer.Option(help="TCP port")] = 3000,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
) -> None:
    """Start the HTTP scoring service (BentoML) with this config's champion and store."""
    from serving.launch import SERVICE, server_environment
    from serving.preflight import check_can_serve

    with user_errors():
        cfg = load_config(config)
        with console.status("checking the champion and the online store"):
            check_can_serve(cfg)
        settings = cfg.serving
    env = server_environment(config, settings, os.environ)
    command = [sys.executable, "-m", "bentoml", "serve", SERVICE]
    args = [*command, "--host", host, "--port", str(port)]
    os.execvpe(sys.executable, args, env)


def register(app: typer.Typer) -> None:
    app.command("materialize")(materialize_command)
    app.command()(score)
    app.command()(serve)
