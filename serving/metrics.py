"""The service's own Prometheus counters, beside BentoML's on /metrics.

prometheus_client is imported on first use, not at import: BentoML sets its multiprocess
directory in each worker after importing the service, and a client initialised before that
would count into nothing /metrics reads.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def refresh_failures() -> Any:
    """Failed background refreshes by error type (RegistryError, PairError, ...)."""
    import prometheus_client

    return prometheus_client.Counter(
        "winback_refresh_failures",
        "Background refreshes of the champion and online store that failed; the previous "
        "pair kept serving",
        ["kind"],
    )
