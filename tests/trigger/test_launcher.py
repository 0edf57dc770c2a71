"""The Glue launcher: its one retry layer (botocore's, with canned HTTP responses), the
ConcurrentRunsRetry handler on its own, and GlueJobLauncher against moto (a run per start,
a source manifest for several sources)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ClientError, ConnectTimeoutError
from moto import mock_aws

from reviews_etl.errors import JobStartError, ReviewsEtlError
from reviews_etl.sources import manifest_key, read_source_manifest
from reviews_etl.trigger import GlueJobLauncher, SkipReason, glue_client, handle_event, s3_client
from reviews_etl.trigger.launcher import (
    CONCURRENT_RUNS_EXCEEDED,
    ConcurrentRunsRetry,
    glue_arguments,
)
from tests.support import RecordedSleeps
from tests.support.trigger import JOB, REGION, json_lines, load_event, settings

# --- the Glue client: botocore's retries, with canned HTTP responses -----------------------


def aws_response(status: int, body: dict[str, Any], error_type: str | None = None) -> AWSResponse:
    """A raw Glue (JSON 1.1 protocol) HTTP response, as botocore receives it."""
    headers = HTTPHeaders()
    headers["content-type"] = "application/x-amz-json-1.1"
    headers["x-amzn-RequestId"] = "req-1"
    if error_type is not None:
        headers["x-amzn-ErrorType"] = error_type

    class _Raw:
        def __init__(self, data: bytes) -> None:
            self.data = data

        def stream(self, **_: Any) -> Iterator[bytes]:
            yield self.data

    return AWSResponse(
        "https://glue.us-east-1.amazonaws.com/", status, headers, _Raw(json.dumps(body).encode())
    )


def error(code: str, status: int = 400) -> Callable[[], AWSResponse]:
    return lambda: aws_response(status, {"__type": code, "message": f"simulated {code}"}, code)


def success(run_id: str = "jr_1") -> Callable[[], AWSResponse]:
    return lambda: aws_response(200, {"JobRunId": run_id})


CONCURRENT = error(CONCURRENT_RUNS_EXCEEDED)
THROTTLING = error("ThrottlingException")
INTERNAL = error("InternalServiceException", 500)


@dataclass
class FakeGlue:
    """Answers every StartJobRun attempt (``before-send``) from ``script``; once the script
    is used up the last answer repeats. Records each attempt's request body."""

    script: list[Callable[[], AWSResponse]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        body = request.body
        self.requests.append(json.loads(body.decode() if isinstance(body, bytes) else str(body)))
        answer = self.script[min(len(self.requests), len(self.script)) - 1]
        return answer()

    @property
    def calls(self) -> int:
        return len(self.requests)


def fake_client(
    script: list[Callable[[], AWSResponse]],
    rng: Callable[[], float] = lambda: 0.0,
    **overrides: Any,
) -> tuple[Any, FakeGlue]:
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    client = glue_client(settings(**overrides), session=session, rng=rng)
    fake = FakeGlue(script)
    # A before-send handler that returns a response short-circuits the HTTP call.
    client.meta.events.register("before-send.glue.StartJobRun", fake)  # type: ignore[arg-type]
    return client, fake


def start(client: Any, source: str = "s3://reviews-landing/landing/a.csv") -> str:
    return GlueJobLauncher(client, JOB).start([source], {"output_path": "s3://out"})


def test_glue_client_uses_standard_retries_with_the_attempt_budget() -> None:
    client, _ = fake_client([success()], max_start_attempts=4)

    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 4}
    assert client.meta.region_name == REGION


def test_one_attempt_when_the_first_succeeds(sleeps: RecordedSleeps) -> None:
    client, fake = fake_client([success("jr_first")])

    assert start(client) == "jr_first"
    assert fake.requests == [
        {
            "JobName": JOB,
            "Arguments": {
                "--output_path": "s3://out",
                "--source_path": "s3://reviews-landing/landing/a.csv",
            },
        }
    ]
    assert sleeps.delays == []


def test_concurrent_runs_exceeded_twice_then_success(
    sleeps: RecordedSleeps, caplog: pytest.LogCaptureFixture
) -> None:
    client, fake = fake_client([CONCURRENT, CONCURRENT, success("jr_1")], max_start_attempts=5)

    assert start(client) == "jr_1"
    assert fake.calls == 3
    assert fake.requests[0] == fake.requests[1] == fake.requests[2]
    assert sleeps.delays == [0.0, 0.0]  # rng() == 0.0
    retries = [line for line in json_lines(caplog) if line["event"] == "trigger.retry"]
    assert retries == [
        {
            "event": "trigger.retry",
            "error_code": CONCURRENT_RUNS_EXCEEDED,
            "attempt": attempt,
            "max_attempts": 5,
            "delay_seconds": 0.0,
        }
        for attempt in (1, 2)
    ]
    assert all(r.levelno == logging.WARNING for r in caplog.records)


def test_concurrent_runs_exceeded_every_time_gives_up_after_max_attempts(
    sleeps: RecordedSleeps,
) -> None:
    client, fake = fake_client([CONCURRENT], max_start_attempts=3)

    with pytest.raises(JobStartError) as info:
        start(client, "s3://reviews-landing/landing/busy.csv")

    assert fake.calls == 3
    assert len(sleeps.delays) == 2  # none after the last attempt
    error = info.value
    assert isinstance(error, ReviewsEtlError)
    assert (error.job_name, error.source_path, error.error_code, error.attempts) == (
        JOB,
        "s3://reviews-landing/landing/busy.csv",
        CONCURRENT_RUNS_EXCEEDED,
        3,
    )
    assert str(error) == (
        f"could not start job {JOB!r} for s3://reviews-landing/landing/busy.csv after 3 "
        f"attempt(s): {CONCURRENT_RUNS_EXCEEDED}: simulated {CONCURRENT_RUNS_EXCEEDED}"
    )
    assert isinstance(error.__cause__, ClientError)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 400),
        ("TooManyRequestsException", 400),
        ("InternalServiceException", 500),
        ("ServiceUnavailable", 503),
    ],
)
def test_botocore_retries_throttling_and_5xx(
    sleeps: RecordedSleeps, code: str, status: int
) -> None:
    answer = error(code, status)
    client, fake = fake_client([answer, answer, success("jr_ok")], max_start_attempts=3)

    assert start(client) == "jr_ok"
    assert fake.calls == 3
    # botocore's own jittered backoff: recorded, never slept; at most its 20 s cap
    assert len(sleeps.delays) == 2
    assert all(0.0 <= d <= 20.0 for d in sleeps.delays)

    client, fake = fake_client([answer], max_start_attempts=3)
    with pytest.raises(JobStartError) as info:
        start(client)
    assert fake.calls == 3
    assert (info.value.error_code, info.value.attempts) == (code, 3)
    assert code in str(info.value)


def test_botocore_retries_timeouts_and_reports_its_own_error(sleeps: RecordedSleeps) -> None:
    def time_out() -> AWSResponse:
        raise ConnectTimeoutError(endpoint_url="https://glue.us-east-1.amazonaws.com/")

    client, fake = fake_client([time_out], max_start_attempts=3)
    event = load_event("s3_put_encoded_keys.json")

    summary = handle_event(event, settings(), GlueJobLauncher(client, JOB))

    assert fake.calls == 3
    assert len(sleeps.delays) == 2
    [failed] = summary.failed
    assert (
        "after 3 attempt(s): ConnectTimeoutError: Connect timeout on endpoint URL" in failed.error
    )


@pytest.mark.parametrize(
    "code",
    [
        "AccessDeniedException",
        "EntityNotFoundException",
        "InvalidInputException",
        "ResourceNumberLimitExceededException",
    ],
)
def test_other_errors_are_not_retried(
    sleeps: RecordedSleeps, caplog: pytest.LogCaptureFixture, code: str
) -> None:
    client, fake = fake_client([error(code), success()], max_start_attempts=5)

    with pytest.raises(JobStartError, match=code) as info:
        start(client)

    assert fake.calls == 1
    assert sleeps.delays == []
    assert (info.value.error_code, info.value.attempts) == (code, 1)
    assert "after 1 attempt(s)" in str(info.value)
    assert [line["event"] for line in json_lines(caplog)] == []  # handle_objects logs failures


def test_concurrent_runs_delays_follow_the_capped_exponential_formula(
    sleeps: RecordedSleeps, caplog: pytest.LogCaptureFixture
) -> None:
    client, fake = fake_client(
        [CONCURRENT] * 4 + [success("jr_5th")],
        rng=lambda: 1.0,
        max_start_attempts=5,
        retry_base_delay=1.0,
        retry_max_delay=3.0,
    )

    assert start(client) == "jr_5th"
    assert fake.calls == 5
    # rng() * min(max, base * 2 ** (n - 1)) after failed attempt n: 1, 2, then capped at 3
    assert sleeps.delays == [1.0, 2.0, 3.0, 3.0]
    retries = [line for line in json_lines(caplog) if line["event"] == "trigger.retry"]
    assert [(r["attempt"], r["delay_seconds"]) for r in retries] == [
        (1, 1.0),
        (2, 2.0),
        (3, 3.0),
        (4, 3.0),
    ]


def test_concurrent_runs_delays_are_jittered_by_rng(sleeps: RecordedSleeps) -> None:
    draws = iter([0.5, 0.25, 0.75])
    client, fake = fake_client(
        [CONCURRENT] * 3 + [success()],
        rng=lambda: next(draws),
        max_start_attempts=4,
        retry_base_delay=2.0,
        retry_max_delay=30.0,
    )

    start(client)

    assert fake.calls == 4
    assert sleeps.delays == [0.5 * 2.0, 0.25 * 4.0, 0.75 * 8.0]


def test_settings_delays_reach_the_client(sleeps: RecordedSleeps) -> None:
    client, _ = fake_client(
        [CONCURRENT, success()], rng=lambda: 1.0, retry_base_delay=0.25, retry_max_delay=0.25
    )

    start(client)

    assert sleeps.delays == [0.25]


@pytest.mark.parametrize("max_attempts", [1, 2, 3, 5, 10])
def test_start_job_run_calls_per_object_never_exceed_max_start_attempts(
    sleeps: RecordedSleeps, max_attempts: int
) -> None:
    """One retry layer: transient errors of every kind, forever, cost MAX_START_ATTEMPTS
    calls per object, not MAX_START_ATTEMPTS times botocore's attempts (the 5x3x3 issue)."""
    mixed = [CONCURRENT, THROTTLING, INTERNAL, CONCURRENT, error("ServiceUnavailable", 503)]
    client, fake = fake_client(mixed * 3, rng=lambda: 1.0, max_start_attempts=max_attempts)

    with pytest.raises(JobStartError) as info:
        start(client)

    assert fake.calls == max_attempts
    assert info.value.attempts == max_attempts
    assert len(sleeps.delays) == max_attempts - 1


def test_one_start_per_invocation_costs_max_start_attempts_calls_at_most(
    sleeps: RecordedSleeps,
) -> None:
    """Before batching, each object of an event had its own budget (3 objects x 3 calls);
    now the event's objects share one run, and so one budget."""
    client, fake = fake_client([CONCURRENT], max_start_attempts=3)
    event = load_event("s3_put_multiple_records.json")

    summary = handle_event(
        event, settings(allowed_suffixes=".csv,.txt"), GlueJobLauncher(client, JOB)
    )

    assert summary.started == []
    assert [f.key for f in summary.failed] == [
        "landing/reviews_2024-05-01.csv",
        "landing/REVIEWS_2024-05-02.CSV",
        "landing/notes.txt",
    ]
    assert fake.calls == 3  # one run for the three objects, MAX_START_ATTEMPTS calls
    assert len(sleeps.delays) == 2
    # no manifest bucket: the batch travels as a JSON array in --source_path
    for request in fake.requests:
        assert json.loads(request["Arguments"]["--source_path"]) == [
            f.source_path for f in summary.failed
        ]
    assert all("after 3 attempt(s)" in f.error for f in summary.failed)
    assert all(
        "3 sources (s3://reviews-landing/landing/reviews_2024" in f.error for f in summary.failed
    )


def test_bad_argument_name_fails_before_any_call(sleeps: RecordedSleeps) -> None:
    client, fake = fake_client([success()])

    with pytest.raises(ValueError, match="argument name"):
        GlueJobLauncher(client, JOB).start(["s3://b/k.csv"], {"bad name": "x"})
    assert fake.calls == 0


def test_glue_arguments_spelling() -> None:
    assert glue_arguments("s3://b/k.csv", {"output_path": "s3://o", "--top_n": "3"}) == {
        "--output_path": "s3://o",
        "--top_n": "3",
        "--source_path": "s3://b/k.csv",
    }
    # the sources are always the launcher's, even when given among the arguments
    assert glue_arguments("s3://b/k.csv", {"source_path": "s3://elsewhere"}) == {
        "--source_path": "s3://b/k.csv"
    }
    assert glue_arguments(
        "s3://m/_manifests/x.json",
        {"--source_path": "s3://elsewhere", "source_manifest": "s3://other.json", "top_n": "3"},
        source_argument="source_manifest",
    ) == {"--top_n": "3", "--source_manifest": "s3://m/_manifests/x.json"}
    with pytest.raises(ValueError, match="source argument"):
        glue_arguments("s3://b/k.csv", {}, source_argument="output_path")


# --- ConcurrentRunsRetry on its own -------------------------------------------------------


def parsed(code: str) -> tuple[None, dict[str, Any]]:
    return None, {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {}}


def test_concurrent_runs_retry_handler_decisions() -> None:
    retry = ConcurrentRunsRetry(max_attempts=4, base_delay=1.0, max_delay=5.0, rng=lambda: 1.0)

    assert retry(response=parsed(CONCURRENT_RUNS_EXCEEDED), attempts=1) == 1.0
    assert retry(response=parsed(CONCURRENT_RUNS_EXCEEDED), attempts=3) == 4.0
    assert retry(response=parsed(CONCURRENT_RUNS_EXCEEDED), attempts=4) is None  # budget spent
    assert retry(response=parsed("ThrottlingException"), attempts=1) is None  # botocore's
    assert retry(response=parsed("AccessDeniedException"), attempts=1) is None
    assert retry(response=None, attempts=1, caught_exception=OSError()) is None
    assert retry(response=(None, {}), attempts=1) is None


@pytest.mark.parametrize(("draw", "factor"), [(-0.5, 0.0), (0.0, 0.0), (0.3, 0.3), (7.0, 1.0)])
def test_concurrent_runs_retry_keeps_the_delay_within_the_cap(draw: float, factor: float) -> None:
    retry = ConcurrentRunsRetry(max_attempts=10, base_delay=0.5, max_delay=3.0, rng=lambda: draw)

    for attempt in range(1, 10):
        cap = min(3.0, 0.5 * 2 ** (attempt - 1))
        assert retry(response=parsed(CONCURRENT_RUNS_EXCEEDED), attempts=attempt) == pytest.approx(
            cap * factor
        )


def test_default_rng_jitters_within_the_cap() -> None:
    retry = ConcurrentRunsRetry(max_attempts=10, base_delay=0.5, max_delay=3.0)

    for attempt in range(1, 10):
        cap = min(3.0, 0.5 * 2 ** (attempt - 1))
        delays = [
            retry(response=parsed(CONCURRENT_RUNS_EXCEEDED), attempts=attempt) for _ in range(50)
        ]
        assert all(d is not None and 0.0 <= d <= cap for d in delays)
    assert (
        len({retry(response=parsed(CONCURRENT_RUNS_EXCEEDED), attempts=5) for _ in range(20)}) > 1
    )


# --- GlueJobLauncher against moto ---------------------------------------------------------


@pytest.fixture
def moto_glue() -> Iterator[Any]:
    with mock_aws():
        glue = boto3.client("glue", region_name=REGION)
        glue.create_job(
            Name=JOB,
            Role="arn:aws:iam::123456789012:role/reviews-etl-glue",
            Command={
                "Name": "glueetl",
                "ScriptLocation": "s3://reviews-scripts/glue_entrypoint.py",
            },
            GlueVersion="5.0",
            ExecutionProperty={"MaxConcurrentRuns": 10},
        )
        yield glue


MANIFESTS = "reviews-scratch"


@pytest.fixture
def moto_s3(moto_glue: Any) -> Any:
    """moto's S3 (in the same mock as ``moto_glue``) with the manifest bucket."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=MANIFESTS)
    return s3


def manifest_launcher(**overrides: Any) -> GlueJobLauncher:
    config = settings(manifest_bucket=MANIFESTS, **overrides)
    return GlueJobLauncher(
        glue_client(config),
        JOB,
        s3_client=s3_client(config),
        manifest_bucket=config.manifest_bucket,
        manifest_prefix=config.manifest_prefix,
    )


def test_glue_launcher_starts_a_run_with_the_source_path(moto_glue: Any) -> None:
    launcher = GlueJobLauncher(glue_client(settings()), JOB)
    source = "s3://reviews-landing/landing/May 2024/reviews + extra café.csv"

    run_id = launcher.start([source], {"output_path": "s3://reviews-processed"})

    run = moto_glue.get_job_run(JobName=JOB, RunId=run_id)["JobRun"]
    assert run["Arguments"] == {
        "--source_path": source,
        "--output_path": "s3://reviews-processed",
    }
    assert [r["Id"] for r in moto_glue.get_job_runs(JobName=JOB)["JobRuns"]] == [run_id]


def test_handle_event_starts_one_run_for_the_accepted_objects_with_moto(moto_glue: Any) -> None:
    config = settings()
    launcher = GlueJobLauncher(glue_client(config), config.glue_job_name)

    summary = handle_event(load_event("s3_put_multiple_records.json"), config, launcher)

    sources = [
        "s3://reviews-landing/landing/reviews_2024-05-01.csv",
        "s3://reviews-landing/landing/REVIEWS_2024-05-02.CSV",
    ]
    assert [s.source_path for s in summary.started] == sources
    assert [s.reason for s in summary.skipped] == [SkipReason.SUFFIX_NOT_ALLOWED]
    assert summary.failed == []
    [run] = moto_glue.get_job_runs(JobName=JOB)["JobRuns"]
    # no MANIFEST_BUCKET: the fallback, a JSON array in --source_path
    assert json.loads(run["Arguments"]["--source_path"]) == sources
    assert {s.run_id for s in summary.started} == {run["Id"]}


def test_glue_launcher_writes_a_manifest_for_several_sources(
    moto_glue: Any, moto_s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    launcher = manifest_launcher(manifest_prefix="batches/")
    sources = [f"s3://reviews-landing/landing/part {i} café.csv" for i in (3, 1, 2)]

    run_id = launcher.start(sources, {"output_path": "s3://reviews-processed"})

    run = moto_glue.get_job_run(JobName=JOB, RunId=run_id)["JobRun"]
    uri = run["Arguments"]["--source_manifest"]
    assert run["Arguments"] == {"--output_path": "s3://reviews-processed", "--source_manifest": uri}
    assert uri == f"s3://{MANIFESTS}/{manifest_key('batches/', sources)}"
    assert read_source_manifest(uri) == sources  # in the order given
    head = moto_s3.head_object(Bucket=MANIFESTS, Key=uri.removeprefix(f"s3://{MANIFESTS}/"))
    assert head["ContentType"] == "application/json"
    assert head["ServerSideEncryption"] == "AES256"
    [line] = [line for line in json_lines(caplog) if line["event"] == "trigger.manifest"]
    assert line == {"event": "trigger.manifest", "manifest": uri, "sources": 3}

    # A redelivered batch writes the same manifest object again; another batch, another one.
    second = launcher.start(sources, {})
    launcher.start(sources[:2], {})
    runs = moto_glue.get_job_runs(JobName=JOB)["JobRuns"]
    manifests = {r["Id"]: r["Arguments"]["--source_manifest"] for r in runs}
    assert manifests[second] == uri
    assert len(set(manifests.values())) == 2
    listed = moto_s3.list_objects_v2(Bucket=MANIFESTS, Prefix="batches/")["Contents"]
    assert len(listed) == 2


def test_glue_launcher_passes_one_source_as_source_path_even_with_a_manifest_bucket(
    moto_glue: Any, moto_s3: Any
) -> None:
    run_id = manifest_launcher().start(["s3://reviews-landing/landing/a.csv"], {})

    run = moto_glue.get_job_run(JobName=JOB, RunId=run_id)["JobRun"]
    assert run["Arguments"] == {"--source_path": "s3://reviews-landing/landing/a.csv"}
    assert "Contents" not in moto_s3.list_objects_v2(Bucket=MANIFESTS)


def test_a_manifest_that_cannot_be_written_fails_the_start(moto_glue: Any) -> None:
    launcher = manifest_launcher()  # moto_s3 not used: the bucket does not exist
    sources = ["s3://reviews-landing/landing/a.csv", "s3://reviews-landing/landing/b.csv"]

    with pytest.raises(JobStartError) as info:
        launcher.start(sources, {})

    assert info.value.error_code == "NoSuchBucket"
    assert info.value.source_path == "2 sources (s3://reviews-landing/landing/a.csv, ...)"
    assert f"writing the source manifest to s3://{MANIFESTS}/_manifests/" in str(info.value)
    assert moto_glue.get_job_runs(JobName=JOB)["JobRuns"] == []


def test_glue_launcher_needs_no_sources_and_both_manifest_parts() -> None:
    config = settings()
    with pytest.raises(ValueError, match="at least one source"):
        GlueJobLauncher(glue_client(config), JOB).start([], {})
    with pytest.raises(ValueError, match="manifest bucket needs an S3 client"):
        GlueJobLauncher(glue_client(config), JOB, manifest_bucket=MANIFESTS)


def test_unknown_job_is_not_retried(moto_glue: Any, sleeps: RecordedSleeps) -> None:
    launcher = GlueJobLauncher(glue_client(settings()), "no-such-job")

    with pytest.raises(JobStartError) as info:
        launcher.start(["s3://b/k.csv"], {})

    assert info.value.error_code == "EntityNotFoundException"
    assert info.value.attempts == 1
    assert sleeps.delays == []
