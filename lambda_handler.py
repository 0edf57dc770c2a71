"""AWS Lambda entry point of the trigger: starts one Glue job run per arrived CSV.

Configure with environment variables (see docs/trigger.md); handler: ``lambda_handler.handler``.
Settings and the Glue client are created once per container, on the first invocation.
No pyspark here: only the standard library, boto3 and pydantic.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import boto3
from botocore.config import Config

from reviews_etl.logs import get_logger
from reviews_etl.trigger import GlueJobLauncher, TriggerSettings, handle_event


@functools.cache
def _runtime() -> tuple[TriggerSettings, GlueJobLauncher]:
    # A ConfigError is not cached: the next invocation tries again.
    settings = TriggerSettings.from_env()
    get_logger().setLevel(getattr(logging, settings.log_level))
    glue = boto3.client("glue", config=Config(retries={"mode": "standard"}))
    return settings, GlueJobLauncher.from_settings(glue, settings)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings, launcher = _runtime()
    return handle_event(event, settings, launcher).model_dump(mode="json")
