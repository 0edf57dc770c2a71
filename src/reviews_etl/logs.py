"""One structured JSON log line per decision, for CloudWatch Logs Insights and local runs alike."""

from __future__ import annotations

import json
import logging
from typing import Any

LOGGER_NAME = "reviews_etl"


def get_logger(name: str = LOGGER_NAME) -> logging.Logger:
    return logging.getLogger(name)


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> str:
    """Log ``{"event": ..., **fields}`` as one JSON line and return that line."""
    line = json.dumps({"event": event, **fields}, default=str, sort_keys=True)
    logger.log(level, line)
    return line
