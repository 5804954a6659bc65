"""Where a benchmark's numbers go: JSON always, the Markdown table only when the approaches
it compares produced the same output (else the timings compare different tables)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console


def save(
    folder: Path,
    stem: str,
    result: dict[str, Any],
    markdown: Callable[[dict[str, Any]], str],
    problems: Sequence[str],
    console: Console,
) -> int:
    """Exit status for `python -m benchmarks`: 1 when the outputs differ."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    if problems:
        console.print("[bold red]OUTPUTS DIFFER: these timings compare different tables[/]")
        for problem in problems:
            console.print(f"[red]  {problem}[/red]")
        return 1
    (folder / f"{stem}.md").write_text(markdown(result))
    console.print(f"[green]outputs identical[/green]; wrote {folder / stem}.json and .md")
    return 0
