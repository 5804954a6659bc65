"""How a service process is started: its environment, built from the config by `winback serve`.

BentoML fixes a service's process settings (workers, access log) when its server starts, not
when the module is imported, so they travel as BentoML's own JSON overrides instead of being
read from the config at import. Light on purpose: `winback serve` imports this, not BentoML.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from serving.config import ServingConfig

SERVICE_NAME = "winback"
SERVICE = "serving.service:WinbackService"
CONFIG_ENV = "WINBACK_CONFIG"
BENTOML_OVERRIDES_ENV = "BENTOML_CONFIG_OVERRIDES"
# MLflow unpickles pyfunc and some flavours' models unless this is false (its default is
# true). The service reads only the LightGBM text file and the JSON metadata; with this set,
# anything that tried to unpickle a model in the service would fail instead.
NO_PICKLES = {"MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false"}
# The request guard reads its limit from here: middleware is built before the service.
BODY_LIMIT_ENV = "WINBACK_MAX_BODY_BYTES"


def server_environment(
    config_path: Path, settings: ServingConfig, environ: Mapping[str, str]
) -> dict[str, str]:
    """`environ` plus what the service reads: its config file, no pickles, process settings,
    the body limit, and registry timeouts (MLflow retries for minutes by default; the
    operator's own MLFLOW_HTTP_REQUEST_* settings win)."""
    overrides = {
        "services": {
            SERVICE_NAME: {
                "workers": settings.workers,
                "logging": {"access": {"enabled": settings.access_log}},
            }
        }
    }
    registry = {
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(settings.registry_timeout_seconds),
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",  # one per model load, in the log
    }
    return {
        **registry,
        **environ,
        **NO_PICKLES,
        CONFIG_ENV: str(config_path.resolve()),
        BENTOML_OVERRIDES_ENV: json.dumps(overrides),
        BODY_LIMIT_ENV: str(settings.max_body_bytes),
    }
