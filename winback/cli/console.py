"""The two consoles every command writes to; printers of summaries live in `render`.

Markup and emoji codes are off: paths, column names and values from the user's files are
printed as written (Rich would read `[red]` in a path as a style, or fail on `[/bold]`).
Styles are given as `style=` or `Text`, never inside the printed string.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.text import Text


def _width() -> int | None:
    """Logs and pipes get 120 columns instead of Rich's 80, so tables of numbers stay whole."""
    return None if sys.stdout.isatty() or "COLUMNS" in os.environ else 120


console = Console(width=_width(), markup=False, emoji=False)
errors = Console(stderr=True, width=_width(), markup=False, emoji=False)


@contextmanager
def working(message: str) -> Iterator[Callable[[str], None]]:
    """A spinner line and the function that updates it; Rich's spinner parses plain strings
    as markup whatever the console says, so the text goes in as `Text`."""
    with console.status(Text(message)) as status:
        yield lambda text: status.update(Text(text))
