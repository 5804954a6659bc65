"""Client mistakes in the server log: one INFO line, not an ERROR with a traceback.

BentoML logs every exception an API raises at ERROR with its traceback, 400s included, which
buries real faults. A filter on its logger rewrites the records of client errors (4xx) in
place; server errors pass untouched.
"""

from __future__ import annotations

import logging

from bentoml.exceptions import BentoMLException
from pydantic import ValidationError

BENTOML_LOGGER = "bentoml._internal.server.http_app"


def client_status(error: BaseException | None) -> int | None:
    if isinstance(error, ValidationError):
        return 400
    if isinstance(error, BentoMLException) and error.error_code.value < 500:
        return int(error.error_code.value)
    return None


class ClientErrorsAtInfo(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        status = client_status(error)
        if status is not None:
            text = str(error).splitlines()[0] if str(error) else type(error).__name__
            said = record.getMessage().replace("Exception on", "client error on").replace("%", "%%")
            record.msg = f"{said}: %d %s"
            record.args = (status, text[:500])
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info, record.exc_text = None, None
        return True


def install() -> None:
    """Once per process (the service's __init__); adding it twice would be harmless."""
    logger = logging.getLogger(BENTOML_LOGGER)
    if not any(isinstance(f, ClientErrorsAtInfo) for f in logger.filters):
        logger.addFilter(ClientErrorsAtInfo())
