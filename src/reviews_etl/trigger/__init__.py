"""The trigger: which arrived objects start a job run, and starting it. Runs on AWS Lambda
(``lambda_handler.py``) and in the local watcher; imports no pyspark.

* :mod:`.objects`: object references and skipped records, what the other modules pass on;
* :mod:`.events`: Lambda events (S3, SQS-wrapped, EventBridge) -> object references;
* :mod:`.rules`: the landing rules (bucket, prefix, suffix, folder markers, empty objects);
* :mod:`.settings`: the Lambda's environment, read by pydantic-settings;
* :mod:`.launcher`: starting one Glue run per batch (a source manifest for several objects),
  with botocore's retries as the one retry layer;
* :mod:`.handler`: event -> decisions -> one start -> summary and Lambda response.
"""

from reviews_etl.trigger.events import parse_event
from reviews_etl.trigger.handler import (
    FailedStart,
    StartedRun,
    TriggerSummary,
    handle_event,
    handle_objects,
    lambda_response,
)
from reviews_etl.trigger.launcher import GlueJobLauncher, JobLauncher, glue_client, s3_client
from reviews_etl.trigger.objects import (
    LocalObjectRef,
    ObjectRef,
    ParsedEvent,
    S3ObjectRef,
    SkippedRecord,
    SkipReason,
)
from reviews_etl.trigger.rules import Decision, LandingRules, decide
from reviews_etl.trigger.settings import TriggerSettings

__all__ = [
    "Decision",
    "FailedStart",
    "GlueJobLauncher",
    "JobLauncher",
    "LandingRules",
    "LocalObjectRef",
    "ObjectRef",
    "ParsedEvent",
    "S3ObjectRef",
    "SkipReason",
    "SkippedRecord",
    "StartedRun",
    "TriggerSettings",
    "TriggerSummary",
    "decide",
    "glue_client",
    "handle_event",
    "handle_objects",
    "lambda_response",
    "parse_event",
    "s3_client",
]
