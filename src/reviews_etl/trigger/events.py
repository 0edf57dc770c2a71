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
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote_plus

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from reviews_etl.errors import describe_validation_error
from reviews_etl.logs import get_logger, log_event

# SQS bodies are parsed recursively; real envelopes nest at most once or twice.
_MAX_DEPTH = 3


class SkipReason(StrEnum):
    """Why a record or object does not start a run. Never an error."""

    # Event parsing (this module).
    TEST_EVENT = "test_event"
    NOT_OBJECT_CREATED = "not_object_created"
    MALFORMED_RECORD = "malformed_record"
    UNRECOGNISED_EVENT = "unrecognised_event"
    # Landing rules (reviews_etl.trigger.rules.decide).
    OTHER_BUCKET = "other_bucket"
    OUTSIDE_PREFIX = "outside_prefix"
    FOLDER_MARKER = "folder_marker"
    SUFFIX_NOT_ALLOWED = "suffix_not_allowed"
    EMPTY_OBJECT = "empty_object"


class ObjectRef(Protocol):
    """What the landing rules and the launchers need to know about an arrived object.

    ``bucket`` is the landing container (an S3 bucket, or a local landing root),
    ``key`` the object's path inside it ('/'-separated, decoded), ``size`` its size in
    bytes when known, and ``source_path`` what a job run is given to read.
    """

    @property
    def bucket(self) -> str: ...

    @property
    def key(self) -> str: ...

    @property
    def size(self) -> int | None: ...

    @property
    def source_path(self) -> str: ...


class S3ObjectRef(BaseModel):
    """An S3 object named by an event, with its key already URL-decoded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket: str = Field(min_length=1)
    key: str = Field(min_length=1)
    size: int | None = Field(default=None, ge=0)
    etag: str | None = None
    event_name: str | None = None
    event_time: datetime | None = None
    # The SQS message that carried the event, for partial batch responses.
    message_id: str | None = None

    @property
    def source_path(self) -> str:
        """The full ``s3://bucket/key`` path (decoded key, as Spark and Glue expect it)."""
        return f"s3://{self.bucket}/{self.key}"


class LocalObjectRef(BaseModel):
    """A file in a local landing folder, shaped like an S3 object for the landing rules.

    ``bucket`` is the absolute landing root, ``key`` the path relative to it with '/'
    separators (a trailing '/' for a directory, which the rules skip as a folder marker),
    ``path`` the absolute file path handed to the job.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket: str = Field(min_length=1)
    key: str = Field(min_length=1)
    size: int | None = Field(default=None, ge=0)
    path: str = Field(min_length=1)

    @property
    def source_path(self) -> str:
        return self.path

    @classmethod
    def from_path(cls, root: str | Path, path: str | Path) -> LocalObjectRef:
        """Describe ``path`` (which must lie under ``root``); size is read if it exists.

        Raises ``ValueError`` when ``path`` is not under ``root``.
        """
        root_abs = Path(root).resolve()
        file_abs = Path(path).resolve()
        relative = file_abs.relative_to(root_abs)  # ValueError when outside the root
        key = relative.as_posix()
        size: int | None = None
        if file_abs.is_dir():
            key = key.rstrip("/") + "/"
        elif file_abs.exists():
            size = file_abs.stat().st_size
        return cls(bucket=str(root_abs), key=key, size=size, path=str(file_abs))


class SkippedRecord(BaseModel):
    """A record (or object) that starts nothing, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: SkipReason
    detail: str
    # Where in the event the record sits, e.g. "Records[0].body.Records[1]".
    location: str | None = None
    # The object's path when one is known (decision skips).
    source_path: str | None = None


class ParsedEvent(BaseModel):
    """The objects an event names (in event order) and the records it skipped."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    objects: list[S3ObjectRef] = Field(default_factory=list)
    skipped: list[SkippedRecord] = Field(default_factory=list)


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
        self,
        location: str,
        *,
        bucket: str,
        raw_key: str,
        size: int | None,
        etag: str | None,
        event_name: str,
        event_time: datetime | None,
    ) -> None:
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
                bucket=bucket,
                key=key,
                size=size,
                etag=etag,
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
        self.add(
            location,
            bucket=parsed.s3.bucket.name,
            raw_key=parsed.s3.obj.key,
            size=parsed.s3.obj.size,
            etag=parsed.s3.obj.etag,
            event_name=parsed.event_name,
            event_time=parsed.event_time,
        )

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
        self.add(
            location,
            bucket=parsed.detail.bucket.name,
            raw_key=parsed.detail.obj.key,
            size=parsed.detail.obj.size,
            etag=parsed.detail.obj.etag,
            event_name=detail_type,
            event_time=parsed.time,
        )


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
