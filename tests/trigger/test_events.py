"""Parsing of the Lambda events the trigger accepts (no Spark, no AWS)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reviews_etl.trigger.events import decode_key, is_object_created, parse_event
from reviews_etl.trigger.objects import LocalObjectRef, ParsedEvent, S3ObjectRef, SkipReason
from tests.support.trigger import json_lines, load_event


def sqs_envelope(*bodies: str) -> dict[str, Any]:
    """An SQS event whose messages carry the given bodies (as Lambda delivers them)."""
    template = load_event("sqs_s3_notification.json")["Records"][0]
    return {
        "Records": [{**template, "messageId": f"m-{i}", "body": b} for i, b in enumerate(bodies)]
    }


# --- canonical events ---------------------------------------------------------------------


def test_s3_put_key_is_url_decoded() -> None:
    parsed = parse_event(load_event("s3_put_encoded_keys.json"))

    assert parsed.skipped == []
    assert parsed.objects == [
        S3ObjectRef(
            bucket="reviews-landing",
            key="landing/May 2024/reviews + extra café ☕.csv",
            size=2048,
            etag="d41d8cd98f00b204e9800998ecf8427e",
            event_name="ObjectCreated:Put",
            event_time=datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC),
        )
    ]
    assert parsed.objects[0].source_path == (
        "s3://reviews-landing/landing/May 2024/reviews + extra café ☕.csv"
    )


def test_every_record_of_an_event_is_parsed_in_order() -> None:
    parsed = parse_event(load_event("s3_put_multiple_records.json"))

    assert [o.key for o in parsed.objects] == [
        "landing/reviews_2024-05-01.csv",
        "landing/REVIEWS_2024-05-02.CSV",
        "landing/notes.txt",  # the landing rules, not the parser, skip this one
    ]
    assert [o.event_name for o in parsed.objects] == [
        "ObjectCreated:Put",
        "ObjectCreated:CompleteMultipartUpload",
        "ObjectCreated:Copy",
    ]
    assert parsed.objects[1].size == 73400320
    assert parsed.skipped == []


def test_s3_test_event_is_ignored_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    parsed = parse_event(load_event("s3_test_event.json"))

    assert parsed.objects == []
    assert [s.reason for s in parsed.skipped] == [SkipReason.TEST_EVENT]
    assert "reviews-landing" in parsed.skipped[0].detail
    [line] = json_lines(caplog)
    assert line["event"] == "trigger.skipped"
    assert line["reason"] == "test_event"
    assert caplog.records[0].levelno == logging.INFO


def test_sqs_envelope_holding_an_s3_notification() -> None:
    parsed = parse_event(load_event("sqs_s3_notification.json"))

    assert parsed.skipped == []
    assert [o.source_path for o in parsed.objects] == [
        "s3://reviews-landing/landing/May 2024/reviews + extra café ☕.csv"
    ]


def test_sqs_message_id_is_carried_to_the_object() -> None:
    parsed = parse_event(load_event("sqs_s3_notification.json"))

    assert [o.message_id for o in parsed.objects] == ["059f36b4-87a3-44ab-83d2-661970000000"]


def test_sqs_batch_of_three_gives_each_object_its_own_message_id() -> None:
    event = load_event("sqs_s3_batch_three.json")
    parsed = parse_event(event)

    assert parsed.skipped == []
    assert [(o.key, o.size, o.message_id) for o in parsed.objects] == [
        ("landing/batch/reviews_a.csv", 1024, "2e1424d4-f796-459a-8184-9c92662be6d1"),
        ("landing/batch/reviews_b.csv", 2048, "2e1424d4-f796-459a-8184-9c92662be6d2"),
        ("landing/batch/reviews_c.csv", 4096, "2e1424d4-f796-459a-8184-9c92662be6d3"),
    ]
    assert [o.message_id for o in parsed.objects] == [r["messageId"] for r in event["Records"]]


def test_sqs_batch_with_a_redelivered_event_keeps_every_record() -> None:
    """S3 delivers events at least once: the same object may come in two messages. The
    parser keeps both (each message must be answerable); the handler runs the object once."""
    event = load_event("sqs_s3_batch_duplicate.json")
    parsed = parse_event(event)

    assert parsed.skipped == []
    assert [(o.key, o.etag, o.message_id) for o in parsed.objects] == [
        (
            "landing/redelivered/reviews_a.csv",
            "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a",
            "7c1f2a90-3b4d-4e5f-8a6b-7c8d9e0f1a21",
        ),
        (
            "landing/redelivered/reviews_b.csv",
            "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
            "7c1f2a90-3b4d-4e5f-8a6b-7c8d9e0f1a22",
        ),
        (
            "landing/redelivered/reviews_a.csv",
            "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a",
            "7c1f2a90-3b4d-4e5f-8a6b-7c8d9e0f1a23",
        ),
    ]


def test_a_large_sqs_batch_keeps_the_event_order() -> None:
    keys = [f"landing/backfill/{i:03d}.csv" for i in range(99, -1, -1)]
    template = load_event("s3_put_encoded_keys.json")["Records"][0]

    def body(key: str) -> str:
        record = {**template, "s3": {**template["s3"], "object": {"key": key, "size": 10}}}
        return json.dumps({"Records": [record]})

    event = sqs_envelope(*(body(key) for key in keys))
    parsed = parse_event(event)

    assert parsed.skipped == []
    assert [o.key for o in parsed.objects] == keys
    assert [o.message_id for o in parsed.objects] == [f"m-{i}" for i in range(100)]


@pytest.mark.parametrize(
    "name",
    [
        "s3_put_encoded_keys.json",
        "s3_put_multiple_records.json",
        "eventbridge_object_created.json",
        "s3_malformed_mixed.json",
    ],
)
def test_objects_of_direct_invocations_have_no_message_id(name: str) -> None:
    parsed = parse_event(load_event(name))

    assert parsed.objects
    assert {o.message_id for o in parsed.objects} == {None}


def test_every_object_of_one_sqs_message_shares_its_message_id() -> None:
    good = json.dumps({"Records": [s3_record("landing/a.csv"), s3_record("landing/b.csv")]})
    eventbridge = json.dumps(load_event("eventbridge_object_created.json"))
    parsed = parse_event(sqs_envelope(good, eventbridge))

    assert [(o.key, o.message_id) for o in parsed.objects] == [
        ("landing/a.csv", "m-0"),
        ("landing/b.csv", "m-0"),
        ("landing/eventbridge drop/café reviews.csv", "m-1"),
    ]


def test_sqs_message_without_message_id_gives_none() -> None:
    event = load_event("sqs_s3_notification.json")
    del event["Records"][0]["messageId"]

    [obj] = parse_event(event).objects
    assert obj.message_id is None


def test_nested_sqs_envelopes_keep_the_outermost_message_id() -> None:
    """Only the messageId Lambda delivered can be named in a partial batch response."""
    inner = sqs_envelope(json.dumps({"Records": [s3_record("landing/nested.csv")]}))
    inner["Records"][0]["messageId"] = "inner-id"
    outer = sqs_envelope(json.dumps(inner))
    outer["Records"][0]["messageId"] = "outer-id"

    [obj] = parse_event(outer).objects
    assert (obj.key, obj.message_id) == ("landing/nested.csv", "outer-id")


def test_sqs_envelope_holding_a_test_event() -> None:
    parsed = parse_event(load_event("sqs_s3_test_event.json"))

    assert parsed.objects == []
    [skip] = parsed.skipped
    assert skip.reason == SkipReason.TEST_EVENT
    assert skip.location == "Records[0].body"


def test_eventbridge_object_created() -> None:
    parsed = parse_event(load_event("eventbridge_object_created.json"))

    assert parsed.skipped == []
    assert parsed.objects == [
        S3ObjectRef(
            bucket="reviews-landing",
            key="landing/eventbridge drop/café reviews.csv",
            size=4096,
            etag="b1946ac92492d2347c6235b4d2611184",
            event_name="Object Created",
            event_time=datetime(2024, 5, 1, 14, 0, tzinfo=UTC),
        )
    ]


def test_object_removed_is_skipped_with_a_reason() -> None:
    parsed = parse_event(load_event("s3_object_removed.json"))

    assert parsed.objects == []
    [skip] = parsed.skipped
    assert skip.reason == SkipReason.NOT_OBJECT_CREATED
    assert "ObjectRemoved:Delete" in skip.detail
    assert skip.location == "Records[0]"


def test_malformed_record_is_logged_and_skipped_without_losing_the_good_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    parsed = parse_event(load_event("s3_malformed_mixed.json"))

    assert [o.key for o in parsed.objects] == ["landing/good.csv"]
    [skip] = parsed.skipped
    assert skip.reason == SkipReason.MALFORMED_RECORD
    assert skip.location == "Records[0]"
    assert "s3.object.key" in skip.detail
    [line] = json_lines(caplog)
    assert line == {
        "event": "trigger.skipped",
        "reason": "malformed_record",
        "detail": skip.detail,
        "location": "Records[0]",
    }
    assert caplog.records[0].levelno == logging.WARNING


# --- key decoding and event names ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("landing/plain.csv", "landing/plain.csv"),
        ("landing/with+space.csv", "landing/with space.csv"),
        ("landing/a%2Bb.csv", "landing/a+b.csv"),
        ("landing/caf%C3%A9.csv", "landing/café.csv"),
        ("landing/100%25.csv", "landing/100%.csv"),
        ("landing/%E6%97%A5%E6%9C%AC.csv", "landing/日本.csv"),
    ],
)
def test_decode_key(raw: str, decoded: str) -> None:
    assert decode_key(raw) == decoded


def test_decode_key_rejects_invalid_utf8() -> None:
    with pytest.raises(UnicodeDecodeError):
        decode_key("landing/%FF.csv")


@pytest.mark.parametrize(
    ("name", "created"),
    [
        ("ObjectCreated:Put", True),
        ("ObjectCreated:Post", True),
        ("ObjectCreated:Copy", True),
        ("ObjectCreated:CompleteMultipartUpload", True),
        ("s3:ObjectCreated:Put", True),
        ("ObjectRemoved:Delete", False),
        ("ObjectRemoved:DeleteMarkerCreated", False),
        ("ObjectRestore:Completed", False),
        ("LifecycleExpiration:Delete", False),
    ],
)
def test_is_object_created(name: str, created: bool) -> None:
    assert is_object_created(name) is created


# --- odd input: skipped, never raised -----------------------------------------------------


def s3_record(key: str, event_name: str = "ObjectCreated:Put") -> dict[str, Any]:
    record: dict[str, Any] = load_event("s3_put_multiple_records.json")["Records"][0]
    record["eventName"] = event_name
    record["s3"]["object"]["key"] = key
    return record


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (None, SkipReason.UNRECOGNISED_EVENT),
        ([], SkipReason.UNRECOGNISED_EVENT),
        ("Records", SkipReason.UNRECOGNISED_EVENT),
        ({}, SkipReason.UNRECOGNISED_EVENT),
        ({"hello": "world"}, SkipReason.UNRECOGNISED_EVENT),
        ({"Records": "nope"}, SkipReason.MALFORMED_RECORD),
        ({"Records": [42]}, SkipReason.MALFORMED_RECORD),
        ({"Records": [{"eventSource": "aws:dynamodb"}]}, SkipReason.MALFORMED_RECORD),
        (
            {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]},
            SkipReason.MALFORMED_RECORD,
        ),
    ],
)
def test_unusable_events_are_skipped(event: Any, reason: SkipReason) -> None:
    parsed = parse_event(event)

    assert parsed.objects == []
    assert [s.reason for s in parsed.skipped] == [reason]


def test_records_with_bad_keys_are_skipped_individually() -> None:
    event = {
        "Records": [
            s3_record("landing/%FF.csv"),
            s3_record("landing/ok.csv"),
            {**s3_record("x"), "s3": {**s3_record("x")["s3"], "object": {"key": 7}}},
        ]
    }
    parsed = parse_event(event)

    assert [o.key for o in parsed.objects] == ["landing/ok.csv"]
    assert [(s.reason, s.location) for s in parsed.skipped] == [
        (SkipReason.MALFORMED_RECORD, "Records[0]"),
        (SkipReason.MALFORMED_RECORD, "Records[2]"),
    ]
    assert "UTF-8" in parsed.skipped[0].detail


def test_sqs_batch_mixing_good_bad_and_test_messages() -> None:
    good = json.dumps({"Records": [s3_record("landing/a.csv"), s3_record("landing/b.csv")]})
    test_event = json.dumps(load_event("s3_test_event.json"))
    eventbridge = json.dumps(load_event("eventbridge_object_created.json"))
    parsed = parse_event(sqs_envelope(good, "{not json", test_event, eventbridge))

    assert [o.key for o in parsed.objects] == [
        "landing/a.csv",
        "landing/b.csv",
        "landing/eventbridge drop/café reviews.csv",
    ]
    assert [(s.reason, s.location) for s in parsed.skipped] == [
        (SkipReason.MALFORMED_RECORD, "Records[1]"),
        (SkipReason.TEST_EVENT, "Records[2].body"),
    ]


def test_sqs_message_without_text_body_is_malformed() -> None:
    event = sqs_envelope("{}")
    event["Records"][0]["body"] = None
    parsed = parse_event(event)

    assert [s.reason for s in parsed.skipped] == [SkipReason.MALFORMED_RECORD]


def test_eventbridge_other_detail_types_and_sources() -> None:
    deleted = {**load_event("eventbridge_object_created.json"), "detail-type": "Object Deleted"}
    other_source = {**load_event("eventbridge_object_created.json"), "source": "aws.ec2"}
    broken = load_event("eventbridge_object_created.json")
    del broken["detail"]["object"]["key"]

    assert [s.reason for s in parse_event(deleted).skipped] == [SkipReason.NOT_OBJECT_CREATED]
    assert [s.reason for s in parse_event(other_source).skipped] == [SkipReason.UNRECOGNISED_EVENT]
    broken_parsed = parse_event(broken)
    assert [s.reason for s in broken_parsed.skipped] == [SkipReason.MALFORMED_RECORD]
    assert "detail.object.key" in broken_parsed.skipped[0].detail


def test_nesting_is_bounded() -> None:
    body: str = json.dumps(load_event("s3_put_multiple_records.json"))
    for _ in range(5):
        body = json.dumps(sqs_envelope(body))
    parsed = parse_event(sqs_envelope(body))

    assert parsed.objects == []
    assert [s.reason for s in parsed.skipped] == [SkipReason.MALFORMED_RECORD]


def test_parsed_event_serialises_to_json() -> None:
    parsed = parse_event(load_event("s3_malformed_mixed.json"))
    dumped = parsed.model_dump(mode="json")

    assert dumped["objects"][0]["event_time"] == "2024-05-01T12:30:01Z"
    assert dumped["skipped"][0]["reason"] == "malformed_record"
    assert ParsedEvent.model_validate(dumped) == parsed


# --- local objects ------------------------------------------------------------------------


def test_local_object_ref_from_path(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    (landing / "2024 May").mkdir(parents=True)
    csv = landing / "2024 May" / "reviews.csv"
    csv.write_text("review_id\n", encoding="utf-8")

    ref = LocalObjectRef.from_path(landing, csv)

    assert ref.bucket == str(landing.resolve())
    assert ref.key == "2024 May/reviews.csv"
    assert ref.size == len("review_id\n")
    assert ref.source_path == str(csv.resolve())


def test_local_object_ref_for_a_directory_and_a_missing_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()

    assert LocalObjectRef.from_path(tmp_path, tmp_path / "sub").key == "sub/"
    assert LocalObjectRef.from_path(tmp_path, tmp_path / "gone.csv").size is None


def test_local_object_ref_outside_the_root(tmp_path: Path) -> None:
    (tmp_path / "landing").mkdir()
    with pytest.raises(ValueError, match="landing"):
        LocalObjectRef.from_path(tmp_path / "landing", tmp_path / "elsewhere.csv")
