"""`report`: the operations page as static HTML files, for people without the service."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from winback.cli.common import ConfigOption, open_config, user_errors
from winback.cli.console import console, working


def report_command(
    config: ConfigOption,
    out: Annotated[
        Path, typer.Option(help="Folder for the pages (index.html and one per section)")
    ],
    policy: Annotated[
        Path | None,
        typer.Option(help="Recall policy YAML (default: serving.recall_policy of the config)"),
    ] = None,
) -> None:
    """Write the operations page (Now, Why, Retention, Campaigns) as HTML files: what the
    service shows at /ui, from the same champion, online store and files."""
    import os

    from artifact.tracking import resolve_store
    from ops.page import SECTIONS, Pages, cache_folder
    from serving.model_source import ServingSource
    from serving.online_store import open_store
    from serving.responses import RecallCache
    from serving.ui import page_inputs

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    with user_errors():
        cfg = open_config(config)
        source = ServingSource(resolve_store(cfg), cfg.model.name, open_store(cfg))
        with console.status("loading the champion and the online store"):
            source.refresh()
        serving = source.current
        assert serving is not None  # refresh raised otherwise
        named = cfg.serving.recall_policy
        chosen = policy or (Path(named) if named else None)
        inputs = page_inputs(cfg, serving, RecallCache(chosen))
        pages = Pages(cache_folder(cfg))
        out.mkdir(parents=True, exist_ok=True)
        written = []
        with working("computing the page") as status:
            for name, _ in SECTIONS:
                text = pages.page(name, inputs, lambda section: f"{section}.html", progress=status)
                assert text is not None  # no wait: computed here
                written.append(out / f"{name}.html")
                written[-1].write_text(text)
                if name == SECTIONS[0][0]:
                    (out / "index.html").write_text(text)
    console.print(inputs.describe(), soft_wrap=True)
    for path in [out / "index.html", *written]:
        console.print(f"  {path}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
