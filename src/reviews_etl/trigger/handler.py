"""From an event to one started run: parse, decide per object, start once, report.

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
from reviews_etl.trigger.events import parse_event
from reviews_etl.trigger.launcher import JobLauncher
from reviews_etl.trigger.objects import ObjectRef, SkippedRecord
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
    """Decide for each object, then start one run for all the accepted ones.

    The run's sources are the accepted objects in the order given, each ``(bucket, key)``
    once (the first occurrence is kept: S3 may deliver an event twice). No accepted object,
    no run. Logs ``trigger.skipped`` or ``trigger.accepted`` per object, then one
    ``trigger.started`` line (``run_id``, ``sources``) or one ``trigger.failed`` line per
    accepted object. A start that fails fails every accepted object: ``failed`` holds one
    entry per accepted object and SQS message, so each message that carried one can be
    reported (:func:`lambda_response`).
    """
    log = logger or get_logger()
    skipped: list[SkippedRecord] = []
    accepted: list[ObjectRef] = []
    first: dict[tuple[str, str], ObjectRef] = {}
    for ref in refs:
        where = _where(ref)
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
        accepted.append(ref)
        duplicate = (ref.bucket, ref.key) in first
        first.setdefault((ref.bucket, ref.key), ref)
        log_event(
            log, "trigger.accepted", logging.INFO, size=ref.size, duplicate=duplicate, **where
        )
    if not accepted:
        return TriggerSummary(skipped=skipped)

    unique = list(first.values())
    sources = [ref.source_path for ref in unique]
    try:
        run_id = launcher.start(sources, dict(arguments or {}))
    except Exception as exc:  # reported for every accepted object of the batch
        return TriggerSummary(skipped=skipped, failed=_failed_starts(accepted, exc, log))
    log_event(log, "trigger.started", logging.INFO, run_id=run_id, sources=len(sources))
    started = [StartedRun(run_id=run_id, **_where(ref)) for ref in unique]
    return TriggerSummary(started=started, skipped=skipped)


def _where(ref: ObjectRef) -> dict[str, str]:
    return {"source_path": ref.source_path, "bucket": ref.bucket, "key": ref.key}


def _failed_starts(
    accepted: list[ObjectRef], exc: Exception, log: logging.Logger
) -> list[FailedStart]:
    """One failure (and one ``trigger.failed`` line) per accepted object and SQS message."""
    error = str(exc) if isinstance(exc, JobStartError) else f"{type(exc).__name__}: {exc}"
    failed: list[FailedStart] = []
    reported: set[tuple[str, str, str | None]] = set()
    for ref in accepted:
        message_id = getattr(ref, "message_id", None)
        if (ref.bucket, ref.key, message_id) in reported:
            continue
        reported.add((ref.bucket, ref.key, message_id))
        failed.append(FailedStart(error=error, message_id=message_id, **_where(ref)))
        log_event(log, "trigger.failed", logging.ERROR, error=error, **_where(ref))
    return failed


def handle_event(
    event: Any,
    settings: TriggerSettings,
    launcher: JobLauncher,
    logger: logging.Logger | None = None,
) -> TriggerSummary:
    """Parse a Lambda event, decide for every object it names, start one run for the accepted
    ones (see :func:`handle_objects`).

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
        runs=len({s.run_id for s in summary.started}),
        started=len(summary.started),
        skipped=len(summary.skipped),
        failed=len(summary.failed),
        skip_reasons=dict(Counter(str(s.reason) for s in summary.skipped)),
    )
    return summary


def lambda_response(summary: TriggerSummary) -> dict[str, Any]:
    """The Lambda's return value: the summary, plus ``batchItemFailures`` naming the SQS
    messages whose objects failed to start (when the run could not be started: every message
    that carried an accepted object), so SQS delivers only those again.

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
