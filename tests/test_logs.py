"""Log records as CloudWatch receives them from a Lambda with ``LogFormat: JSON``: formatted by
the Lambda runtime's own JSON formatter (awslambdaric, what the managed Python runtimes run),
each library field must come out as a JSON field, not as text inside a string."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from awslambdaric.lambda_runtime_log_utils import JsonFormatter

from reviews_etl.logs import get_logger, log_event
from reviews_etl.trigger import TriggerSettings, handle_event
from tests.support import EVENTS_DIR as EVENTS


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def collected() -> Any:
    logger = get_logger()
    handler = _Collect()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler.records
    logger.removeHandler(handler)
    logger.setLevel(level)


def as_cloudwatch(record: logging.LogRecord, request_id: str = "req-0001") -> dict[str, Any]:
    """One line as Lambda's JSON log format writes it, parsed back."""
    record.aws_request_id = request_id  # set by the runtime's log filter in each invocation
    line = JsonFormatter().format(record)
    assert line.count("\n") == 1  # one event, one line
    parsed: dict[str, Any] = json.loads(line)
    return parsed


def test_a_run_summary_line_has_every_field_queryable(collected) -> None:
    log_event(
        get_logger(),
        "batch_processed",
        run_id="20260101T000000Z-abcd1234",
        source="s3://landing/reviews.csv",
        status="succeeded",
        rows_read=10,
        rows_accepted=9,
        rows_rejected=1,
        rejects_by_reason={"missing_rating": 1},
    )
    line = as_cloudwatch(collected[-1])
    assert line["requestId"] == "req-0001"
    assert line["level"] == "INFO"
    assert line["logger"] == "reviews_etl"
    message = line["message"]
    assert isinstance(message, dict)  # an object, not a string holding JSON
    assert message == {
        "event": "batch_processed",
        "run_id": "20260101T000000Z-abcd1234",
        "source": "s3://landing/reviews.csv",
        "status": "succeeded",
        "rows_read": 10,
        "rows_accepted": 9,
        "rows_rejected": 1,
        "rejects_by_reason": {"missing_rating": 1},
    }


def test_the_triggers_decisions_are_structured_too(collected, monkeypatch) -> None:
    monkeypatch.setenv("GLUE_JOB_NAME", "reviews-etl-job")
    monkeypatch.setenv("LANDING_BUCKET", "reviews-landing")

    class Launcher:
        def start(self, sources: list[str], arguments: dict[str, str]) -> str:
            return "jr_1"

    event = json.loads((EVENTS / "s3_put_multiple_records.json").read_text(encoding="utf-8"))
    handle_event(event, TriggerSettings.from_env(), Launcher())
    lines = [as_cloudwatch(r, "req-42") for r in collected]
    accepted = [m["message"] for m in lines if m["message"]["event"] == "trigger.accepted"]
    assert accepted
    assert all(a["source_path"].startswith("s3://") for a in accepted)
    [started] = [m["message"] for m in lines if m["message"]["event"] == "trigger.started"]
    assert started == {"event": "trigger.started", "run_id": "jr_1", "sources": len(accepted)}
    [summary] = [m["message"] for m in lines if m["message"]["event"] == "trigger.summary"]
    assert summary["started"] == len(accepted)
    assert {line["requestId"] for line in lines} == {"req-42"}


def test_as_text_each_record_is_one_json_line(collected) -> None:
    returned = log_event(get_logger(), "x", logging.WARNING, when="now", n=1)
    text = logging.Formatter("%(message)s").format(collected[-1])
    assert text == returned
    assert json.loads(text) == {"event": "x", "when": "now", "n": 1}
