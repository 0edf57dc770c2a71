"""The trigger: landing rules, settings from the environment, Glue launcher, handling."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from reviews_etl.errors import ConfigError, ReviewsEtlError
from reviews_etl.events import LocalObjectRef, S3ObjectRef, SkipReason
from reviews_etl.trigger import (
    RETRYABLE_ERROR_CODES,
    Decision,
    GlueJobLauncher,
    JobStartError,
    JobStartRetriesExhaustedError,
    LandingRules,
    TriggerSettings,
    decide,
    handle_event,
    handle_objects,
)

EVENTS = Path(__file__).parent / "events"
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


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region so no test can reach a real account."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def settings(**overrides: Any) -> TriggerSettings:
    values: dict[str, Any] = {
        "glue_job_name": JOB,
        "landing_bucket": BUCKET,
        "landing_prefix": "landing/",
        **overrides,
    }
    return TriggerSettings(**values)


def ref(key: str, bucket: str = BUCKET, size: int | None = 100) -> S3ObjectRef:
    return S3ObjectRef(bucket=bucket, key=key, size=size)


class RecordingLauncher:
    """A JobLauncher that records its calls and returns run ids jr_1, jr_2, ..."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []

    def start(self, source_path: str, arguments: dict[str, str]) -> str:
        self.calls.append((source_path, arguments))
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
        (ref("landing/a.csv.gz"), SkipReason.SUFFIX_NOT_ALLOWED),
        (ref("landing/a.csv.tmp"), SkipReason.SUFFIX_NOT_ALLOWED),
        (ref("landing/a.csv", size=0), SkipReason.EMPTY_OBJECT),
        (ref("elsewhere/a.txt", bucket="other-bucket", size=0), SkipReason.OTHER_BUCKET),
    ],
)
def test_decide(object_ref: S3ObjectRef, reason: SkipReason | None) -> None:
    decision = decide(object_ref, settings())

    assert decision.start is (reason is None)
    assert decision.reason == reason
    if reason is not None:
        assert object_ref.key in decision.detail or object_ref.bucket in decision.detail


def test_decide_without_prefix_and_with_several_suffixes() -> None:
    rules = LandingRules(landing_bucket=BUCKET, allowed_suffixes="CSV, .tsv,.csv.gz")

    assert rules.allowed_suffixes == (".csv", ".tsv", ".csv.gz")
    assert decide(ref("top.csv"), rules).start
    assert decide(ref("deep/x.TSV"), rules).start
    assert decide(ref("a.CSV.GZ"), rules).start
    assert decide(ref("a.json"), rules).reason == SkipReason.SUFFIX_NOT_ALLOWED


def test_prefix_is_a_plain_string_prefix_as_in_s3_filters() -> None:
    rules = LandingRules(landing_bucket=BUCKET, landing_prefix="landing")

    assert decide(ref("landing-old/a.csv"), rules).start
    assert not decide(ref("landing-old/a.csv"), settings()).start


def test_decide_works_for_local_files(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    good = tmp_path / "in" / "reviews.csv"
    good.write_text("review_id,product_id\n", encoding="utf-8")
    empty = tmp_path / "in" / "empty.csv"
    empty.touch()
    rules = LandingRules(landing_bucket=str(tmp_path.resolve()), landing_prefix="in/")

    assert decide(LocalObjectRef.from_path(tmp_path, good), rules).start
    assert decide(LocalObjectRef.from_path(tmp_path, empty), rules).reason == (
        SkipReason.EMPTY_OBJECT
    )
    assert decide(LocalObjectRef.from_path(tmp_path, tmp_path / "in"), rules).reason == (
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

MINIMAL_ENV = {"GLUE_JOB_NAME": JOB, "LANDING_BUCKET": BUCKET}


def test_settings_defaults() -> None:
    loaded = TriggerSettings.from_env(MINIMAL_ENV)

    assert loaded.glue_job_name == JOB
    assert loaded.landing_bucket == BUCKET
    assert loaded.landing_prefix == ""
    assert loaded.allowed_suffixes == (".csv",)
    assert loaded.output_path is None
    assert loaded.job_arguments() == {}
    assert (loaded.max_start_attempts, loaded.retry_base_delay, loaded.retry_max_delay) == (
        5,
        1.0,
        20.0,
    )
    assert loaded.log_level == "INFO"


def test_settings_all_variables() -> None:
    loaded = TriggerSettings.from_env(
        {
            **MINIMAL_ENV,
            "LANDING_PREFIX": "landing/",
            "ALLOWED_SUFFIXES": " .CSV , txt ",
            "OUTPUT_PATH": "s3://reviews-processed/",
            "MAX_START_ATTEMPTS": "3",
            "RETRY_BASE_DELAY_SECONDS": "0.5",
            "RETRY_MAX_DELAY_SECONDS": "4",
            "LOG_LEVEL": "debug",
            "UNRELATED": "ignored",
        }
    )

    assert loaded.landing_prefix == "landing/"
    assert loaded.allowed_suffixes == (".csv", ".txt")
    assert loaded.output_path == "s3://reviews-processed"
    assert loaded.job_arguments() == {"output_path": "s3://reviews-processed"}
    assert (loaded.max_start_attempts, loaded.retry_base_delay, loaded.retry_max_delay) == (
        3,
        0.5,
        4.0,
    )
    assert loaded.log_level == "DEBUG"


def test_settings_read_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLUE_JOB_NAME", "from-os-environ")
    monkeypatch.setenv("LANDING_BUCKET", BUCKET)

    assert TriggerSettings.from_env().glue_job_name == "from-os-environ"


def test_blank_variables_count_as_unset() -> None:
    loaded = TriggerSettings.from_env({**MINIMAL_ENV, "ALLOWED_SUFFIXES": " ", "OUTPUT_PATH": ""})

    assert loaded.allowed_suffixes == (".csv",)
    assert loaded.output_path is None


def test_missing_required_variables_are_named() -> None:
    with pytest.raises(ConfigError) as info:
        TriggerSettings.from_env({"LANDING_BUCKET": "  "})

    message = str(info.value)
    assert "GLUE_JOB_NAME is required but not set" in message
    assert "LANDING_BUCKET is required but not set" in message
    assert isinstance(info.value, ReviewsEtlError)


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("LANDING_BUCKET", "s3://reviews-landing", "bare bucket name"),
        ("LANDING_BUCKET", "Reviews_Landing", "not a valid S3 bucket name"),
        ("LANDING_BUCKET", "ab", "not a valid S3 bucket name"),
        ("LANDING_PREFIX", "/landing/", "must not start with '/'"),
        ("ALLOWED_SUFFIXES", ",, ,", "at least one suffix"),
        ("OUTPUT_PATH", "reviews-processed/out", "must be a URI"),
        ("MAX_START_ATTEMPTS", "zero", "valid integer"),
        ("MAX_START_ATTEMPTS", "0", "greater than or equal to 1"),
        ("RETRY_BASE_DELAY_SECONDS", "-1", "greater than or equal to 0"),
        ("RETRY_MAX_DELAY_SECONDS", "1e9", "less than or equal to 300"),
        ("LOG_LEVEL", "chatty", "'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
        ("GLUE_JOB_NAME", "x" * 256, "at most 255 characters"),
    ],
)
def test_invalid_variables_are_named(variable: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        TriggerSettings.from_env({**MINIMAL_ENV, variable: value})

    message = str(info.value)
    assert message.startswith("invalid trigger settings: ")
    assert f"{variable}=" in message
    assert fragment in message


def test_base_delay_above_max_delay_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"RETRY_BASE_DELAY_SECONDS .* must not exceed"):
        TriggerSettings.from_env(
            {**MINIMAL_ENV, "RETRY_BASE_DELAY_SECONDS": "10", "RETRY_MAX_DELAY_SECONDS": "2"}
        )


# --- GlueJobLauncher: moto happy path -----------------------------------------------------


@pytest.fixture
def moto_glue(aws_env: None) -> Iterator[Any]:
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
        )
        yield glue


def test_glue_launcher_starts_a_run_with_the_source_path(moto_glue: Any) -> None:
    launcher = GlueJobLauncher(moto_glue, JOB)
    source = "s3://reviews-landing/landing/May 2024/reviews + extra café.csv"

    run_id = launcher.start(source, {"output_path": "s3://reviews-processed"})

    run = moto_glue.get_job_run(JobName=JOB, RunId=run_id)["JobRun"]
    assert run["Arguments"] == {
        "--source_path": source,
        "--output_path": "s3://reviews-processed",
    }
    assert [r["Id"] for r in moto_glue.get_job_runs(JobName=JOB)["JobRuns"]] == [run_id]


def test_handle_event_starts_one_run_per_accepted_object_with_moto(moto_glue: Any) -> None:
    launcher = GlueJobLauncher.from_settings(moto_glue, settings())

    summary = handle_event(load_event("s3_put_multiple_records.json"), settings(), launcher)

    assert [s.source_path for s in summary.started] == [
        "s3://reviews-landing/landing/reviews_2024-05-01.csv",
        "s3://reviews-landing/landing/REVIEWS_2024-05-02.CSV",
    ]
    assert [s.reason for s in summary.skipped] == [SkipReason.SUFFIX_NOT_ALLOWED]
    runs = moto_glue.get_job_runs(JobName=JOB)["JobRuns"]
    assert sorted(r["Arguments"]["--source_path"] for r in runs) == sorted(
        s.source_path for s in summary.started
    )
    assert {r["Id"] for r in runs} == {s.run_id for s in summary.started}


def test_unknown_job_is_not_retried(moto_glue: Any) -> None:
    sleeps: list[float] = []
    launcher = GlueJobLauncher(moto_glue, "no-such-job", sleep=sleeps.append)

    with pytest.raises(JobStartError) as info:
        launcher.start("s3://b/k.csv", {})

    assert not isinstance(info.value, JobStartRetriesExhaustedError)
    assert info.value.error_code == "EntityNotFoundException"
    assert info.value.attempts == 1
    assert sleeps == []


# --- GlueJobLauncher: retries with a Stubber ----------------------------------------------


@pytest.fixture
def stubbed_glue(aws_env: None) -> Iterator[tuple[Any, Stubber]]:
    glue = boto3.client("glue", region_name=REGION)
    with Stubber(glue) as stubber:
        yield glue, stubber
        stubber.assert_no_pending_responses()


def expected(source: str, **extra: str) -> dict[str, Any]:
    return {"JobName": JOB, "Arguments": {**extra, "--source_path": source}}


def add_error(stubber: Stubber, code: str, params: dict[str, Any]) -> None:
    stubber.add_client_error(
        "start_job_run",
        service_error_code=code,
        service_message=f"simulated {code}",
        http_status_code=400,
        expected_params=params,
    )


def test_retries_concurrent_runs_exceeded_then_succeeds(
    stubbed_glue: tuple[Any, Stubber], caplog: pytest.LogCaptureFixture
) -> None:
    glue, stubber = stubbed_glue
    params = expected("s3://reviews-landing/landing/a.csv", **{"--output_path": "s3://out"})
    add_error(stubber, "ConcurrentRunsExceededException", params)
    add_error(stubber, "ConcurrentRunsExceededException", params)
    stubber.add_response("start_job_run", {"JobRunId": "jr_third_time"}, params)
    sleeps: list[float] = []
    draws = iter([0.5, 0.25])
    launcher = GlueJobLauncher(
        glue, JOB, 5, 2.0, 30.0, sleep=sleeps.append, rng=lambda: next(draws)
    )

    run_id = launcher.start("s3://reviews-landing/landing/a.csv", {"output_path": "s3://out"})

    assert run_id == "jr_third_time"
    # full jitter: rng() * min(max_delay, base * 2 ** (attempt - 1)) -> 0.5 * 2, 0.25 * 4
    assert sleeps == [1.0, 1.0]
    retries = [line for line in json_lines(caplog) if line["event"] == "trigger.retry"]
    assert [(r["attempt"], r["delay_seconds"], r["error_code"]) for r in retries] == [
        (1, 1.0, "ConcurrentRunsExceededException"),
        (2, 1.0, "ConcurrentRunsExceededException"),
    ]
    assert retries[0]["job_name"] == JOB
    assert retries[0]["max_attempts"] == 5


@pytest.mark.parametrize("code", sorted(RETRYABLE_ERROR_CODES))
def test_every_retryable_code_is_retried(stubbed_glue: tuple[Any, Stubber], code: str) -> None:
    glue, stubber = stubbed_glue
    add_error(stubber, code, expected("s3://b/k.csv"))
    stubber.add_response("start_job_run", {"JobRunId": "jr_ok"}, expected("s3://b/k.csv"))
    sleeps: list[float] = []

    assert GlueJobLauncher(glue, JOB, sleep=sleeps.append).start("s3://b/k.csv", {}) == "jr_ok"
    assert len(sleeps) == 1


def test_gives_up_after_max_attempts_with_bounded_sleeps(
    stubbed_glue: tuple[Any, Stubber], caplog: pytest.LogCaptureFixture
) -> None:
    glue, stubber = stubbed_glue
    for _ in range(6):
        add_error(stubber, "ThrottlingException", expected("s3://b/k.csv"))
    sleeps: list[float] = []
    launcher = GlueJobLauncher(glue, JOB, 6, 1.0, 5.0, sleep=sleeps.append, rng=lambda: 1.0)

    with pytest.raises(JobStartRetriesExhaustedError) as info:
        launcher.start("s3://b/k.csv", {})

    # caps 1, 2, 4, then bounded by max_delay=5; no sleep after the last attempt
    assert sleeps == [1.0, 2.0, 4.0, 5.0, 5.0]
    error = info.value
    assert isinstance(error, ReviewsEtlError)
    assert (error.attempts, error.error_code, error.source_path) == (
        6,
        "ThrottlingException",
        "s3://b/k.csv",
    )
    assert "after 6 attempt(s)" in str(error)
    assert isinstance(error.__cause__, Exception)
    [gave_up] = [line for line in json_lines(caplog) if line["event"] == "trigger.gave_up"]
    assert gave_up["attempts"] == 6
    assert caplog.records[-1].levelno == logging.ERROR


def test_jitter_stays_within_the_cap(stubbed_glue: tuple[Any, Stubber]) -> None:
    glue, _ = stubbed_glue
    launcher = GlueJobLauncher(glue, JOB, 10, 0.5, 3.0)

    for attempt in range(1, 11):
        cap = min(3.0, 0.5 * 2 ** (attempt - 1))
        delays = [launcher.backoff_delay(attempt) for _ in range(50)]
        assert all(0.0 <= d <= cap for d in delays)
    assert len({launcher.backoff_delay(5) for _ in range(20)}) > 1  # jittered


def test_non_retryable_error_raises_at_once(
    stubbed_glue: tuple[Any, Stubber], caplog: pytest.LogCaptureFixture
) -> None:
    glue, stubber = stubbed_glue
    add_error(stubber, "AccessDeniedException", expected("s3://b/k.csv"))
    sleeps: list[float] = []

    with pytest.raises(JobStartError, match="AccessDeniedException") as info:
        GlueJobLauncher(glue, JOB, sleep=sleeps.append).start("s3://b/k.csv", {})

    assert not isinstance(info.value, JobStartRetriesExhaustedError)
    assert sleeps == []
    assert [line["event"] for line in json_lines(caplog)] == ["trigger.failed"]


def test_launcher_refuses_bad_budgets_and_argument_names(
    stubbed_glue: tuple[Any, Stubber],
) -> None:
    glue, _ = stubbed_glue
    with pytest.raises(ConfigError):
        GlueJobLauncher(glue, JOB, max_attempts=0)
    with pytest.raises(ConfigError):
        GlueJobLauncher(glue, JOB, base_delay=-1.0)
    with pytest.raises(ValueError, match="argument name"):
        GlueJobLauncher(glue, JOB).start("s3://b/k.csv", {"bad name": "x"})


def test_from_settings_uses_the_budget() -> None:
    launcher = GlueJobLauncher.from_settings(
        object(),  # type: ignore[arg-type]
        settings(max_start_attempts=2, retry_base_delay=0.1, retry_max_delay=0.3),
    )

    assert (launcher.job_name, launcher.max_attempts) == (JOB, 2)
    assert (launcher.base_delay, launcher.max_delay) == (0.1, 0.3)


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
    assert [s.run_id for s in summary.started] == [f"jr_{i}" for i in range(1, len(started) + 1)]
    assert [s.reason for s in summary.skipped] == reasons
    assert launcher.calls == [(path, {}) for path in started]


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
        "trigger.started",
        "trigger.started",
        "trigger.skipped",  # notes.txt, by the landing rules
        "trigger.summary",
    ]
    assert lines[1] == {
        "event": "trigger.started",
        "run_id": "jr_1",
        "source_path": "s3://reviews-landing/landing/reviews_2024-05-01.csv",
        "bucket": BUCKET,
        "key": "landing/reviews_2024-05-01.csv",
        "size": 1024,
    }
    assert lines[3]["reason"] == "suffix_not_allowed"
    assert lines[3]["source_path"] == "s3://reviews-landing/landing/notes.txt"
    assert lines[4] == {
        "event": "trigger.summary",
        "started": 2,
        "skipped": 2,
        "skip_reasons": {"not_object_created": 1, "suffix_not_allowed": 1},
    }
    assert launcher.calls[0][1] == {"output_path": "s3://reviews-processed"}
    dumped = summary.model_dump(mode="json")
    assert json.loads(json.dumps(dumped)) == dumped


def test_other_bucket_and_prefix_are_skipped_not_errors() -> None:
    config = settings(landing_bucket="another-bucket")

    summary = handle_event(load_event("s3_put_multiple_records.json"), config, RecordingLauncher())

    assert summary.started == []
    assert {s.reason for s in summary.skipped} == {SkipReason.OTHER_BUCKET}


def test_a_failing_start_propagates_so_lambda_retries_the_event() -> None:
    class FailingSecond(RecordingLauncher):
        def start(self, source_path: str, arguments: dict[str, str]) -> str:
            if self.calls:
                raise JobStartRetriesExhaustedError(JOB, source_path, "Throttling", 5, "slow")
            return super().start(source_path, arguments)

    launcher = FailingSecond()
    with pytest.raises(JobStartRetriesExhaustedError):
        handle_event(load_event("s3_put_multiple_records.json"), settings(), launcher)
    assert len(launcher.calls) == 1


def test_handle_objects_for_a_local_watcher(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "reviews.csv").write_text("review_id\n1\n", encoding="utf-8")
    (landing / "readme.md").write_text("hi", encoding="utf-8")
    rules = LandingRules(landing_bucket=str(landing.resolve()))
    launcher = RecordingLauncher()
    refs = [
        LocalObjectRef.from_path(landing, landing / name) for name in ("reviews.csv", "readme.md")
    ]

    summary = handle_objects(refs, rules, launcher, {"output_path": str(tmp_path / "out")})

    assert launcher.calls == [
        (str((landing / "reviews.csv").resolve()), {"output_path": str(tmp_path / "out")})
    ]
    assert [s.key for s in summary.started] == ["reviews.csv"]
    assert [s.reason for s in summary.skipped] == [SkipReason.SUFFIX_NOT_ALLOWED]
