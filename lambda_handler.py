"""AWS Lambda entry point of the trigger (handler ``lambda_handler.handler``).

Parses the event and delegates to :mod:`reviews_etl.trigger`; settings come from the
environment (docs/trigger.md). Settings and the clients (Glue, and S3 for source manifests
when ``MANIFEST_BUCKET`` is set) are made once per container, on the first invocation. No
pyspark: only the standard library, boto3 and pydantic.
"""

from __future__ import annotations

import functools
from typing import Any

from reviews_etl.logs import get_logger
from reviews_etl.trigger import (
    GlueJobLauncher,
    TriggerSettings,
    glue_client,
    handle_event,
    lambda_response,
    s3_client,
)


@functools.cache
def _runtime() -> tuple[TriggerSettings, GlueJobLauncher]:
    # A ConfigError is not cached: the next invocation tries again.
    settings = TriggerSettings.from_env()
    get_logger().setLevel(settings.log_level)
    launcher = GlueJobLauncher(
        glue_client(settings),
        settings.glue_job_name,
        s3_client=s3_client(settings) if settings.manifest_bucket else None,
        manifest_bucket=settings.manifest_bucket,
        manifest_prefix=settings.manifest_prefix,
    )
    return settings, launcher


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings, launcher = _runtime()
    return lambda_response(handle_event(event, settings, launcher))
