"""Where exceptions become responses and log lines."""

from __future__ import annotations

import logging

logger = logging.getLogger("pagesfn")


def log_stream_failure(exc: Exception, where: str) -> None:
    logger.error(
        "%s: the streamed response body raised %s; the response is cut short",
        where,
        type(exc).__name__,
        exc_info=exc,
    )
