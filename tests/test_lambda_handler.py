"""The thin Lambda entry point at the repository root, against moto's Glue."""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from reviews_etl.errors import ConfigError
from reviews_etl.trigger import JobStartError

ROOT = Path(__file__).resolve().parents[1]
EVENTS = Path(__file__).parent / "events"
REGION = "us-east-1"
JOB = "reviews-etl-job"


def load_event(name: str) -> dict[str, Any]:
    with (EVENTS / name).open(encoding="utf-8") as handle:
        event: dict[str, Any] = json.load(handle)
    return event


@dataclass
class FakeLambdaContext:
    """The attributes of the Python runtime's context object that handlers commonly use."""

    function_name: str = "reviews-etl-trigger"
    function_version: str = "$LATEST"
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:reviews-etl-trigger"
    memory_limit_in_mb: int = 256
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    log_group_name: str = "/aws/lambda/reviews-etl-trigger"
    log_stream_name: str = "2024/05/01/[$LATEST]abcdef0123456789"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "GLUE_JOB_NAME": JOB,
        "LANDING_BUCKET": "reviews-landing",
        "LANDING_PREFIX": "landing/",
        "OUTPUT_PATH": "s3://reviews-processed",
        "RETRY_BASE_DELAY_SECONDS": "0",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def handler_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """``lambda_handler`` imported from the repository root, with a fresh per-container cache."""
    monkeypatch.syspath_prepend(str(ROOT))
    module = importlib.import_module("lambda_handler")
    module._runtime.cache_clear()
    yield module
    module._runtime.cache_clear()


@pytest.fixture
def glue(lambda_env: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("glue", region_name=REGION)
        client.create_job(
            Name=JOB,
            Role="arn:aws:iam::123456789012:role/reviews-etl-glue",
            Command={
                "Name": "glueetl",
                "ScriptLocation": "s3://reviews-scripts/glue_entrypoint.py",
            },
        )
        yield client


def test_handler_starts_glue_runs(
    glue: Any, handler_module: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="reviews_etl")

    result = handler_module.handler(load_event("s3_put_encoded_keys.json"), FakeLambdaContext())

    source = "s3://reviews-landing/landing/May 2024/reviews + extra café ☕.csv"
    [started] = result["started"]
    assert started["source_path"] == source
    assert result["skipped"] == []
    run = glue.get_job_run(JobName=JOB, RunId=started["run_id"])["JobRun"]
    assert run["Arguments"] == {"--source_path": source, "--output_path": "s3://reviews-processed"}
    assert json.loads(json.dumps(result)) == result  # a JSON-serialisable Lambda result
    events = [
        json.loads(r.getMessage())["event"] for r in caplog.records if r.name == "reviews_etl"
    ]
    assert events == ["trigger.started", "trigger.summary"]


def test_handler_handles_sqs_and_eventbridge_and_test_events(
    glue: Any, handler_module: ModuleType
) -> None:
    context = FakeLambdaContext()
    results = [
        handler_module.handler(load_event(name), context)
        for name in (
            "sqs_s3_notification.json",
            "sqs_s3_test_event.json",
            "eventbridge_object_created.json",
            "s3_object_removed.json",
        )
    ]

    assert [len(r["started"]) for r in results] == [1, 0, 1, 0]
    assert [[s["reason"] for s in r["skipped"]] for r in results] == [
        [],
        ["test_event"],
        [],
        ["not_object_created"],
    ]
    assert len(glue.get_job_runs(JobName=JOB)["JobRuns"]) == 2


def test_client_and_settings_are_created_once_per_container(
    glue: Any, handler_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[str] = []
    real_client: Any = boto3.client

    def counting_client(service: str, *args: Any, **kwargs: Any) -> Any:
        created.append(service)
        return real_client(service, *args, **kwargs)

    monkeypatch.setattr(boto3, "client", counting_client)
    for _ in range(3):
        handler_module.handler(load_event("s3_put_encoded_keys.json"), FakeLambdaContext())
    monkeypatch.setenv("GLUE_JOB_NAME", "changed-after-the-first-call")
    handler_module.handler(load_event("s3_put_encoded_keys.json"), FakeLambdaContext())

    assert created == ["glue"]
    assert len(glue.get_job_runs(JobName=JOB)["JobRuns"]) == 4


def test_handler_raises_when_the_job_cannot_start(
    lambda_env: None, handler_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLUE_JOB_NAME", "missing-job")
    with mock_aws(), pytest.raises(JobStartError, match="EntityNotFoundException"):
        handler_module.handler(load_event("s3_put_encoded_keys.json"), FakeLambdaContext())


def test_handler_names_missing_settings(
    handler_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GLUE_JOB_NAME", raising=False)
    monkeypatch.delenv("LANDING_BUCKET", raising=False)

    with pytest.raises(ConfigError, match="GLUE_JOB_NAME is required"):
        handler_module.handler(load_event("s3_test_event.json"), FakeLambdaContext())


def test_trigger_path_imports_without_pyspark() -> None:
    """Import the Lambda modules in a fresh interpreter where pyspark cannot be imported."""
    code = textwrap.dedent(
        """
        import importlib.abc
        import sys

        class BlockSpark(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {"pyspark", "py4j"}:
                    raise ImportError(f"{name} is blocked in this test")
                return None

        sys.meta_path.insert(0, BlockSpark())
        import lambda_handler
        import reviews_etl.events
        import reviews_etl.trigger

        loaded = sorted(m for m in sys.modules if m.split(".")[0] in {"pyspark", "py4j"})
        print("spark modules:", loaded)
        assert not loaded, loaded
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "spark modules: []" in result.stdout
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()]
    assert "lambda_handler" in imported
    assert "reviews_etl.trigger" in imported
    assert not [m for m in imported if m.split(".")[0] in {"pyspark", "py4j"}]
