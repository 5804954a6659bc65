"""The two consoles every command writes to; printers of summaries live in `render`."""

from __future__ import annotations

import os
import sys

from rich.console import Console


def _width() -> int | None:
    """Logs and pipes get 120 columns instead of Rich's 80, so tables of numbers stay whole."""
    return None if sys.stdout.isatty() or "COLUMNS" in os.environ else 120


console = Console(width=_width())
errors = Console(stderr=True, width=_width())
