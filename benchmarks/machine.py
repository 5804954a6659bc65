"""What a benchmark ran on, said the same way in every result: the machine, the versions that
matter to it, and how busy the machine was (other work skews wall times, not CPU times)."""

from __future__ import annotations

import os
import platform
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console

BASE_PACKAGES = ("duckdb", "ibis-framework", "pandas", "pyarrow")
IDLE_LOAD = 0.5


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(*packages: str) -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        **{name: version(name) for name in (*BASE_PACKAGES, *packages)},
    }


def machine_line(result: dict[str, Any], packages: tuple[str, ...], extra: str = "") -> str:
    """The closing line of a result's Markdown: machine, versions, load, when and how."""
    box, load = result["machine"], result["load_average"]
    versions = ", ".join(f"{name} {box[name]}" for name in packages if name in box)
    busy = max(load["start"], load["end"]) > box["cpus"]
    return (
        f"Machine: {box['cpu']}, {box['cpus']} CPUs, {box['memory_gb']} GB RAM; Python "
        f"{box['python']}{', ' + versions if versions else ''}{extra}; 1-minute load average "
        f"{load['start']:.1f} before and {load['end']:.1f} after"
        f"{' (above the core count: other work shared the machine)' if busy else ''}. "
        f"Measured {result['measured_at']} with `{result['command']}`."
    )


def load_before(console: Console) -> float:
    """The 1-minute load average as a benchmark starts, with a warning when the machine is
    not idle (wall times then include other work's)."""
    load = os.getloadavg()[0]
    if load > IDLE_LOAD:
        console.print(f"[yellow]load average {load:.1f}: other work may skew times[/]")
    return load
