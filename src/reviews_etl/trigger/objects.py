"""What the trigger knows about arrived objects and the records it skips: the typed results
of parsing an event (:mod:`.events`) and of watching a local folder, which the landing rules
(:mod:`.rules`) and the launchers take.

Standard library and pydantic only: this module is imported by the Lambda trigger.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field


class SkipReason(StrEnum):
    """Why a record or object does not start a run. Never an error."""

    # Event parsing (reviews_etl.trigger.events).
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
