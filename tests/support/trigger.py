"""What the trigger's tests share: the settings they start from, landing events from
tests/events, their JSON log lines, and a launcher that records its calls."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reviews_etl.errors import JobStartError
from reviews_etl.trigger import LandingRules, S3ObjectRef, TriggerSettings
from reviews_etl.trigger.launcher import CONCURRENT_RUNS_EXCEEDED, describe_sources
from tests.support import EVENTS_DIR as EVENTS

REGION = "us-east-1"
JOB = "reviews-etl-job"
BUCKET = "reviews-landing"


def load_event(name: str) -> dict[str, Any]:
    with (EVENTS / name).open(encoding="utf-8") as handle:
        event: dict[str, Any] = json.load(handle)
    return event


def json_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "reviews_etl"]


def settings(**overrides: Any) -> TriggerSettings:
    values: dict[str, Any] = {
        "glue_job_name": JOB,
        "landing_bucket": BUCKET,
        "landing_prefix": "landing/",
        **overrides,
    }
    return TriggerSettings(**values)


def rules(**overrides: Any) -> LandingRules:
    return settings(**overrides).rules


def ref(key: str, bucket: str = BUCKET, size: int | None = 100) -> S3ObjectRef:
    return S3ObjectRef(bucket=bucket, key=key, size=size)


class RecordingLauncher:
    """A JobLauncher that records its calls ``(sources, arguments)`` and returns run ids jr_1,
    jr_2, ...; it raises ``JobStartError`` for a run with one of the source paths in ``fail``
    (or for every run with ``fail_all``)."""

    def __init__(self, fail: set[str] | None = None, fail_all: bool = False) -> None:
        self.calls: list[tuple[list[str], dict[str, str]]] = []
        self.fail = fail or set()
        self.fail_all = fail_all

    def start(self, sources: list[str], arguments: dict[str, str]) -> str:
        self.calls.append((list(sources), arguments))
        if self.fail_all or self.fail.intersection(sources):
            raise JobStartError(
                JOB, describe_sources(sources), CONCURRENT_RUNS_EXCEEDED, 5, "simulated"
            )
        return f"jr_{len(self.calls)}"
