"""From an event to started runs: parse, decide per object, start, report.

:func:`handle_objects` serves any :class:`~reviews_etl.trigger.launcher.JobLauncher` (the
Lambda's Glue launcher, the local watcher's in-process one); :func:`handle_event` adds the
parsing of a Lambda event; :func:`lambda_response` turns the summary into what Lambda expects.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from reviews_etl.errors import JobStartError
from reviews_etl.logs import get_logger, log_event
from reviews_etl.trigger.events import ObjectRef, SkippedRecord, parse_event
from reviews_etl.trigger.launcher import JobLauncher
from reviews_etl.trigger.rules import LandingRules, decide
from reviews_etl.trigger.settings import TriggerSettings


class StartedRun(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    source_path: str
    bucket: str
    key: str


class FailedStart(BaseModel):
    """An accepted object whose run could not be started."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source_path: str
    bucket: str
    key: str
    error: str
    message_id: str | None = None


class TriggerSummary(BaseModel):
    """What one event (or one batch of objects) started, skipped and failed to start."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    started: list[StartedRun] = Field(default_factory=list)
    skipped: list[SkippedRecord] = Field(default_factory=list)
    failed: list[FailedStart] = Field(default_factory=list)


def handle_objects(
    refs: Iterable[ObjectRef],
    rules: LandingRules,
    launcher: JobLauncher,
    arguments: Mapping[str, str] | None = None,
    logger: logging.Logger | None = None,
) -> TriggerSummary:
    """Decide for each object and start a run for each accepted one, in order.

    Logs ``trigger.started``, ``trigger.skipped`` or ``trigger.failed`` per object. A start
    that fails is recorded in ``failed`` and the next object is still started.
    """
    log = logger or get_logger()
    started: list[StartedRun] = []
    skipped: list[SkippedRecord] = []
    failed: list[FailedStart] = []
    for ref in refs:
        where = {"source_path": ref.source_path, "bucket": ref.bucket, "key": ref.key}
        decision = decide(ref, rules)
        if decision.reason is not None:
            skipped.append(
                SkippedRecord(
                    reason=decision.reason, detail=decision.detail, source_path=ref.source_path
                )
            )
            log_event(
                log,
                "trigger.skipped",
                logging.INFO,
                reason=decision.reason,
                detail=decision.detail,
                **where,
            )
            continue
        try:
            run_id = launcher.start(ref.source_path, dict(arguments or {}))
        except Exception as exc:  # reported per object; the other objects still start
            error = str(exc) if isinstance(exc, JobStartError) else f"{type(exc).__name__}: {exc}"
            message_id = getattr(ref, "message_id", None)
            failed.append(FailedStart(error=error, message_id=message_id, **where))
            log_event(log, "trigger.failed", logging.ERROR, error=error, **where)
            continue
        started.append(StartedRun(run_id=run_id, **where))
        log_event(log, "trigger.started", logging.INFO, run_id=run_id, size=ref.size, **where)
    return TriggerSummary(started=started, skipped=skipped, failed=failed)


def handle_event(
    event: Any,
    settings: TriggerSettings,
    launcher: JobLauncher,
    logger: logging.Logger | None = None,
) -> TriggerSummary:
    """Parse a Lambda event, decide for every object it names, start the accepted runs.

    Ends with one ``trigger.summary`` line. Never raises for a failed start: the summary's
    ``failed`` lists them (see :func:`lambda_response`).
    """
    log = logger or get_logger()
    parsed = parse_event(event, logger=log)
    result = handle_objects(
        parsed.objects, settings.rules, launcher, settings.job_arguments(), logger=log
    )
    summary = result.model_copy(update={"skipped": [*parsed.skipped, *result.skipped]})
    log_event(
        log,
        "trigger.summary",
        started=len(summary.started),
        skipped=len(summary.skipped),
        failed=len(summary.failed),
        skip_reasons=dict(Counter(str(s.reason) for s in summary.skipped)),
    )
    return summary


def lambda_response(summary: TriggerSummary) -> dict[str, Any]:
    """The Lambda's return value: the summary, plus ``batchItemFailures`` naming the SQS
    messages whose objects failed to start, so SQS delivers only those again.

    A failed object that came with no SQS message (a direct S3 or EventBridge invocation)
    raises :class:`JobStartError`: the invocation fails and Lambda hands the event to its
    on-failure destination.
    """
    unattributed = [f for f in summary.failed if f.message_id is None]
    if unattributed:
        first = unattributed[0]
        raise JobStartError(
            "trigger",
            first.source_path,
            "StartFailed",
            1,
            f"{len(unattributed)} of {len(summary.failed) + len(summary.started)} accepted "
            f"object(s) could not be started; first: {first.error}",
        )
    message_ids = dict.fromkeys(f.message_id for f in summary.failed if f.message_id)
    return {
        **summary.model_dump(mode="json"),
        "batchItemFailures": [{"itemIdentifier": m} for m in message_ids],
    }
