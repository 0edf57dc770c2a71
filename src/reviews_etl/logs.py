"""One structured log record per decision, for CloudWatch Logs Insights and local runs alike.

The message of each record is a :class:`LogFields` mapping: as text (a local handler, the
CLI's ``--verbose``) it is one JSON line; Lambda's JSON log format (``LogFormat: JSON``)
emits a mapping message as a JSON object, so every field is queryable in Logs Insights as
``message.<field>`` (``message.run_id``, ``message.status``), next to Lambda's own
``requestId``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

LOGGER_NAME = "reviews_etl"


class LogFields(dict[str, Any]):
    """A log message that is its fields: JSON as text, an object to a JSON log formatter."""

    def __str__(self) -> str:
        return json.dumps(self, default=str, sort_keys=True)


def get_logger(name: str = LOGGER_NAME) -> logging.Logger:
    return logging.getLogger(name)


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> str:
    """Log ``{"event": ..., **fields}`` as one record and return its JSON line."""
    message = LogFields(event=event, **fields)
    logger.log(level, message)
    return str(message)
