"""The trigger: decide which arrived objects start a job run, and start it.

Three layers, each usable on its own:

* :func:`decide` applies the :class:`LandingRules` (bucket, prefix, suffix, folder
  markers, empty objects) to any :class:`~reviews_etl.events.ObjectRef`. Pure.
* :func:`handle_objects` runs :func:`decide` on each object and calls a
  :class:`JobLauncher` for those that pass, logging one JSON line per decision.
* :func:`handle_event` does the same for a Lambda event (S3, SQS or EventBridge),
  parsed by :func:`reviews_etl.events.parse_event`.

:class:`GlueJobLauncher` starts AWS Glue job runs with bounded, jittered retries. A local
folder watcher reuses the same decisions with its own launcher::

    rules = LandingRules(landing_bucket=str(Path(landing_dir).resolve()))
    ref = LocalObjectRef.from_path(landing_dir, arrived_file)
    handle_objects([ref], rules, local_launcher, {"output_path": "/abs/out"})

where ``local_launcher.start(source_path, arguments)`` receives the file's absolute path.

Standard library, boto3/botocore and pydantic only: no pyspark.
"""

from __future__ import annotations

import logging
import os
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, Protocol

from botocore.exceptions import ClientError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from reviews_etl.errors import ConfigError, ReviewsEtlError
from reviews_etl.events import ObjectRef, SkippedRecord, SkipReason, parse_event
from reviews_etl.logs import get_logger, log_event

if TYPE_CHECKING:
    from mypy_boto3_glue import GlueClient

# botocore ClientError codes of start_job_run worth another attempt.
RETRYABLE_ERROR_CODES: Final = frozenset(
    {"ConcurrentRunsExceededException", "ThrottlingException", "InternalServiceException"}
)

# TriggerSettings field -> environment variable.
ENV_VARS: Final = {
    "glue_job_name": "GLUE_JOB_NAME",
    "landing_bucket": "LANDING_BUCKET",
    "landing_prefix": "LANDING_PREFIX",
    "allowed_suffixes": "ALLOWED_SUFFIXES",
    "output_path": "OUTPUT_PATH",
    "max_start_attempts": "MAX_START_ATTEMPTS",
    "retry_base_delay": "RETRY_BASE_DELAY_SECONDS",
    "retry_max_delay": "RETRY_MAX_DELAY_SECONDS",
    "log_level": "LOG_LEVEL",
}

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ARGUMENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S")


# --- errors -------------------------------------------------------------------------------


class JobStartError(ReviewsEtlError):
    """A job run could not be started (a non-retryable error of the job service)."""

    def __init__(
        self, job_name: str, source_path: str, error_code: str, attempts: int, message: str
    ) -> None:
        super().__init__(
            f"could not start job {job_name!r} for {source_path} after {attempts} "
            f"attempt(s): {error_code}: {message}"
        )
        self.job_name = job_name
        self.source_path = source_path
        self.error_code = error_code
        self.attempts = attempts


class JobStartRetriesExhaustedError(JobStartError):
    """Every attempt hit a retryable error; raised so Lambda keeps the event for a retry."""


# --- rules and decisions ------------------------------------------------------------------


class LandingRules(BaseModel):
    """Which objects start a run. ``landing_bucket`` is an S3 bucket or a local landing root.

    ``landing_prefix`` is a plain string prefix of the key, as in S3 notification filters
    (``landing/`` means the folder, ``landing`` also matches ``landing-old/x.csv``).
    ``allowed_suffixes`` match the end of the key case-insensitively; a comma-separated
    string is accepted and a missing leading dot is added (``csv`` -> ``.csv``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    landing_bucket: str = Field(min_length=1)
    landing_prefix: str = ""
    allowed_suffixes: tuple[str, ...] = (".csv",)

    @field_validator("landing_prefix")
    @classmethod
    def _relative_prefix(cls, prefix: str) -> str:
        if prefix.startswith("/"):
            raise ValueError(
                f"prefix {prefix!r} must not start with '/' (keys are relative: 'landing/')"
            )
        return prefix

    @field_validator("allowed_suffixes", mode="before")
    @classmethod
    def _split_suffixes(cls, value: object) -> object:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            return value  # let pydantic report the type error
        suffixes = []
        for item in items:
            if not isinstance(item, str):
                return value
            suffix = item.strip().lower()
            if suffix:
                suffixes.append(suffix if suffix.startswith(".") else f".{suffix}")
        if not suffixes:
            raise ValueError("at least one suffix is required, e.g. '.csv'")
        return tuple(dict.fromkeys(suffixes))


class Decision(BaseModel):
    """Start a run for the object, or skip it with a reason (never an error)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: bool
    reason: SkipReason | None = None
    detail: str = ""

    @model_validator(mode="after")
    def _reason_iff_skip(self) -> Decision:
        if self.start == (self.reason is not None):
            raise ValueError("a skip needs a reason and a start has none")
        return self


def _skip(reason: SkipReason, detail: str) -> Decision:
    return Decision(start=False, reason=reason, detail=detail)


def decide(ref: ObjectRef, rules: LandingRules) -> Decision:
    """Apply the landing rules to one object; the first failing rule names the reason."""
    if ref.bucket != rules.landing_bucket:
        return _skip(
            SkipReason.OTHER_BUCKET,
            f"bucket {ref.bucket!r} is not the landing bucket {rules.landing_bucket!r}",
        )
    if not ref.key.startswith(rules.landing_prefix):
        return _skip(
            SkipReason.OUTSIDE_PREFIX,
            f"key {ref.key!r} is outside the landing prefix {rules.landing_prefix!r}",
        )
    if ref.key.endswith("/"):
        return _skip(SkipReason.FOLDER_MARKER, f"key {ref.key!r} is a folder marker")
    if not ref.key.lower().endswith(rules.allowed_suffixes):
        return _skip(
            SkipReason.SUFFIX_NOT_ALLOWED,
            f"key {ref.key!r} does not end with one of {', '.join(rules.allowed_suffixes)}",
        )
    if ref.size == 0:
        return _skip(SkipReason.EMPTY_OBJECT, f"object {ref.key!r} is empty (0 bytes)")
    return Decision(start=True)


# --- settings -----------------------------------------------------------------------------


class TriggerSettings(LandingRules):
    """The Lambda trigger's settings; :meth:`from_env` reads them from the environment."""

    glue_job_name: str = Field(min_length=1, max_length=255)
    # Passed to the job as --output_path when set; otherwise the job's default applies.
    output_path: str | None = None
    max_start_attempts: Annotated[int, Field(ge=1, le=10)] = 5
    retry_base_delay: Annotated[float, Field(ge=0.0, le=60.0)] = 1.0
    retry_max_delay: Annotated[float, Field(ge=0.0, le=300.0)] = 20.0
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("landing_bucket")
    @classmethod
    def _s3_bucket_name(cls, bucket: str) -> str:
        if "://" in bucket or "/" in bucket:
            raise ValueError(f"{bucket!r} must be a bare bucket name, without s3:// or a path")
        if not _BUCKET_NAME.match(bucket):
            raise ValueError(
                f"{bucket!r} is not a valid S3 bucket name "
                "(3-63 characters: lower-case letters, digits, dots, hyphens)"
            )
        return bucket

    @field_validator("output_path")
    @classmethod
    def _output_uri(cls, path: str | None) -> str | None:
        if path is None:
            return None
        if not _URI.match(path):
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
                f"{ENV_VARS['retry_base_delay']} ({self.retry_base_delay}) must not exceed "
                f"{ENV_VARS['retry_max_delay']} ({self.retry_max_delay})"
            )
        return self

    def job_arguments(self) -> dict[str, str]:
        """Arguments for every run besides the source (names without the leading '--')."""
        return {"output_path": self.output_path} if self.output_path else {}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TriggerSettings:
        """Read the settings; a blank variable counts as unset, values are trimmed.

        Raises :class:`ConfigError` naming every missing or invalid variable.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field, var in ENV_VARS.items():
            raw = env.get(var, "").strip()
            if raw:
                values[field] = raw
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise ConfigError(_describe_env_error(exc)) from exc


def _describe_env_error(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        var = ENV_VARS.get(field, field or "settings")
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "missing":
            problems.append(f"{var} is required but not set")
        elif field:
            problems.append(f"{var}={err['input']!r}: {message}")
        else:
            problems.append(message)
    return "invalid trigger settings: " + "; ".join(problems)


# --- launchers ----------------------------------------------------------------------------


class JobLauncher(Protocol):
    """Starts one job run for ``source_path`` and returns the run's id.

    ``arguments`` holds the other job arguments by plain name (``output_path``); each
    launcher spells them as its runtime needs (Glue: ``--output_path``).
    """

    def start(self, source_path: str, arguments: dict[str, str]) -> str: ...


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))


class GlueJobLauncher:
    """``glue.start_job_run`` with bounded exponential backoff and full jitter.

    Attempt ``n`` (1-based) that fails with a code in :data:`RETRYABLE_ERROR_CODES` is
    followed by a sleep of ``rng() * min(max_delay, base_delay * 2 ** (n - 1))`` seconds;
    after ``max_attempts`` attempts :class:`JobStartRetriesExhaustedError` is raised. Any
    other ``ClientError`` raises :class:`JobStartError` at once.
    """

    def __init__(
        self,
        glue_client: GlueClient,
        job_name: str,
        max_attempts: int = 5,
        base_delay: float = 1.0,
        max_delay: float = 20.0,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        logger: logging.Logger | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ConfigError(f"max_attempts must be at least 1, got {max_attempts}")
        if base_delay < 0 or max_delay < 0:
            raise ConfigError(f"delays must not be negative: {base_delay}, {max_delay}")
        self.glue = glue_client
        self.job_name = job_name
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.sleep = sleep
        self.rng = rng
        self.logger = logger or get_logger()

    @classmethod
    def from_settings(
        cls, glue_client: GlueClient, settings: TriggerSettings, **overrides: Any
    ) -> GlueJobLauncher:
        options: dict[str, Any] = {
            "max_attempts": settings.max_start_attempts,
            "base_delay": settings.retry_base_delay,
            "max_delay": settings.retry_max_delay,
            **overrides,
        }
        return cls(glue_client, settings.glue_job_name, **options)

    def backoff_delay(self, attempt: int) -> float:
        """Sleep after failed attempt ``attempt``: uniform in [0, cap], cap doubling."""
        cap = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return cap * min(max(self.rng(), 0.0), 1.0)

    def start(self, source_path: str, arguments: dict[str, str]) -> str:
        glue_arguments = {}
        for name, value in arguments.items():
            plain = name.removeprefix("--")
            if not _ARGUMENT_NAME.match(plain):
                raise ValueError(f"invalid job argument name {name!r}")
            glue_arguments[f"--{plain}"] = value
        glue_arguments["--source_path"] = source_path
        fields = {"job_name": self.job_name, "source_path": source_path}
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.glue.start_job_run(JobName=self.job_name, Arguments=glue_arguments)
            except ClientError as exc:
                code, message = _error_code(exc), _error_message(exc)
                if code not in RETRYABLE_ERROR_CODES:
                    log_event(
                        self.logger,
                        "trigger.failed",
                        logging.ERROR,
                        error_code=code,
                        error=message,
                        attempt=attempt,
                        **fields,
                    )
                    raise JobStartError(self.job_name, source_path, code, attempt, message) from exc
                if attempt >= self.max_attempts:
                    log_event(
                        self.logger,
                        "trigger.gave_up",
                        logging.ERROR,
                        error_code=code,
                        error=message,
                        attempts=attempt,
                        **fields,
                    )
                    raise JobStartRetriesExhaustedError(
                        self.job_name, source_path, code, attempt, message
                    ) from exc
                delay = self.backoff_delay(attempt)
                log_event(
                    self.logger,
                    "trigger.retry",
                    logging.WARNING,
                    error_code=code,
                    attempt=attempt,
                    max_attempts=self.max_attempts,
                    delay_seconds=round(delay, 3),
                    **fields,
                )
                self.sleep(delay)
            else:
                return response["JobRunId"]


# --- handling -----------------------------------------------------------------------------


class StartedRun(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    source_path: str
    bucket: str
    key: str


class TriggerSummary(BaseModel):
    """What one event (or one batch of objects) started and skipped."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    started: list[StartedRun] = Field(default_factory=list)
    skipped: list[SkippedRecord] = Field(default_factory=list)


def handle_objects(
    refs: Iterable[ObjectRef],
    rules: LandingRules,
    launcher: JobLauncher,
    arguments: Mapping[str, str] | None = None,
    logger: logging.Logger | None = None,
) -> TriggerSummary:
    """Decide for each object and start a run for each accepted one, in order.

    Logs ``trigger.started`` or ``trigger.skipped`` per object. A launcher error
    propagates at once (the objects after it are not started).
    """
    log = logger or get_logger()
    started: list[StartedRun] = []
    skipped: list[SkippedRecord] = []
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
        run_id = launcher.start(ref.source_path, dict(arguments or {}))
        started.append(StartedRun(run_id=run_id, **where))
        log_event(log, "trigger.started", logging.INFO, run_id=run_id, size=ref.size, **where)
    return TriggerSummary(started=started, skipped=skipped)


def handle_event(
    event: Any,
    settings: TriggerSettings,
    launcher: JobLauncher,
    logger: logging.Logger | None = None,
) -> TriggerSummary:
    """Parse a Lambda event, decide for every object it names, start the accepted runs.

    Ends with one ``trigger.summary`` line. Raises only when a start fails (see
    :class:`GlueJobLauncher`), so that Lambda retries the event.
    """
    log = logger or get_logger()
    parsed = parse_event(event, logger=log)
    result = handle_objects(
        parsed.objects, settings, launcher, settings.job_arguments(), logger=log
    )
    summary = TriggerSummary(started=result.started, skipped=[*parsed.skipped, *result.skipped])
    log_event(
        log,
        "trigger.summary",
        started=len(summary.started),
        skipped=len(summary.skipped),
        skip_reasons=dict(Counter(str(s.reason) for s in summary.skipped)),
    )
    return summary
