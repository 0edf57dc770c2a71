"""The thin Lambda entry point at the repository root, end to end against moto's Glue and S3:
one Glue run per invocation, a source manifest for a batch of several objects."""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.moto_api import state_manager

from reviews_etl.errors import ConfigError, JobStartError
from reviews_etl.logs import get_logger
from reviews_etl.sources import read_source_manifest
from tests.support import REPO_ROOT as ROOT
from tests.support import TRIGGER_VARIABLES, RecordedSleeps
from tests.support.trigger import load_event

REGION = "us-east-1"
JOB = "reviews-etl-job"
MANIFESTS = "reviews-scratch"
BATCH_SOURCES = [
    "s3://reviews-landing/landing/batch/reviews_a.csv",
    "s3://reviews-landing/landing/batch/reviews_b.csv",
    "s3://reviews-landing/landing/batch/reviews_c.csv",
]


def logged_events(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [json.loads(r.getMessage())["event"] for r in caplog.records if r.name == "reviews_etl"]


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
    """The function's environment, and nothing from the developer's."""
    for name in TRIGGER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_GLUE", "AWS_RETRY_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
        "GLUE_JOB_NAME": JOB,
        "LANDING_BUCKET": "reviews-landing",
        "LANDING_PREFIX": "landing/",
        "OUTPUT_PATH": "s3://reviews-processed",
        "MANIFEST_BUCKET": MANIFESTS,
        "MAX_START_ATTEMPTS": "3",
        "RETRY_BASE_DELAY_SECONDS": "0",
        "RETRY_MAX_DELAY_SECONDS": "0",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def handler_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """``lambda_handler`` imported from the repository root, with a fresh per-container cache
    (and the ``reviews_etl`` logger's level, which the handler sets, restored)."""
    monkeypatch.syspath_prepend(str(ROOT))
    module = importlib.import_module("lambda_handler")
    logger = get_logger()
    level = logger.level
    module._runtime.cache_clear()
    yield module
    module._runtime.cache_clear()
    logger.setLevel(level)


def create_job(client: Any, name: str = JOB, max_concurrent_runs: int = 10) -> None:
    client.create_job(
        Name=name,
        Role="arn:aws:iam::123456789012:role/reviews-etl-glue",
        Command={"Name": "glueetl", "ScriptLocation": "s3://reviews-scripts/glue_entrypoint.py"},
        ExecutionProperty={"MaxConcurrentRuns": max_concurrent_runs},
    )


def create_manifest_bucket() -> Any:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=MANIFESTS)
    return s3


@pytest.fixture
def glue(lambda_env: None) -> Iterator[Any]:
    """moto's Glue with the job, and moto's S3 with the manifest bucket."""
    with mock_aws():
        client = boto3.client("glue", region_name=REGION)
        create_job(client)
        create_manifest_bucket()
        yield client


def manifests() -> list[str]:
    """The manifest objects in moto's S3, by key."""
    listed = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=MANIFESTS)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def run_sources(run: dict[str, Any]) -> list[str]:
    """The sources a job run was given, whichever argument names them."""
    arguments = run["Arguments"]
    if "--source_manifest" in arguments:
        return read_source_manifest(arguments["--source_manifest"])
    value = arguments["--source_path"]
    return json.loads(value) if value.startswith("[") else [value]


def sqs_batch(keys: list[str]) -> dict[str, Any]:
    """An SQS event of one message per key (URL-encoded as S3 sends it), built from the
    canonical single-message event."""
    template = load_event("sqs_s3_notification.json")["Records"][0]
    records = []
    for index, key in enumerate(keys):
        body = json.loads(template["body"])
        body["Records"][0]["s3"]["object"]["key"] = key
        records.append({**template, "messageId": f"msg-{index:02d}", "body": json.dumps(body)})
    return {"Records": records}


@pytest.fixture
def runs_keep_running() -> Iterator[None]:
    """moto's job runs finish as soon as they are looked at; keep them RUNNING so the job's
    MaxConcurrentRuns is reached and Glue answers ConcurrentRunsExceededException."""
    state_manager.set_transition(
        model_name="glue::job_run", transition={"progression": "manual", "times": 1_000_000}
    )
    yield
    state_manager.unset_transition("glue::job_run")


def count_attempts(handler_module: ModuleType) -> Callable[[], list[str]]:
    """Create the container's client now and count its StartJobRun HTTP attempts by source."""
    _, launcher = handler_module._runtime()
    attempts: list[str] = []

    def record(request: Any, **_: Any) -> None:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        arguments = json.loads(body)["Arguments"]
        attempts.append(arguments.get("--source_manifest") or arguments["--source_path"])

    launcher.glue.meta.events.register("before-send.glue.StartJobRun", record)
    return lambda: attempts


def test_handler_starts_glue_runs(
    glue: Any, handler_module: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="reviews_etl")

    result = handler_module.handler(load_event("s3_put_encoded_keys.json"), FakeLambdaContext())

    source = "s3://reviews-landing/landing/May 2024/reviews + extra café ☕.csv"
    [started] = result["started"]
    assert started["source_path"] == source
    assert result["skipped"] == []
    assert result["failed"] == []
    assert result["batchItemFailures"] == []
    run = glue.get_job_run(JobName=JOB, RunId=started["run_id"])["JobRun"]
    assert run["Arguments"] == {"--source_path": source, "--output_path": "s3://reviews-processed"}
    assert json.loads(json.dumps(result)) == result  # a JSON-serialisable Lambda result
    assert logged_events(caplog) == ["trigger.accepted", "trigger.started", "trigger.summary"]
    assert manifests() == []  # one object: no manifest


@pytest.mark.parametrize(
    ("event_file", "sources"),
    [
        ("s3_put_encoded_keys.json", ["landing/May 2024/reviews + extra café ☕.csv"]),
        ("sqs_s3_notification.json", ["landing/May 2024/reviews + extra café ☕.csv"]),
        ("eventbridge_object_created.json", ["landing/eventbridge drop/café reviews.csv"]),
        (
            "s3_put_multiple_records.json",
            ["landing/reviews_2024-05-01.csv", "landing/REVIEWS_2024-05-02.CSV"],
        ),
        (
            "sqs_s3_batch_three.json",
            [f"landing/batch/reviews_{x}.csv" for x in "abc"],
        ),
        (
            "sqs_s3_batch_duplicate.json",
            [f"landing/redelivered/reviews_{x}.csv" for x in "ab"],
        ),
    ],
)
def test_every_event_shape_starts_exactly_one_run(
    glue: Any, handler_module: ModuleType, event_file: str, sources: list[str]
) -> None:
    result = handler_module.handler(load_event(event_file), FakeLambdaContext())

    paths = [f"s3://reviews-landing/{key}" for key in sources]
    [run] = glue.get_job_runs(JobName=JOB)["JobRuns"]
    assert [s["source_path"] for s in result["started"]] == paths
    assert {s["run_id"] for s in result["started"]} == {run["Id"]}
    assert result["batchItemFailures"] == []
    assert run_sources(run) == paths
    assert run["Arguments"]["--output_path"] == "s3://reviews-processed"
    if len(paths) == 1:  # a batch of one: --source_path, as before batching
        assert run["Arguments"] == {
            "--source_path": paths[0],
            "--output_path": "s3://reviews-processed",
        }
        assert manifests() == []
    else:
        uri = run["Arguments"]["--source_manifest"]
        assert "--source_path" not in run["Arguments"]
        assert uri.startswith(f"s3://{MANIFESTS}/_manifests/")
        assert manifests() == [uri.removeprefix(f"s3://{MANIFESTS}/")]


def test_events_without_objects_start_nothing(glue: Any, handler_module: ModuleType) -> None:
    context = FakeLambdaContext()
    results = [
        handler_module.handler(load_event(name), context)
        for name in ("sqs_s3_test_event.json", "s3_test_event.json", "s3_object_removed.json")
    ]

    assert [r["started"] for r in results] == [[], [], []]
    assert [[s["reason"] for s in r["skipped"]] for r in results] == [
        ["test_event"],
        ["test_event"],
        ["not_object_created"],
    ]
    assert [r["batchItemFailures"] for r in results] == [[]] * 3
    assert glue.get_job_runs(JobName=JOB)["JobRuns"] == []


def test_a_batch_of_25_messages_starts_one_run_with_a_manifest_in_event_order(
    glue: Any, handler_module: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="reviews_etl")
    # Not in name order: the manifest keeps the event's order.
    keys = [f"landing/backfill/2024-05-{day:02d}+part.csv" for day in range(25, 0, -1)]
    event = sqs_batch(keys)

    result = handler_module.handler(event, FakeLambdaContext())

    paths = [
        f"s3://reviews-landing/landing/backfill/2024-05-{d:02d} part.csv" for d in range(25, 0, -1)
    ]
    [run] = glue.get_job_runs(JobName=JOB)["JobRuns"]
    assert read_source_manifest(run["Arguments"]["--source_manifest"]) == paths
    assert [s["source_path"] for s in result["started"]] == paths
    assert {s["run_id"] for s in result["started"]} == {run["Id"]}
    assert result["batchItemFailures"] == []
    assert len(manifests()) == 1
    events = logged_events(caplog)
    assert (events.count("trigger.started"), events.count("trigger.manifest")) == (1, 1)

    # SQS delivers the batch again (say the function timed out after the start): the same
    # manifest object is written again, not a new one.
    handler_module.handler(event, FakeLambdaContext())
    runs = glue.get_job_runs(JobName=JOB)["JobRuns"]
    assert len(runs) == 2
    assert len({r["Arguments"]["--source_manifest"] for r in runs}) == 1
    assert len(manifests()) == 1


def test_a_batch_with_repeated_keys_lists_each_source_once_first_occurrence_kept(
    glue: Any, handler_module: ModuleType
) -> None:
    keys = [f"landing/backfill/{i:02d}.csv" for i in range(25)]
    keys[10] = keys[3]  # S3 delivered the event for 03.csv twice
    keys[20] = keys[24]  # ... and 24.csv's before its first delivery's place
    event = sqs_batch(keys)

    result = handler_module.handler(event, FakeLambdaContext())

    expected = [f"s3://reviews-landing/{k}" for k in dict.fromkeys(keys)]
    assert len(expected) == 23
    assert expected.index("s3://reviews-landing/landing/backfill/24.csv") == 19  # at keys[20]
    [run] = glue.get_job_runs(JobName=JOB)["JobRuns"]
    assert read_source_manifest(run["Arguments"]["--source_manifest"]) == expected
    assert [s["source_path"] for s in result["started"]] == expected
    assert result["batchItemFailures"] == []


def test_without_manifest_bucket_a_batch_is_a_json_array_in_source_path(
    glue: Any, handler_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MANIFEST_BUCKET")

    result = handler_module.handler(load_event("sqs_s3_batch_three.json"), FakeLambdaContext())

    [run] = glue.get_job_runs(JobName=JOB)["JobRuns"]
    assert json.loads(run["Arguments"]["--source_path"]) == BATCH_SOURCES
    assert "--source_manifest" not in run["Arguments"]
    assert len(result["started"]) == 3
    assert manifests() == []


def test_client_and_settings_are_created_once_per_container(
    glue: Any, handler_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[str] = []
    real_client: Any = boto3.session.Session.client

    def counting_client(self: Any, service: str, *args: Any, **kwargs: Any) -> Any:
        created.append(service)
        return real_client(self, service, *args, **kwargs)

    monkeypatch.setattr(boto3.session.Session, "client", counting_client)
    for _ in range(3):
        handler_module.handler(load_event("s3_put_encoded_keys.json"), FakeLambdaContext())
    monkeypatch.setenv("GLUE_JOB_NAME", "changed-after-the-first-call")
    handler_module.handler(load_event("s3_put_encoded_keys.json"), FakeLambdaContext())

    assert created == ["glue", "s3"]
    assert len(glue.get_job_runs(JobName=JOB)["JobRuns"]) == 4


def test_no_s3_client_without_manifest_bucket(
    lambda_env: None, handler_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MANIFEST_BUCKET")

    settings, launcher = handler_module._runtime()

    assert settings.manifest_bucket is None
    assert (launcher.s3, launcher.manifest_bucket) == (None, None)


def test_container_client_follows_the_settings(
    lambda_env: None, handler_module: ModuleType
) -> None:
    settings, launcher = handler_module._runtime()

    assert (settings.glue_job_name, launcher.job_name) == (JOB, JOB)
    assert launcher.glue.meta.config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert launcher.glue.meta.region_name == REGION
    assert (launcher.manifest_bucket, launcher.manifest_prefix) == (MANIFESTS, "_manifests/")
    assert launcher.s3.meta.config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert launcher.s3.meta.region_name == REGION


def test_log_level_comes_from_the_environment(
    glue: Any, handler_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "warning")

    handler_module.handler(load_event("s3_test_event.json"), FakeLambdaContext())

    assert get_logger().level == logging.WARNING


def test_missing_job_fails_a_direct_invocation(
    lambda_env: None,
    handler_module: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    sleeps: RecordedSleeps,
) -> None:
    monkeypatch.setenv("GLUE_JOB_NAME", "missing-job")
    with mock_aws(), pytest.raises(JobStartError, match="EntityNotFoundException"):
        handler_module.handler(load_event("s3_put_encoded_keys.json"), FakeLambdaContext())
    assert sleeps.delays == []  # not retried


def test_missing_job_with_sqs_reports_every_message(
    lambda_env: None, handler_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLUE_JOB_NAME", "missing-job")
    event = load_event("sqs_s3_batch_three.json")

    with mock_aws():
        create_manifest_bucket()
        result = handler_module.handler(event, FakeLambdaContext())

    assert result["started"] == []
    assert [f["source_path"] for f in result["failed"]] == BATCH_SOURCES
    assert all("EntityNotFoundException" in f["error"] for f in result["failed"])
    assert result["batchItemFailures"] == [
        {"itemIdentifier": r["messageId"]} for r in event["Records"]
    ]


def test_a_refused_start_reports_every_message_of_the_batch(
    lambda_env: None,
    handler_module: ModuleType,
    runs_keep_running: None,
    sleeps: RecordedSleeps,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="reviews_etl")
    event = load_event("sqs_s3_batch_three.json")
    with mock_aws():
        glue = boto3.client("glue", region_name=REGION)
        create_job(glue, max_concurrent_runs=1)
        create_manifest_bucket()
        busy = glue.start_job_run(JobName=JOB)["JobRunId"]  # takes the only slot
        attempts = count_attempts(handler_module)

        result = handler_module.handler(event, FakeLambdaContext())

        runs = glue.get_job_runs(JobName=JOB)["JobRuns"]
        [manifest] = manifests()

    assert result["started"] == []
    assert [f["source_path"] for f in result["failed"]] == BATCH_SOURCES
    assert [f["message_id"] for f in result["failed"]] == [r["messageId"] for r in event["Records"]]
    for failed in result["failed"]:
        assert "ConcurrentRunsExceededException" in failed["error"]
        assert "after 3 attempt(s)" in failed["error"]
    assert result["batchItemFailures"] == [
        {"itemIdentifier": r["messageId"]} for r in event["Records"]
    ]
    # one run for the batch: MAX_START_ATTEMPTS=3 calls in all, each naming the manifest
    assert attempts() == [f"s3://{MANIFESTS}/{manifest}"] * 3
    assert sleeps.delays == [0.0, 0.0]  # RETRY_*_DELAY_SECONDS=0
    assert [r["Id"] for r in runs] == [busy]
    events = logged_events(caplog)
    assert events.count("trigger.retry") == 2
    assert events.count("trigger.failed") == 3
    assert events[-1] == "trigger.summary"


def test_a_manifest_that_cannot_be_written_reports_every_message(
    lambda_env: None, handler_module: ModuleType, sleeps: RecordedSleeps
) -> None:
    event = load_event("sqs_s3_batch_three.json")
    with mock_aws():  # no manifest bucket
        glue = boto3.client("glue", region_name=REGION)
        create_job(glue)

        result = handler_module.handler(event, FakeLambdaContext())

        runs = glue.get_job_runs(JobName=JOB)["JobRuns"]

    assert runs == []
    assert result["started"] == []
    assert all("NoSuchBucket" in f["error"] for f in result["failed"])
    assert all("writing the source manifest" in f["error"] for f in result["failed"])
    assert result["batchItemFailures"] == [
        {"itemIdentifier": r["messageId"]} for r in event["Records"]
    ]


def test_direct_s3_event_starts_one_run_then_fails_the_invocation(
    lambda_env: None,
    handler_module: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    runs_keep_running: None,
    sleeps: RecordedSleeps,
) -> None:
    monkeypatch.setenv("ALLOWED_SUFFIXES", "csv,txt")
    monkeypatch.delenv("MANIFEST_BUCKET")
    with mock_aws():
        glue = boto3.client("glue", region_name=REGION)
        create_job(glue, max_concurrent_runs=1)
        busy = glue.start_job_run(JobName=JOB)["JobRunId"]
        attempts = count_attempts(handler_module)

        with pytest.raises(JobStartError) as info:
            handler_module.handler(load_event("s3_put_multiple_records.json"), FakeLambdaContext())

        runs = glue.get_job_runs(JobName=JOB)["JobRuns"]

    sources = [
        "s3://reviews-landing/landing/reviews_2024-05-01.csv",
        "s3://reviews-landing/landing/REVIEWS_2024-05-02.CSV",
        "s3://reviews-landing/landing/notes.txt",
    ]
    assert [r["Id"] for r in runs] == [busy]
    assert [json.loads(a) for a in attempts()] == [sources] * 3  # one run, 3 attempts
    assert "3 of 3 accepted object(s) could not be started" in str(info.value)
    assert sources[0] in str(info.value)
    assert "ConcurrentRunsExceededException" in str(info.value)


def test_handler_names_missing_settings_and_retries_them_next_time(
    glue: Any, handler_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GLUE_JOB_NAME")
    monkeypatch.setenv("LANDING_BUCKET", "   ")

    with pytest.raises(ConfigError) as info:
        handler_module.handler(load_event("s3_test_event.json"), FakeLambdaContext())
    assert str(info.value) == (
        "invalid trigger settings: GLUE_JOB_NAME is required but not set; "
        "LANDING_BUCKET is required but not set"
    )

    # A ConfigError is not cached: once the environment is fixed, the container works.
    monkeypatch.setenv("GLUE_JOB_NAME", JOB)
    monkeypatch.setenv("LANDING_BUCKET", "reviews-landing")
    result = handler_module.handler(load_event("s3_put_encoded_keys.json"), FakeLambdaContext())
    assert len(result["started"]) == 1


def test_handler_names_invalid_settings(
    lambda_env: None, handler_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_START_ATTEMPTS", "45")

    with pytest.raises(ConfigError, match="MAX_START_ATTEMPTS='45'"):
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
        import reviews_etl.trigger
        import reviews_etl.trigger.events
        import reviews_etl.trigger.handler
        import reviews_etl.trigger.launcher
        import reviews_etl.trigger.rules
        import reviews_etl.trigger.settings

        assert callable(lambda_handler.handler)
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
    for module in (
        "lambda_handler",
        "reviews_etl.trigger",
        "reviews_etl.trigger.events",
        "reviews_etl.trigger.handler",
        "reviews_etl.trigger.launcher",
        "reviews_etl.trigger.rules",
        "reviews_etl.trigger.settings",
    ):
        assert module in imported
    assert not [m for m in imported if m.split(".")[0] in {"pyspark", "py4j"}]
