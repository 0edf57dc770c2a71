"""Parse the events that can invoke the trigger into typed object references.

Accepted shapes (see ``docs/trigger.md``):

* S3 event notifications: every record of ``Records``;
* SQS messages whose ``body`` is an S3 notification (or an ``s3:TestEvent``, or an
  EventBridge event);
* EventBridge ``Object Created`` events from ``aws.s3``.

Object keys are URL-decoded (``+`` is a space, ``%xx`` escapes, UTF-8). Nothing here
raises on bad input: a record that cannot be used becomes a :class:`SkippedRecord` with a
reason, is logged as one JSON line, and the other records of the event are kept.

Standard library and pydantic only: this module is imported by the Lambda trigger.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from reviews_etl.errors import describe_validation_error
from reviews_etl.logs import get_logger, log_event
from reviews_etl.trigger.objects import ParsedEvent, S3ObjectRef, SkippedRecord, SkipReason

# SQS bodies are parsed recursively; real envelopes nest at most once or twice.
_MAX_DEPTH = 3


# --- raw AWS shapes (only the fields used; everything else is ignored) -------------------


class _Raw(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _RawBucket(_Raw):
    name: str = Field(min_length=1)


class _RawObject(_Raw):
    key: str = Field(min_length=1)
    size: int | None = Field(default=None, ge=0)
    # S3 notifications spell it "eTag", EventBridge "etag".
    etag: str | None = Field(default=None, validation_alias=AliasChoices("eTag", "etag"))


class _RawS3Entity(_Raw):
    bucket: _RawBucket
    obj: _RawObject = Field(validation_alias="object")


class _RawS3Record(_Raw):
    event_name: str = Field(validation_alias="eventName", min_length=1)
    event_time: datetime | None = Field(default=None, validation_alias="eventTime")
    s3: _RawS3Entity


class _RawEventBridgeEvent(_Raw):
    time: datetime | None = None
    detail: _RawS3Entity


def decode_key(raw_key: str) -> str:
    """URL-decode an S3 key as S3 and EventBridge encode it (``+`` is a space, UTF-8).

    Raises ``ValueError`` (``UnicodeDecodeError``) when the escapes are not valid UTF-8.
    """
    return unquote_plus(raw_key, encoding="utf-8", errors="strict")


def is_object_created(event_name: str) -> bool:
    """``ObjectCreated:Put`` and ``s3:ObjectCreated:Put`` (any ``ObjectCreated:*``)."""
    return event_name.removeprefix("s3:").startswith("ObjectCreated:")


class _Parser:
    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self.objects: list[S3ObjectRef] = []
        self.skipped: list[SkippedRecord] = []
        self.message_id: str | None = None

    def skip(self, reason: SkipReason, detail: str, location: str) -> None:
        record = SkippedRecord(reason=reason, detail=detail, location=location or None)
        self.skipped.append(record)
        level = (
            logging.WARNING
            if reason in {SkipReason.MALFORMED_RECORD, SkipReason.UNRECOGNISED_EVENT}
            else logging.INFO
        )
        log_event(
            self.logger,
            "trigger.skipped",
            level,
            reason=reason,
            detail=detail,
            location=location or None,
        )

    def add(
        self, location: str, entity: _RawS3Entity, event_name: str, event_time: datetime | None
    ) -> None:
        raw_key = entity.obj.key
        try:
            key = decode_key(raw_key)
        except UnicodeDecodeError as exc:
            self.skip(
                SkipReason.MALFORMED_RECORD,
                f"object key {raw_key!r} is not valid URL-encoded UTF-8: {exc.reason}",
                location,
            )
            return
        if not key:
            self.skip(SkipReason.MALFORMED_RECORD, "object key is empty", location)
            return
        self.objects.append(
            S3ObjectRef(
                bucket=entity.bucket.name,
                key=key,
                size=entity.obj.size,
                etag=entity.obj.etag,
                event_name=event_name,
                event_time=event_time,
                message_id=self.message_id,
            )
        )

    # -- dispatch ---------------------------------------------------------------------

    def message(self, message: Any, location: str, depth: int) -> None:
        """One top-level event, or the decoded body of an SQS message."""
        if depth > _MAX_DEPTH:
            self.skip(SkipReason.MALFORMED_RECORD, "event nested too deeply", location)
        elif not isinstance(message, dict):
            self.skip(
                SkipReason.UNRECOGNISED_EVENT,
                f"expected a JSON object, got {type(message).__name__}",
                location,
            )
        elif "Records" in message:
            records = message["Records"]
            if not isinstance(records, list):
                self.skip(SkipReason.MALFORMED_RECORD, "'Records' is not a list", location)
                return
            for index, record in enumerate(records):
                self.record(record, _join(location, f"Records[{index}]"), depth)
        elif message.get("Event") == "s3:TestEvent":
            bucket = message.get("Bucket")
            self.skip(SkipReason.TEST_EVENT, f"s3:TestEvent for bucket {bucket!r}", location)
        elif "detail-type" in message and "source" in message:
            self.eventbridge(message, location)
        else:
            keys = ", ".join(sorted(str(k) for k in message)[:10])
            self.skip(
                SkipReason.UNRECOGNISED_EVENT,
                f"not an S3, SQS or EventBridge event (keys: {keys})",
                location,
            )

    def record(self, record: Any, location: str, depth: int) -> None:
        """One entry of ``Records``, handed on by its ``eventSource`` (one method each)."""
        if not isinstance(record, dict):
            self.skip(
                SkipReason.MALFORMED_RECORD,
                f"record is {type(record).__name__}, not an object",
                location,
            )
            return
        source = record.get("eventSource")
        if source == "aws:sqs" or (source is None and "body" in record):
            self.sqs_record(record, location, depth)
        elif source == "aws:s3" or (source is None and "s3" in record):
            self.s3_record(record, location)
        else:
            self.skip(
                SkipReason.MALFORMED_RECORD,
                f"unsupported record source {source!r}",
                location,
            )

    def sqs_record(self, record: dict[str, Any], location: str, depth: int) -> None:
        body = record.get("body")
        if not isinstance(body, str):
            self.skip(SkipReason.MALFORMED_RECORD, "SQS message has no text body", location)
            return
        try:
            decoded = json.loads(body)
        except json.JSONDecodeError as exc:
            self.skip(SkipReason.MALFORMED_RECORD, f"SQS message body is not JSON: {exc}", location)
            return
        # The outermost messageId is the one Lambda delivered: only it can be named in a
        # partial batch response (an unknown itemIdentifier fails the whole batch).
        outer, message_id = self.message_id, record.get("messageId")
        if outer is None and isinstance(message_id, str) and message_id:
            self.message_id = message_id
        try:
            self.message(decoded, _join(location, "body"), depth + 1)
        finally:
            self.message_id = outer

    def s3_record(self, record: dict[str, Any], location: str) -> None:
        try:
            parsed = _RawS3Record.model_validate(record)
        except ValidationError as exc:
            self.skip(SkipReason.MALFORMED_RECORD, describe_validation_error(exc), location)
            return
        if not is_object_created(parsed.event_name):
            self.skip(
                SkipReason.NOT_OBJECT_CREATED,
                f"event {parsed.event_name} for s3://{parsed.s3.bucket.name}/{parsed.s3.obj.key}",
                location,
            )
            return
        self.add(location, parsed.s3, parsed.event_name, parsed.event_time)

    def eventbridge(self, event: dict[str, Any], location: str) -> None:
        source, detail_type = event.get("source"), event.get("detail-type")
        if source != "aws.s3":
            self.skip(
                SkipReason.UNRECOGNISED_EVENT,
                f"EventBridge event from {source!r}, not aws.s3",
                location,
            )
            return
        if detail_type != "Object Created":
            self.skip(
                SkipReason.NOT_OBJECT_CREATED,
                f"EventBridge detail-type {detail_type!r}",
                location,
            )
            return
        try:
            parsed = _RawEventBridgeEvent.model_validate(event)
        except ValidationError as exc:
            self.skip(SkipReason.MALFORMED_RECORD, describe_validation_error(exc), location)
            return
        self.add(location, parsed.detail, detail_type, parsed.time)


def _join(location: str, part: str) -> str:
    return f"{location}.{part}" if location else part


def parse_event(event: Any, logger: logging.Logger | None = None) -> ParsedEvent:
    """Turn a Lambda event into the S3 objects it names; never raises on bad input.

    Only ``ObjectCreated:*`` records (and EventBridge ``Object Created``) become objects;
    every other record is returned in ``skipped`` and logged as one ``trigger.skipped``
    JSON line (level WARNING for malformed or unrecognised input, INFO otherwise).
    """
    parser = _Parser(logger or get_logger())
    parser.message(event, "", 0)
    return ParsedEvent(objects=parser.objects, skipped=parser.skipped)
