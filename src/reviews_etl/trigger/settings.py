"""The trigger's settings, read from the Lambda's environment by pydantic-settings.

Every field is read from the variable named in its alias; a blank variable counts as unset,
values are trimmed, and an invalid or missing one raises :class:`ConfigError` naming it.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from reviews_etl.errors import ConfigError, describe_validation_error
from reviews_etl.sources import DEFAULT_MANIFEST_PREFIX
from reviews_etl.trigger.rules import DEFAULT_SUFFIXES, LandingPrefix, LandingRules, Suffixes

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S")


class TriggerSettings(BaseSettings):
    """``GLUE_JOB_NAME`` and ``LANDING_BUCKET`` are required; the rest have defaults."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="ignore",
        env_ignore_empty=True,
        str_strip_whitespace=True,
        populate_by_name=True,
    )

    glue_job_name: str = Field(min_length=1, max_length=255, alias="GLUE_JOB_NAME")
    landing_bucket: str = Field(alias="LANDING_BUCKET")
    landing_prefix: LandingPrefix = Field(default="", alias="LANDING_PREFIX")
    allowed_suffixes: Annotated[Suffixes, NoDecode] = Field(
        default=DEFAULT_SUFFIXES, alias="ALLOWED_SUFFIXES"
    )
    # Where a batch of several objects gets its source manifest (--source_manifest). Unset:
    # the batch is passed as a JSON array in --source_path instead.
    manifest_bucket: str | None = Field(default=None, alias="MANIFEST_BUCKET")
    manifest_prefix: str = Field(default=DEFAULT_MANIFEST_PREFIX, alias="MANIFEST_PREFIX")
    # Passed to the job as --output_path when set; otherwise the job's default applies.
    output_path: str | None = Field(default=None, alias="OUTPUT_PATH")
    # botocore's retries are the one retry layer of StartJobRun: attempts include the first.
    max_start_attempts: int = Field(default=5, ge=1, le=10, alias="MAX_START_ATTEMPTS")
    retry_base_delay: float = Field(default=1.0, ge=0.0, le=60.0, alias="RETRY_BASE_DELAY_SECONDS")
    retry_max_delay: float = Field(default=20.0, ge=0.0, le=300.0, alias="RETRY_MAX_DELAY_SECONDS")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", alias="LOG_LEVEL"
    )

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: object) -> object:
        # env_ignore_empty only drops "": a value of spaces counts as unset too, so a required
        # variable is reported as missing and an optional one takes its default.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        return data

    @field_validator("landing_bucket", "manifest_bucket")
    @classmethod
    def _s3_bucket_name(cls, bucket: str | None) -> str | None:
        if bucket is None:
            return None
        if "://" in bucket or "/" in bucket:
            raise ValueError(f"{bucket!r} must be a bare bucket name, without s3:// or a path")
        if not _BUCKET_NAME.match(bucket):
            raise ValueError(
                f"{bucket!r} is not a valid S3 bucket name "
                "(3-63 characters: lower-case letters, digits, dots, hyphens)"
            )
        return bucket

    @field_validator("manifest_prefix")
    @classmethod
    def _manifest_folder(cls, prefix: str) -> str:
        if prefix.startswith("/"):
            raise ValueError(
                f"{prefix!r} must not start with '/' (keys are relative: '_manifests/')"
            )
        if prefix and not prefix.endswith("/"):
            raise ValueError(f"{prefix!r} must end with '/' (a folder such as '_manifests/')")
        return prefix

    @field_validator("output_path")
    @classmethod
    def _output_uri(cls, path: str | None) -> str | None:
        if path is None:
            return None
        # Checked after dropping trailing slashes: 's3:///' must not become 's3:'.
        if not _URI.match(path.rstrip("/")):
            raise ValueError(f"{path!r} must be a URI such as s3://bucket/folder")
        return path.rstrip("/")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, level: object) -> object:
        return level.strip().upper() if isinstance(level, str) else level

    @model_validator(mode="after")
    def _delays_ordered(self) -> TriggerSettings:
        if self.retry_base_delay > self.retry_max_delay:
            raise ValueError(
                f"RETRY_BASE_DELAY_SECONDS ({self.retry_base_delay}) must not exceed "
                f"RETRY_MAX_DELAY_SECONDS ({self.retry_max_delay})"
            )
        return self

    @model_validator(mode="after")
    def _manifests_are_not_sources(self) -> TriggerSettings:
        # A manifest written where the landing rules would accept it would start a run of
        # its own, reading the manifest as a CSV file.
        if (
            self.manifest_bucket == self.landing_bucket
            and self.manifest_prefix.startswith(self.landing_prefix)
            and "manifest.json".endswith(self.allowed_suffixes)
        ):
            raise ValueError(
                f"MANIFEST_PREFIX ({self.manifest_prefix!r}) lies inside LANDING_PREFIX "
                f"({self.landing_prefix!r}) of the landing bucket and ALLOWED_SUFFIXES "
                f"({', '.join(self.allowed_suffixes)}) accept '.json': manifests would start runs"
            )
        return self

    @property
    def rules(self) -> LandingRules:
        return LandingRules(
            landing_bucket=self.landing_bucket,
            landing_prefix=self.landing_prefix,
            allowed_suffixes=self.allowed_suffixes,
        )

    def job_arguments(self) -> dict[str, str]:
        """Arguments for every run besides the source (names without the leading '--')."""
        return {"output_path": self.output_path} if self.output_path else {}

    @classmethod
    def from_env(cls) -> TriggerSettings:
        """Read the settings from the environment; :class:`ConfigError` names every missing
        or invalid variable."""
        try:
            return cls()
        except ValidationError as exc:
            raise ConfigError(
                describe_validation_error(exc, "invalid trigger settings: ", env=True)
            ) from exc
