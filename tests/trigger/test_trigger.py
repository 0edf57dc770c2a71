"""The trigger: landing rules, settings from the environment, the Glue launcher and its one
retry layer (botocore), and handling events with several objects: one run per invocation."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ClientError, ConnectTimeoutError
from moto import mock_aws

from reviews_etl.errors import ConfigError, JobStartError, ReviewsEtlError
from reviews_etl.sources import manifest_key, read_source_manifest
from reviews_etl.trigger import (
    Decision,
    FailedStart,
    GlueJobLauncher,
    LandingRules,
    LocalObjectRef,
    S3ObjectRef,
    SkipReason,
    StartedRun,
    TriggerSettings,
    TriggerSummary,
    decide,
    glue_client,
    handle_event,
    handle_objects,
    lambda_response,
    s3_client,
)
from reviews_etl.trigger.launcher import (
    CONCURRENT_RUNS_EXCEEDED,
    ConcurrentRunsRetry,
    describe_sources,
    glue_arguments,
)
from tests.support import EVENTS_DIR as EVENTS
from tests.support import TRIGGER_VARIABLES, RecordedSleeps

REGION = "us-east-1"
JOB = "reviews-etl-job"
BUCKET = "reviews-landing"


def load_event(name: str) -> dict[str, Any]:
    with (EVENTS / name).open(encoding="utf-8") as handle:
        event: dict[str, Any] = json.load(handle)
    return event


def json_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "reviews_etl"]


@pytest.fixture(autouse=True)
def _capture_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="reviews_etl")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's environment must not leak into settings (read by every constructor)
    nor let a client reach a real account or endpoint."""
    for name in TRIGGER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_GLUE", "AWS_RETRY_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)


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


# --- decide -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("object_ref", "reason"),
    [
        (ref("landing/a.csv"), None),
        (ref("landing/sub/dir/a.csv"), None),
        (ref("landing/UPPER.CSV"), None),
        (ref("landing/Mixed.Csv"), None),
        (ref("landing/a.csv", size=None), None),
        (ref("landing/a.csv", bucket="other-bucket"), SkipReason.OTHER_BUCKET),
        (ref("elsewhere/a.csv"), SkipReason.OUTSIDE_PREFIX),
        (ref("Landing/a.csv"), SkipReason.OUTSIDE_PREFIX),  # S3 keys are case-sensitive
        (ref("landing/sub/", size=0), SkipReason.FOLDER_MARKER),
        (ref("landing/notes.txt"), SkipReason.SUFFIX_NOT_ALLOWED),
        (ref("landing/a.csv.gz"), None),
        (ref("landing/REVIEWS.CSV.GZ"), None),
        (ref("landing/a.gz"), SkipReason.SUFFIX_NOT_ALLOWED),
        (ref("landing/a.csv.gz.tmp"), SkipReason.SUFFIX_NOT_ALLOWED),
        (ref("landing/a.csv.tmp"), SkipReason.SUFFIX_NOT_ALLOWED),
        (ref("landing/a.csv", size=0), SkipReason.EMPTY_OBJECT),
        (ref("elsewhere/a.txt", bucket="other-bucket", size=0), SkipReason.OTHER_BUCKET),
    ],
)
def test_decide(object_ref: S3ObjectRef, reason: SkipReason | None) -> None:
    decision = decide(object_ref, rules())

    assert decision.start is (reason is None)
    assert decision.reason == reason
    if reason is not None:
        assert object_ref.key in decision.detail or object_ref.bucket in decision.detail


def test_decide_without_prefix_and_with_several_suffixes() -> None:
    landing = LandingRules(landing_bucket=BUCKET, allowed_suffixes="CSV, .tsv,.csv.gz")

    assert landing.allowed_suffixes == (".csv", ".tsv", ".csv.gz")
    assert decide(ref("top.csv"), landing).start
    assert decide(ref("deep/x.TSV"), landing).start
    assert decide(ref("a.CSV.GZ"), landing).start
    assert decide(ref("a.json"), landing).reason == SkipReason.SUFFIX_NOT_ALLOWED


def test_prefix_is_a_plain_string_prefix_as_in_s3_filters() -> None:
    landing = LandingRules(landing_bucket=BUCKET, landing_prefix="landing")

    assert decide(ref("landing-old/a.csv"), landing).start
    assert not decide(ref("landing-old/a.csv"), rules()).start


def test_landing_rules_refuse_an_absolute_prefix_and_no_suffix() -> None:
    with pytest.raises(ValueError, match="must not start with '/'"):
        LandingRules(landing_bucket=BUCKET, landing_prefix="/landing/")
    with pytest.raises(ValueError, match="at least one suffix"):
        LandingRules(landing_bucket=BUCKET, allowed_suffixes=" , ")


def test_decide_works_for_local_files(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    good = tmp_path / "in" / "reviews.csv"
    good.write_text("review_id,product_id\n", encoding="utf-8")
    empty = tmp_path / "in" / "empty.csv"
    empty.touch()
    landing = LandingRules(landing_bucket=str(tmp_path.resolve()), landing_prefix="in/")

    assert decide(LocalObjectRef.from_path(tmp_path, good), landing).start
    assert decide(LocalObjectRef.from_path(tmp_path, empty), landing).reason == (
        SkipReason.EMPTY_OBJECT
    )
    assert decide(LocalObjectRef.from_path(tmp_path, tmp_path / "in"), landing).reason == (
        SkipReason.FOLDER_MARKER
    )
    other_root = LandingRules(landing_bucket=str(tmp_path / "elsewhere"))
    assert decide(LocalObjectRef.from_path(tmp_path, good), other_root).reason == (
        SkipReason.OTHER_BUCKET
    )


def test_decision_needs_a_reason_exactly_when_skipping() -> None:
    with pytest.raises(ValueError, match="reason"):
        Decision(start=False)
    with pytest.raises(ValueError, match="reason"):
        Decision(start=True, reason=SkipReason.EMPTY_OBJECT)


# --- settings from the environment --------------------------------------------------------


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set trigger variables: ``env(GLUE_JOB_NAME="x")``; the two required ones by default."""

    def _set(**values: str) -> None:
        for name, value in {"GLUE_JOB_NAME": JOB, "LANDING_BUCKET": BUCKET, **values}.items():
            monkeypatch.setenv(name, value)

    return _set


def test_settings_defaults(env: Callable[..., None]) -> None:
    env()
    loaded = TriggerSettings.from_env()

    assert loaded.glue_job_name == JOB
    assert loaded.landing_bucket == BUCKET
    assert loaded.landing_prefix == ""
    assert loaded.allowed_suffixes == (".csv", ".csv.gz")
    assert loaded.output_path is None
    assert (loaded.manifest_bucket, loaded.manifest_prefix) == (None, "_manifests/")
    assert loaded.job_arguments() == {}
    assert (loaded.max_start_attempts, loaded.retry_base_delay, loaded.retry_max_delay) == (
        5,
        1.0,
        20.0,
    )
    assert loaded.log_level == "INFO"
    assert loaded.rules == LandingRules(landing_bucket=BUCKET)


def test_settings_all_variables(env: Callable[..., None], monkeypatch: pytest.MonkeyPatch) -> None:
    env(
        LANDING_PREFIX="landing/",
        ALLOWED_SUFFIXES=" .CSV , txt ",
        OUTPUT_PATH="s3://reviews-processed/",
        MANIFEST_BUCKET="reviews-scratch",
        MANIFEST_PREFIX="trigger/manifests/",
        MAX_START_ATTEMPTS="3",
        RETRY_BASE_DELAY_SECONDS="0.5",
        RETRY_MAX_DELAY_SECONDS="4",
        LOG_LEVEL="debug",
    )
    monkeypatch.setenv("UNRELATED", "ignored")
    loaded = TriggerSettings.from_env()

    assert loaded.landing_prefix == "landing/"
    assert loaded.allowed_suffixes == (".csv", ".txt")
    assert loaded.output_path == "s3://reviews-processed"
    assert loaded.job_arguments() == {"output_path": "s3://reviews-processed"}
    assert (loaded.manifest_bucket, loaded.manifest_prefix) == (
        "reviews-scratch",
        "trigger/manifests/",
    )
    assert (loaded.max_start_attempts, loaded.retry_base_delay, loaded.retry_max_delay) == (
        3,
        0.5,
        4.0,
    )
    assert loaded.log_level == "DEBUG"
    assert loaded.rules == LandingRules(
        landing_bucket=BUCKET, landing_prefix="landing/", allowed_suffixes=(".csv", ".txt")
    )


def test_settings_are_not_landing_rules_but_give_them() -> None:
    loaded = settings(allowed_suffixes="csv,tsv")

    assert not isinstance(loaded, LandingRules)
    assert isinstance(loaded.rules, LandingRules)
    assert loaded.rules.model_dump() == {
        "landing_bucket": BUCKET,
        "landing_prefix": "landing/",
        "allowed_suffixes": (".csv", ".tsv"),
    }


def test_field_names_and_variable_names_both_work_as_keywords() -> None:
    by_field = TriggerSettings(glue_job_name=JOB, landing_bucket=BUCKET, max_start_attempts=2)
    by_alias = TriggerSettings(GLUE_JOB_NAME=JOB, LANDING_BUCKET=BUCKET, MAX_START_ATTEMPTS=2)

    assert by_field == by_alias
    assert by_field.max_start_attempts == 2


def test_suffixes_are_split_trimmed_lowered_and_dotted(env: Callable[..., None]) -> None:
    env(ALLOWED_SUFFIXES="csv, .TXT")

    assert TriggerSettings.from_env().allowed_suffixes == (".csv", ".txt")


def test_values_are_trimmed(env: Callable[..., None]) -> None:
    env(
        GLUE_JOB_NAME=f"  {JOB}\t",
        LANDING_BUCKET=f" {BUCKET} ",
        LANDING_PREFIX=" landing/ ",
        OUTPUT_PATH=" s3://reviews-processed/out/ ",
        MAX_START_ATTEMPTS=" 4 ",
        LOG_LEVEL=" warning ",
    )
    loaded = TriggerSettings.from_env()

    assert loaded.glue_job_name == JOB
    assert loaded.landing_bucket == BUCKET
    assert loaded.landing_prefix == "landing/"
    assert loaded.output_path == "s3://reviews-processed/out"
    assert loaded.max_start_attempts == 4
    assert loaded.log_level == "WARNING"


@pytest.mark.parametrize("blank", ["", " ", "\t \n"])
def test_blank_variables_count_as_unset(env: Callable[..., None], blank: str) -> None:
    env(
        LANDING_PREFIX=blank,
        ALLOWED_SUFFIXES=blank,
        OUTPUT_PATH=blank,
        MANIFEST_BUCKET=blank,
        MANIFEST_PREFIX=blank,
        MAX_START_ATTEMPTS=blank,
        RETRY_BASE_DELAY_SECONDS=blank,
        RETRY_MAX_DELAY_SECONDS=blank,
        LOG_LEVEL=blank,
    )
    loaded = TriggerSettings.from_env()

    assert loaded.landing_prefix == ""
    assert loaded.allowed_suffixes == (".csv", ".csv.gz")
    assert loaded.output_path is None
    assert (loaded.manifest_bucket, loaded.manifest_prefix) == (None, "_manifests/")
    assert (loaded.max_start_attempts, loaded.retry_base_delay, loaded.retry_max_delay) == (
        5,
        1.0,
        20.0,
    )
    assert loaded.log_level == "INFO"


def test_missing_required_variables_are_named() -> None:
    with pytest.raises(ConfigError) as info:
        TriggerSettings.from_env()

    assert str(info.value) == (
        "invalid trigger settings: GLUE_JOB_NAME is required but not set; "
        "LANDING_BUCKET is required but not set"
    )
    assert isinstance(info.value, ReviewsEtlError)


@pytest.mark.parametrize("blank", ["", "  "])
def test_blank_required_variable_is_missing(monkeypatch: pytest.MonkeyPatch, blank: str) -> None:
    monkeypatch.setenv("GLUE_JOB_NAME", JOB)
    monkeypatch.setenv("LANDING_BUCKET", blank)

    with pytest.raises(ConfigError) as info:
        TriggerSettings.from_env()

    message = str(info.value)
    assert "LANDING_BUCKET is required but not set" in message
    assert "GLUE_JOB_NAME" not in message


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("LANDING_BUCKET", "s3://reviews-landing", "bare bucket name"),
        ("LANDING_BUCKET", "reviews-landing/landing", "bare bucket name"),
        ("LANDING_BUCKET", "Reviews_Landing", "not a valid S3 bucket name"),
        ("LANDING_BUCKET", "ab", "not a valid S3 bucket name"),
        ("LANDING_BUCKET", "x" * 64, "not a valid S3 bucket name"),
        ("LANDING_PREFIX", "/landing/", "must not start with '/'"),
        ("ALLOWED_SUFFIXES", ",, ,", "at least one suffix"),
        ("OUTPUT_PATH", "reviews-processed/out", "must be a URI"),
        ("OUTPUT_PATH", "s3:/reviews-processed", "must be a URI"),
        ("OUTPUT_PATH", "s3:///", "must be a URI"),
        ("MANIFEST_BUCKET", "s3://reviews-scratch", "bare bucket name"),
        ("MANIFEST_BUCKET", "Reviews_Scratch", "not a valid S3 bucket name"),
        ("MANIFEST_PREFIX", "/_manifests/", "must not start with '/'"),
        ("MANIFEST_PREFIX", "_manifests", "must end with '/'"),
        ("MAX_START_ATTEMPTS", "zero", "valid integer"),
        ("MAX_START_ATTEMPTS", "2.5", "valid integer"),
        ("MAX_START_ATTEMPTS", "0", "greater than or equal to 1"),
        ("MAX_START_ATTEMPTS", "-3", "greater than or equal to 1"),
        ("MAX_START_ATTEMPTS", "11", "less than or equal to 10"),
        ("RETRY_BASE_DELAY_SECONDS", "-1", "greater than or equal to 0"),
        ("RETRY_BASE_DELAY_SECONDS", "soon", "valid number"),
        ("RETRY_MAX_DELAY_SECONDS", "1e9", "less than or equal to 300"),
        ("LOG_LEVEL", "chatty", "'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
        ("GLUE_JOB_NAME", "x" * 256, "at most 255 characters"),
    ],
)
def test_invalid_variables_are_named(
    env: Callable[..., None], variable: str, value: str, fragment: str
) -> None:
    env(**{variable: value})
    with pytest.raises(ConfigError) as info:
        TriggerSettings.from_env()

    message = str(info.value)
    assert message.startswith("invalid trigger settings: ")
    assert f"{variable}=" in message
    assert fragment in message


def test_every_invalid_variable_is_named_at_once(env: Callable[..., None]) -> None:
    env(LANDING_BUCKET="s3://reviews-landing", OUTPUT_PATH="out", MAX_START_ATTEMPTS="99")
    with pytest.raises(ConfigError) as info:
        TriggerSettings.from_env()

    message = str(info.value)
    for variable in ("LANDING_BUCKET=", "OUTPUT_PATH=", "MAX_START_ATTEMPTS="):
        assert variable in message
    assert "GLUE_JOB_NAME" not in message


def test_base_delay_above_max_delay_is_refused(env: Callable[..., None]) -> None:
    env(RETRY_BASE_DELAY_SECONDS="10", RETRY_MAX_DELAY_SECONDS="2")
    with pytest.raises(ConfigError) as info:
        TriggerSettings.from_env()

    assert str(info.value) == (
        "invalid trigger settings: RETRY_BASE_DELAY_SECONDS (10.0) must not exceed "
        "RETRY_MAX_DELAY_SECONDS (2.0)"
    )


def test_manifests_may_lie_in_the_landing_bucket() -> None:
    # a blank prefix counts as unset, like every variable: the default folder
    assert settings(manifest_bucket=BUCKET, manifest_prefix=" ").manifest_prefix == "_manifests/"
    # inside the landing prefix is fine while '.json' is not an allowed suffix
    inside = settings(manifest_bucket=BUCKET, manifest_prefix="landing/_manifests/")
    assert inside.manifest_bucket == BUCKET
    assert decide(ref("landing/_manifests/0123.json"), inside.rules).reason == (
        SkipReason.SUFFIX_NOT_ALLOWED
    )


def test_manifests_that_the_landing_rules_would_accept_are_refused(
    env: Callable[..., None],
) -> None:
    env(
        LANDING_PREFIX="landing/",
        ALLOWED_SUFFIXES="csv,json",
        MANIFEST_BUCKET=BUCKET,
        MANIFEST_PREFIX="landing/_manifests/",
    )
    with pytest.raises(ConfigError, match="manifests would start runs"):
        TriggerSettings.from_env()

    env(
        LANDING_PREFIX="landing/",
        ALLOWED_SUFFIXES="csv,json",
        MANIFEST_BUCKET="reviews-scratch",
        MANIFEST_PREFIX="landing/_manifests/",
    )
    assert TriggerSettings.from_env().manifest_bucket == "reviews-scratch"


def test_equal_delays_and_the_range_ends_are_accepted(env: Callable[..., None]) -> None:
    env(MAX_START_ATTEMPTS="10", RETRY_BASE_DELAY_SECONDS="0", RETRY_MAX_DELAY_SECONDS="0")
    loaded = TriggerSettings.from_env()

    assert (loaded.max_start_attempts, loaded.retry_base_delay, loaded.retry_max_delay) == (
        10,
        0.0,
        0.0,
    )


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


# --- handle_event / handle_objects with a recording launcher -------------------------------


@pytest.mark.parametrize(
    ("event_file", "started", "reasons"),
    [
        (
            "s3_put_encoded_keys.json",
            ["s3://reviews-landing/landing/May 2024/reviews + extra café ☕.csv"],
            [],
        ),
        (
            "s3_put_multiple_records.json",
            [
                "s3://reviews-landing/landing/reviews_2024-05-01.csv",
                "s3://reviews-landing/landing/REVIEWS_2024-05-02.CSV",
            ],
            [SkipReason.SUFFIX_NOT_ALLOWED],
        ),
        ("s3_test_event.json", [], [SkipReason.TEST_EVENT]),
        (
            "sqs_s3_notification.json",
            ["s3://reviews-landing/landing/May 2024/reviews + extra café ☕.csv"],
            [],
        ),
        (
            "sqs_s3_batch_three.json",
            [
                "s3://reviews-landing/landing/batch/reviews_a.csv",
                "s3://reviews-landing/landing/batch/reviews_b.csv",
                "s3://reviews-landing/landing/batch/reviews_c.csv",
            ],
            [],
        ),
        ("sqs_s3_test_event.json", [], [SkipReason.TEST_EVENT]),
        (
            "eventbridge_object_created.json",
            ["s3://reviews-landing/landing/eventbridge drop/café reviews.csv"],
            [],
        ),
        ("s3_object_removed.json", [], [SkipReason.NOT_OBJECT_CREATED]),
        (
            "s3_malformed_mixed.json",
            ["s3://reviews-landing/landing/good.csv"],
            [SkipReason.MALFORMED_RECORD],
        ),
    ],
)
def test_handle_event(event_file: str, started: list[str], reasons: list[SkipReason]) -> None:
    launcher = RecordingLauncher()

    summary = handle_event(load_event(event_file), settings(), launcher)

    assert [s.source_path for s in summary.started] == started
    assert [s.run_id for s in summary.started] == ["jr_1"] * len(started)
    assert [s.reason for s in summary.skipped] == reasons
    assert summary.failed == []
    assert launcher.calls == ([(started, {})] if started else [])  # one run, or none
    assert lambda_response(summary)["batchItemFailures"] == []


def test_handle_event_logs_one_line_per_decision_and_a_summary(
    caplog: pytest.LogCaptureFixture,
) -> None:
    event = load_event("s3_put_multiple_records.json")
    event["Records"].append(load_event("s3_object_removed.json")["Records"][0])
    config = settings(output_path="s3://reviews-processed")
    launcher = RecordingLauncher()

    summary = handle_event(event, config, launcher)

    lines = json_lines(caplog)
    assert [line["event"] for line in lines] == [
        "trigger.skipped",  # ObjectRemoved, found while parsing
        "trigger.accepted",
        "trigger.accepted",
        "trigger.skipped",  # notes.txt, by the landing rules
        "trigger.started",  # one run for both
        "trigger.summary",
    ]
    assert lines[1] == {
        "event": "trigger.accepted",
        "source_path": "s3://reviews-landing/landing/reviews_2024-05-01.csv",
        "bucket": BUCKET,
        "key": "landing/reviews_2024-05-01.csv",
        "size": 1024,
        "duplicate": False,
    }
    assert lines[3]["reason"] == "suffix_not_allowed"
    assert lines[3]["source_path"] == "s3://reviews-landing/landing/notes.txt"
    assert lines[4] == {"event": "trigger.started", "run_id": "jr_1", "sources": 2}
    assert lines[5] == {
        "event": "trigger.summary",
        "runs": 1,
        "started": 2,
        "skipped": 2,
        "failed": 0,
        "skip_reasons": {"not_object_created": 1, "suffix_not_allowed": 1},
    }
    assert launcher.calls[0][1] == {"output_path": "s3://reviews-processed"}
    dumped = summary.model_dump(mode="json")
    assert json.loads(json.dumps(dumped)) == dumped


def test_other_bucket_and_prefix_are_skipped_not_errors() -> None:
    config = settings(landing_bucket="another-bucket")

    summary = handle_event(load_event("s3_put_multiple_records.json"), config, RecordingLauncher())

    assert summary.started == []
    assert summary.failed == []
    assert {s.reason for s in summary.skipped} == {SkipReason.OTHER_BUCKET}


def test_handle_objects_for_a_local_watcher(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "reviews.csv").write_text("review_id\n1\n", encoding="utf-8")
    (landing / "readme.md").write_text("hi", encoding="utf-8")
    local_rules = LandingRules(landing_bucket=str(landing.resolve()))
    launcher = RecordingLauncher()
    refs = [
        LocalObjectRef.from_path(landing, landing / name) for name in ("reviews.csv", "readme.md")
    ]

    summary = handle_objects(refs, local_rules, launcher, {"output_path": str(tmp_path / "out")})

    assert launcher.calls == [
        ([str((landing / "reviews.csv").resolve())], {"output_path": str(tmp_path / "out")})
    ]
    assert [s.key for s in summary.started] == ["reviews.csv"]
    assert [s.reason for s in summary.skipped] == [SkipReason.SUFFIX_NOT_ALLOWED]
    assert summary.failed == []


def test_local_object_failure_has_no_message_id(tmp_path: Path) -> None:
    (tmp_path / "reviews.csv").write_text("review_id\n1\n", encoding="utf-8")
    path = str((tmp_path / "reviews.csv").resolve())
    launcher = RecordingLauncher(fail={path})

    summary = handle_objects(
        [LocalObjectRef.from_path(tmp_path, tmp_path / "reviews.csv")],
        LandingRules(landing_bucket=str(tmp_path.resolve())),
        launcher,
    )

    [failed] = summary.failed
    assert (failed.source_path, failed.key, failed.message_id) == (path, "reviews.csv", None)


# --- several objects: one run; a failed start fails every accepted object -----------------

THREE_S3 = [
    "s3://reviews-landing/landing/reviews_2024-05-01.csv",
    "s3://reviews-landing/landing/REVIEWS_2024-05-02.CSV",
    "s3://reviews-landing/landing/notes.txt",
]
THREE_KEYS = [p.removeprefix(f"s3://{BUCKET}/") for p in THREE_S3]
BATCH = load_event("sqs_s3_batch_three.json")
BATCH_IDS = [r["messageId"] for r in BATCH["Records"]]
BATCH_SOURCES = [
    "s3://reviews-landing/landing/batch/reviews_a.csv",
    "s3://reviews-landing/landing/batch/reviews_b.csv",
    "s3://reviews-landing/landing/batch/reviews_c.csv",
]
DUPLICATE = load_event("sqs_s3_batch_duplicate.json")
DUPLICATE_IDS = [r["messageId"] for r in DUPLICATE["Records"]]
A, B = (f"s3://reviews-landing/landing/redelivered/reviews_{x}.csv" for x in "ab")


def merged_message(*indexes: int) -> dict[str, Any]:
    """The first message of BATCH, its body naming the objects of BATCH's messages ``indexes``."""
    records = [json.loads(BATCH["Records"][i]["body"])["Records"][0] for i in indexes]
    return {**BATCH["Records"][0], "body": json.dumps({"Records": records})}


def test_a_failed_start_fails_every_accepted_object_of_the_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    launcher = RecordingLauncher(fail_all=True)
    config = settings(allowed_suffixes=".csv,.txt")

    summary = handle_event(load_event("s3_put_multiple_records.json"), config, launcher)

    assert launcher.calls == [(THREE_S3, {})]
    assert summary.started == []
    expected_error = str(
        JobStartError(JOB, describe_sources(THREE_S3), CONCURRENT_RUNS_EXCEEDED, 5, "simulated")
    )
    assert summary.failed == [
        FailedStart(source_path=path, bucket=BUCKET, key=key, error=expected_error)
        for path, key in zip(THREE_S3, THREE_KEYS, strict=True)
    ]
    assert summary.skipped == []
    lines = json_lines(caplog)
    assert [line["event"] for line in lines] == [
        *["trigger.accepted"] * 3,
        *["trigger.failed"] * 3,
        "trigger.summary",
    ]
    assert lines[3] == {
        "event": "trigger.failed",
        "error": expected_error,
        "source_path": THREE_S3[0],
        "bucket": BUCKET,
        "key": THREE_KEYS[0],
    }
    failed_records = [r for r in caplog.records if "trigger.failed" in r.getMessage()]
    assert {r.levelno for r in failed_records} == {logging.ERROR}
    assert lines[-1] == {
        "event": "trigger.summary",
        "runs": 0,
        "started": 0,
        "skipped": 0,
        "failed": 3,
        "skip_reasons": {},
    }


def test_direct_s3_event_with_a_failure_fails_the_invocation() -> None:
    launcher = RecordingLauncher(fail_all=True)
    summary = handle_event(
        load_event("s3_put_multiple_records.json"), settings(allowed_suffixes=".csv,.txt"), launcher
    )

    with pytest.raises(JobStartError) as info:
        lambda_response(summary)

    message = str(info.value)
    assert info.value.source_path == THREE_S3[0]
    assert "3 of 3 accepted object(s) could not be started" in message
    assert summary.failed[0].error in message


def test_eventbridge_failure_fails_the_invocation() -> None:
    event = load_event("eventbridge_object_created.json")
    path = "s3://reviews-landing/landing/eventbridge drop/café reviews.csv"

    summary = handle_event(event, settings(), RecordingLauncher(fail={path}))

    assert [f.message_id for f in summary.failed] == [None]
    with pytest.raises(JobStartError, match="1 of 1 accepted"):
        lambda_response(summary)


def test_non_job_start_errors_are_reported_with_their_type() -> None:
    class Broken:
        def start(self, sources: list[str], arguments: dict[str, str]) -> str:
            raise RuntimeError(f"no route to {len(sources)} sources")

    summary = handle_event(load_event("sqs_s3_batch_three.json"), settings(), Broken())

    assert [f.error for f in summary.failed] == ["RuntimeError: no route to 3 sources"] * 3
    assert lambda_response(summary)["batchItemFailures"] == [
        {"itemIdentifier": m} for m in BATCH_IDS
    ]


def test_sqs_batch_starts_one_run_for_all_its_messages(caplog: pytest.LogCaptureFixture) -> None:
    launcher = RecordingLauncher()

    summary = handle_event(BATCH, settings(output_path="s3://reviews-processed"), launcher)
    response = lambda_response(summary)

    assert launcher.calls == [(BATCH_SOURCES, {"output_path": "s3://reviews-processed"})]
    assert summary.started == [
        StartedRun(
            run_id="jr_1", source_path=path, bucket=BUCKET, key=path.removeprefix(f"s3://{BUCKET}/")
        )
        for path in BATCH_SOURCES
    ]
    assert response["batchItemFailures"] == []
    assert [line["event"] for line in json_lines(caplog)].count("trigger.started") == 1


def test_failed_start_reports_every_message_that_carried_an_accepted_object() -> None:
    test_event = {**BATCH["Records"][0], "messageId": "m-test"}
    test_event["body"] = json.dumps(load_event("s3_test_event.json"))
    other = json.loads(BATCH["Records"][1]["body"])
    other["Records"][0]["s3"]["object"]["key"] = "landing/batch/notes.txt"
    skipped = {**BATCH["Records"][1], "messageId": "m-skipped", "body": json.dumps(other)}
    event = {"Records": [BATCH["Records"][0], test_event, skipped, *BATCH["Records"][1:]]}
    launcher = RecordingLauncher(fail={BATCH_SOURCES[2]})  # the run of all three fails

    summary = handle_event(event, settings(), launcher)
    response = lambda_response(summary)

    assert launcher.calls == [(BATCH_SOURCES, {})]
    assert summary.started == []
    assert [(f.source_path, f.message_id) for f in summary.failed] == list(
        zip(BATCH_SOURCES, BATCH_IDS, strict=True)
    )
    # the test event and the skipped object's message are done: SQS may delete them
    assert response["batchItemFailures"] == [{"itemIdentifier": m} for m in BATCH_IDS]
    assert [s.reason for s in summary.skipped] == [
        SkipReason.TEST_EVENT,
        SkipReason.SUFFIX_NOT_ALLOWED,
    ]
    assert response["failed"] == [f.model_dump(mode="json") for f in summary.failed]
    assert json.loads(json.dumps(response)) == response


def test_sqs_message_with_several_failed_objects_is_named_once() -> None:
    event = {"Records": [merged_message(0, 1), BATCH["Records"][2]]}
    launcher = RecordingLauncher(fail_all=True)

    summary = handle_event(event, settings(), launcher)
    response = lambda_response(summary)

    assert launcher.calls == [(BATCH_SOURCES, {})]
    assert [f.message_id for f in summary.failed] == [BATCH_IDS[0], BATCH_IDS[0], BATCH_IDS[2]]
    assert response["batchItemFailures"] == [
        {"itemIdentifier": BATCH_IDS[0]},
        {"itemIdentifier": BATCH_IDS[2]},
    ]


def test_duplicate_objects_are_collapsed_first_occurrence_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    launcher = RecordingLauncher()

    summary = handle_event(DUPLICATE, settings(), launcher)

    assert launcher.calls == [([A, B], {})]
    assert [(s.source_path, s.run_id) for s in summary.started] == [(A, "jr_1"), (B, "jr_1")]
    assert summary.skipped == []
    accepted = [line for line in json_lines(caplog) if line["event"] == "trigger.accepted"]
    assert [(line["source_path"], line["duplicate"]) for line in accepted] == [
        (A, False),
        (B, False),
        (A, True),
    ]
    assert lambda_response(summary)["batchItemFailures"] == []


def test_duplicates_are_collapsed_across_buckets_by_bucket_and_key() -> None:
    refs = [
        ref("landing/a.csv"),
        ref("landing/a.csv", bucket="other-landing"),
        ref("landing/b.csv"),
        ref("landing/a.csv", size=5),  # the same key again (another version): collapsed
    ]
    launcher = RecordingLauncher()
    multi = LandingRules(landing_bucket=BUCKET)  # other-landing is skipped by the rules

    summary = handle_objects(refs, multi, launcher)

    assert launcher.calls == [
        (["s3://reviews-landing/landing/a.csv", "s3://reviews-landing/landing/b.csv"], {})
    ]
    assert [s.reason for s in summary.skipped] == [SkipReason.OTHER_BUCKET]


def test_failed_start_of_a_batch_with_a_duplicate_reports_every_message() -> None:
    launcher = RecordingLauncher(fail_all=True)

    summary = handle_event(DUPLICATE, settings(), launcher)
    response = lambda_response(summary)

    assert launcher.calls == [([A, B], {})]
    assert [(f.source_path, f.message_id) for f in summary.failed] == [
        (A, DUPLICATE_IDS[0]),
        (B, DUPLICATE_IDS[1]),
        (A, DUPLICATE_IDS[2]),
    ]
    assert response["batchItemFailures"] == [{"itemIdentifier": m} for m in DUPLICATE_IDS]


def test_lambda_response_of_an_empty_summary() -> None:
    assert lambda_response(TriggerSummary()) == {
        "started": [],
        "skipped": [],
        "failed": [],
        "batchItemFailures": [],
    }
