"""Starting job runs. The one retry layer of ``StartJobRun`` is botocore's (standard mode:
throttling, 5xx and timeouts, with backoff, jitter and a retry quota), extended by
:class:`ConcurrentRunsRetry` to one more error botocore does not know is transient.
Nothing here loops on its own.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from reviews_etl.errors import JobStartError
from reviews_etl.logs import get_logger, log_event
from reviews_etl.sources import DEFAULT_MANIFEST_PREFIX, SOURCE_ARGUMENTS, write_source_manifest

if TYPE_CHECKING:
    from mypy_boto3_glue import GlueClient
    from mypy_boto3_s3 import S3Client

    from reviews_etl.trigger.settings import TriggerSettings

# Glue refuses a run over the job's MaxConcurrentRuns with this 400 error (with run queuing
# on it waits instead, so this is rare); it is transient, but not in botocore's list.
CONCURRENT_RUNS_EXCEEDED: Final = "ConcurrentRunsExceededException"
_ARGUMENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class JobLauncher(Protocol):
    """Starts one job run that reads ``sources`` (one or more paths, in order) and returns the
    run's id.

    ``arguments`` holds the other job arguments by plain name (``output_path``); each
    launcher spells them as its runtime needs (Glue: ``--output_path``). Raises
    :class:`~reviews_etl.errors.JobStartError` when the run cannot be started.
    """

    def start(self, sources: list[str], arguments: dict[str, str]) -> str: ...


class ConcurrentRunsRetry:
    """A botocore ``needs-retry`` handler for ``StartJobRun``: after attempt ``n`` failed with
    ``ConcurrentRunsExceededException`` (and ``n < max_attempts``), wait
    ``rng() * min(max_delay, base_delay * 2 ** (n - 1))`` seconds and try again."""

    def __init__(
        self,
        max_attempts: int,
        base_delay: float,
        max_delay: float,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.rng = rng

    def __call__(self, response: Any = None, attempts: int = 1, **_: Any) -> float | None:
        if response is None or attempts >= self.max_attempts:
            return None
        code = response[1].get("Error", {}).get("Code")
        if code != CONCURRENT_RUNS_EXCEEDED:
            return None  # botocore's own handler decides
        cap = min(self.max_delay, self.base_delay * 2.0 ** (attempts - 1))
        delay = cap * min(max(self.rng(), 0.0), 1.0)
        log_event(
            get_logger(),
            "trigger.retry",
            logging.WARNING,
            error_code=code,
            attempt=attempts,
            max_attempts=self.max_attempts,
            delay_seconds=round(delay, 3),
        )
        return delay


def glue_client(
    settings: TriggerSettings,
    *,
    session: boto3.session.Session | None = None,
    rng: Callable[[], float] = random.random,
) -> GlueClient:
    """A Glue client whose retries follow the settings: ``MAX_START_ATTEMPTS`` attempts in
    all, ``ConcurrentRunsExceededException`` included. Endpoint and region come from the
    environment as for any boto3 client (``AWS_ENDPOINT_URL`` points it at a test server)."""
    config = Config(retries={"mode": "standard", "total_max_attempts": settings.max_start_attempts})
    client = (session or boto3.session.Session()).client("glue", config=config)
    client.meta.events.register(
        "needs-retry.glue.StartJobRun",
        ConcurrentRunsRetry(  # type: ignore[arg-type]  # botocore uses the returned delay
            settings.max_start_attempts, settings.retry_base_delay, settings.retry_max_delay, rng
        ),
    )
    return client


def s3_client(
    settings: TriggerSettings, *, session: boto3.session.Session | None = None
) -> S3Client:
    """The S3 client that writes source manifests: botocore's standard retries with the same
    attempt budget as ``StartJobRun`` (``MAX_START_ATTEMPTS``)."""
    config = Config(retries={"mode": "standard", "total_max_attempts": settings.max_start_attempts})
    return (session or boto3.session.Session()).client("s3", config=config)


def glue_arguments(
    source: str, arguments: Mapping[str, str], *, source_argument: str = "source_path"
) -> dict[str, str]:
    """Job arguments as Glue spells them: ``--name``; the run's source last, as
    ``--source_path`` (or ``--source_manifest``). A source argument among ``arguments`` is
    dropped: the sources are always the launcher's."""
    if source_argument not in SOURCE_ARGUMENTS:
        raise ValueError(f"source argument must be one of {', '.join(SOURCE_ARGUMENTS)}")
    spelled = {}
    for name, value in arguments.items():
        plain = name.removeprefix("--")
        if not _ARGUMENT_NAME.match(plain):
            raise ValueError(f"invalid job argument name {name!r}")
        if plain not in SOURCE_ARGUMENTS:
            spelled[f"--{plain}"] = value
    spelled[f"--{source_argument}"] = source
    return spelled


def describe_sources(sources: list[str]) -> str:
    """``s3://b/a.csv`` for one source, ``3 sources (s3://b/a.csv, ...)`` for several."""
    if len(sources) == 1:
        return sources[0]
    return f"{len(sources)} sources ({sources[0]}, ...)"


def _attempts(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)) + 1


def _configured_attempts(client: Any) -> int:
    retries: dict[str, Any] = getattr(client.meta.config, "retries", None) or {}
    return int(retries.get("total_max_attempts", 1))


class GlueJobLauncher:
    """``glue.start_job_run`` once per batch of sources; retries happen inside the client
    (:func:`glue_client`), so an error that reaches this class is final.

    One source is passed as ``--source_path``. Several are written to a source manifest in
    ``s3://<manifest_bucket>/<manifest_prefix>`` and passed as ``--source_manifest``; without
    a manifest bucket (or S3 client) they are passed as a JSON array in ``--source_path``.
    A manifest that cannot be written fails the start like a refused ``StartJobRun``.
    """

    def __init__(
        self,
        glue_client: GlueClient,
        job_name: str,
        *,
        s3_client: S3Client | None = None,
        manifest_bucket: str | None = None,
        manifest_prefix: str = DEFAULT_MANIFEST_PREFIX,
    ) -> None:
        if (s3_client is None) != (manifest_bucket is None):
            raise ValueError("a manifest bucket needs an S3 client and the other way round")
        self.glue = glue_client
        self.job_name = job_name
        self.s3 = s3_client
        self.manifest_bucket = manifest_bucket
        self.manifest_prefix = manifest_prefix
        # What the client was configured with: the attempts behind a final transport error.
        self.max_attempts = _configured_attempts(glue_client)

    def source_argument(self, sources: list[str]) -> tuple[str, str]:
        """``(argument name, value)`` naming ``sources`` for the job; writes the manifest of a
        batch. Raises :class:`JobStartError` when the manifest cannot be written."""
        if not sources:
            raise ValueError("a job run needs at least one source")
        if len(sources) == 1:
            return "source_path", sources[0]
        if self.s3 is None or self.manifest_bucket is None:
            return "source_path", json.dumps(sources, ensure_ascii=False)
        try:
            uri = write_source_manifest(
                self.s3, self.manifest_bucket, self.manifest_prefix, sources
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._start_error(
                sources,
                exc,
                _configured_attempts(self.s3),
                f"writing the source manifest to s3://{self.manifest_bucket}/"
                f"{self.manifest_prefix}: ",
            ) from exc
        log_event(get_logger(), "trigger.manifest", manifest=uri, sources=len(sources))
        return "source_manifest", uri

    def start(self, sources: list[str], arguments: dict[str, str]) -> str:
        name, value = self.source_argument(sources)
        job_arguments = glue_arguments(value, arguments, source_argument=name)
        try:
            response = self.glue.start_job_run(JobName=self.job_name, Arguments=job_arguments)
        except (ClientError, BotoCoreError) as exc:
            raise self._start_error(sources, exc, self.max_attempts) from exc
        return response["JobRunId"]

    def _start_error(
        self,
        sources: list[str],
        exc: ClientError | BotoCoreError,
        transport_attempts: int,
        doing: str = "",
    ) -> JobStartError:
        """The :class:`JobStartError` for a final AWS error while starting a run of ``sources``.

        A refusal (``ClientError``) carries its code, message and the attempts botocore made;
        a transport error (timeout, connection; botocore retried it too) is named by its type,
        after ``transport_attempts``, the attempts its client was configured with. ``doing``
        prefixes the message (what the launcher was doing besides ``StartJobRun``).
        """
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code, attempts = str(error.get("Code", "Unknown")), _attempts(exc)
            message = str(error.get("Message", ""))
        else:
            code, attempts, message = type(exc).__name__, transport_attempts, str(exc)
        return JobStartError(
            self.job_name, describe_sources(sources), code, attempts, doing + message
        )
