"""Client errors logged as one line instead of a traceback.

BentoML logs every failed request with `logger.error(..., exc_info=True)`, client errors
included: each invalid request (a 400 from validation, a 4xx BentoML raises) writes a full
traceback, so a client sending bad requests can flood the log and bury real failures. This
filter turns those records into a one-line warning naming the error; server errors keep their
tracebacks.
"""

from __future__ import annotations

import logging

# The logger BentoML's HTTP app reports request failures on.
BENTOML_HTTP_LOGGER = "bentoml._internal.server.http_app"


class ClientErrorsWithoutTraceback(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        status = _client_error_status(error)
        if status is not None:
            record.msg = (
                f"{record.getMessage()}: {status} {type(error).__name__}: {_summary(error)}"
            )
            record.args = ()
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def install() -> None:
    """Attach the filter to BentoML's HTTP app logger (idempotent)."""
    logger = logging.getLogger(BENTOML_HTTP_LOGGER)
    if not any(isinstance(f, ClientErrorsWithoutTraceback) for f in logger.filters):
        logger.addFilter(ClientErrorsWithoutTraceback())


def _client_error_status(error: BaseException | None) -> int | None:
    from bentoml.exceptions import BentoMLException
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        return 400
    if isinstance(error, BentoMLException):
        status = int(error.error_code)
        return status if 400 <= status < 500 else None
    return None


def _summary(error: BaseException | None) -> str:
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        fields = sorted({".".join(map(str, e["loc"])) for e in error.errors()})
        return f"{error.error_count()} invalid field(s): {', '.join(fields[:5])}"
    return str(error)[:200]
