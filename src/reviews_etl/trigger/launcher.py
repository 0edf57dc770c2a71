"""Starting job runs. The one retry layer of ``StartJobRun`` is botocore's (standard mode:
throttling, 5xx and timeouts, with backoff, jitter and a retry quota), extended by
:class:`ConcurrentRunsRetry` to one more error botocore does not know is transient.
Nothing here loops on its own.
"""

from __future__ import annotations

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

if TYPE_CHECKING:
    from mypy_boto3_glue import GlueClient

    from reviews_etl.trigger.settings import TriggerSettings

# Glue refuses a run over the job's MaxConcurrentRuns with this 400 error (with run queuing
# on it waits instead, so this is rare); it is transient, but not in botocore's list.
CONCURRENT_RUNS_EXCEEDED: Final = "ConcurrentRunsExceededException"
_ARGUMENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class JobLauncher(Protocol):
    """Starts one job run for ``source_path`` and returns the run's id.

    ``arguments`` holds the other job arguments by plain name (``output_path``); each
    launcher spells them as its runtime needs (Glue: ``--output_path``). Raises
    :class:`~reviews_etl.errors.JobStartError` when the run cannot be started.
    """

    def start(self, source_path: str, arguments: dict[str, str]) -> str: ...


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


def glue_arguments(source_path: str, arguments: Mapping[str, str]) -> dict[str, str]:
    """Job arguments as Glue spells them: ``--name``; ``--source_path`` last."""
    spelled = {}
    for name, value in arguments.items():
        plain = name.removeprefix("--")
        if not _ARGUMENT_NAME.match(plain):
            raise ValueError(f"invalid job argument name {name!r}")
        spelled[f"--{plain}"] = value
    spelled["--source_path"] = source_path
    return spelled


class GlueJobLauncher:
    """``glue.start_job_run`` once per object; retries happen inside the client
    (:func:`glue_client`), so an error that reaches this class is final."""

    def __init__(self, glue_client: GlueClient, job_name: str) -> None:
        self.glue = glue_client
        self.job_name = job_name
        # What the client was configured with: the attempts behind a final transport error.
        retries: dict[str, Any] = getattr(glue_client.meta.config, "retries", None) or {}
        self.max_attempts = int(retries.get("total_max_attempts", 1))

    def start(self, source_path: str, arguments: dict[str, str]) -> str:
        try:
            response = self.glue.start_job_run(
                JobName=self.job_name, Arguments=glue_arguments(source_path, arguments)
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            attempts = int(exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)) + 1
            raise JobStartError(
                self.job_name,
                source_path,
                str(error.get("Code", "Unknown")),
                attempts,
                str(error.get("Message", "")),
            ) from exc
        except BotoCoreError as exc:  # timeouts, connection errors: botocore retried them too
            raise JobStartError(
                self.job_name, source_path, type(exc).__name__, self.max_attempts, str(exc)
            ) from exc
        return response["JobRunId"]
