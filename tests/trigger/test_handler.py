"""Handling events with several objects (``handle_event``, ``handle_objects``, with a
recording launcher): one run per invocation; a failed start fails every accepted object."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from reviews_etl.errors import JobStartError
from reviews_etl.trigger import (
    FailedStart,
    LandingRules,
    LocalObjectRef,
    SkipReason,
    StartedRun,
    TriggerSummary,
    handle_event,
    handle_objects,
    lambda_response,
)
from reviews_etl.trigger.launcher import CONCURRENT_RUNS_EXCEEDED, describe_sources
from tests.support.trigger import (
    BUCKET,
    JOB,
    RecordingLauncher,
    json_lines,
    load_event,
    ref,
    settings,
)

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
