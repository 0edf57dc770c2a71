"""``reviews-etl replay-failures`` (reviews_etl.deploy.replay) against moto, in process.

moto provides CloudFormation (the stack's outputs), SQS (the landing queue with its redrive
policy, and the failure queue) and Lambda (the function; ``use_docker: False`` accepts
asynchronous invokes without running them). The failure queue's messages are the landing
queue's dead letters (the S3 event body as sent) or, from stacks before the landing queue,
Lambda destination records. The Lambda client is a real boto3 client on moto whose Invoke
calls are recorded, so the tests see the exact payloads; a botocore Stubber stands in for a
failing invoke.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from reviews_etl import cli
from reviews_etl.deploy.replay import failed_event, original_event, replay_failures, replay_queue
from reviews_etl.errors import DeployError

REGION = "eu-west-1"
STACK = "demo"
FUNCTION = "demo-trigger"
QUEUE = "demo-trigger-failures"
LANDING_QUEUE = "demo-landing-events"
OLD_STACK = "old"  # a stack from before the landing queue: Lambda destination records
OLD_QUEUE = "old-trigger-failures"
MAX_RECEIVES = 2

# The parts of infra/template.yaml replay-failures uses: the landing queue whose redrive
# policy sends dead letters to the failure queue, and the outputs.
STACK_TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {
        "TriggerFailureQueue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": QUEUE}},
        "LandingQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": LANDING_QUEUE,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["TriggerFailureQueue", "Arn"]},
                    "maxReceiveCount": MAX_RECEIVES,
                },
            },
        },
    },
    "Outputs": {
        "LandingQueueUrl": {"Value": {"Ref": "LandingQueue"}},
        "FailureQueueUrl": {"Value": {"Ref": "TriggerFailureQueue"}},
        "TriggerFunctionName": {"Value": FUNCTION},
    },
}
OLD_STACK_TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {
        "TriggerFailureQueue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": OLD_QUEUE}}
    },
    "Outputs": {
        "FailureQueueUrl": {"Value": {"Ref": "TriggerFailureQueue"}},
        "TriggerFunctionName": {"Value": FUNCTION},
    },
}


def s3_event(key: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "awsRegion": REGION,
                "s3": {"bucket": {"name": "demo-landing"}, "object": {"key": key, "size": 10}},
            }
        ]
    }


def s3_body(key: str) -> str:
    """An S3 notification message body as S3 writes it (compact JSON, not sorted)."""
    return json.dumps(s3_event(key), separators=(",", ":"))


def destination_record(payload: dict[str, Any]) -> str:
    """The body Lambda's on-failure destination sends to SQS (an invocation record)."""
    return json.dumps(
        {
            "version": "1.0",
            "timestamp": "2025-11-25T20:16:46.000Z",
            "requestContext": {
                "requestId": "c9ad5b2a-0000-4000-8000-000000000001",
                "functionArn": f"arn:aws:lambda:{REGION}:123456789012:function:{FUNCTION}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 1,
            },
            "requestPayload": payload,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {"errorType": "JobStartError", "errorMessage": "throttled"},
        }
    )


@dataclass(frozen=True)
class Queues:
    failure: str
    landing: str
    old_failure: str  # the failure queue of OLD_STACK


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Queues]:
    """moto with fake credentials, the function, a stack with the landing and failure
    queues, and an old stack with only a failure queue."""
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws(config={"lambda": {"use_docker": False}}):
        role = boto3.client("iam", region_name=REGION).create_role(
            RoleName="trigger",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("lambda_handler.py", "def handler(event, context):\n    return {}\n")
        boto3.client("lambda", region_name=REGION).create_function(
            FunctionName=FUNCTION,
            Runtime="python3.11",
            Role=role,
            Handler="lambda_handler.handler",
            Code={"ZipFile": code.getvalue()},
        )
        cfn = boto3.client("cloudformation", region_name=REGION)
        cfn.create_stack(StackName=STACK, TemplateBody=json.dumps(STACK_TEMPLATE))
        cfn.create_stack(StackName=OLD_STACK, TemplateBody=json.dumps(OLD_STACK_TEMPLATE))
        sqs = boto3.client("sqs", region_name=REGION)
        yield Queues(
            failure=sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"],
            landing=sqs.get_queue_url(QueueName=LANDING_QUEUE)["QueueUrl"],
            old_failure=sqs.get_queue_url(QueueName=OLD_QUEUE)["QueueUrl"],
        )


def send(queue_url: str, *bodies: str) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    for body in bodies:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)


def messages_in(queue_url: str) -> int:
    """Visible plus in-flight (received, not deleted) messages."""
    attributes = boto3.client("sqs", region_name=REGION).get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def bodies_in(queue_url: str) -> list[str]:
    """Receive (and delete) every message of ``queue_url``; their bodies in order."""
    sqs = boto3.client("sqs", region_name=REGION)
    bodies: list[str] = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def dead_letter(queues: Queues, *bodies: str) -> None:
    """Send ``bodies`` to the landing queue and receive them MAX_RECEIVES times without
    deleting them, so that SQS's redrive policy moves them to the failure queue (as when
    the trigger reports them as batch item failures)."""
    sqs = boto3.client("sqs", region_name=REGION)
    send(queues.landing, *bodies)
    for _ in range(MAX_RECEIVES + 1):
        sqs.receive_message(QueueUrl=queues.landing, MaxNumberOfMessages=10, VisibilityTimeout=0)
    assert messages_in(queues.landing) == 0
    assert messages_in(queues.failure) == len(bodies)


def recording_lambda_client() -> tuple[Any, list[dict[str, Any]]]:
    client = boto3.client("lambda", region_name=REGION)
    calls: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(dict(params))

    client.meta.events.register("provide-client-params.lambda.Invoke", record)
    return client, calls


def test_moves_dead_letters_back_to_the_landing_queue(aws: Queues) -> None:
    first, second = s3_body("incoming/a.csv"), s3_body("incoming/b, c.CSV.GZ")
    dead_letter(aws, first, "not json at all", second)
    client, calls = recording_lambda_client()
    out = io.StringIO()

    result = replay_failures(STACK, region=REGION, lambda_client=client, wait_seconds=0, out=out)

    assert calls == []  # nothing is invoked: the trigger reads the landing queue
    assert result.queue_url == aws.failure
    assert result.landing_queue_url == aws.landing
    assert result.replayed == 2
    assert result.payloads == [json.loads(first), json.loads(second)]
    assert [left.reason.split(" (")[0] for left in result.left] == ["not JSON"]
    assert messages_in(aws.failure) == 1  # the garbage stays; both events were deleted
    # The bodies go back exactly as S3 sent them.
    assert sorted(bodies_in(aws.landing)) == sorted([first, second])
    lines = out.getvalue().splitlines()
    assert sum(line.startswith("left message ") for line in lines) == 1
    assert sum(line.endswith("(sent to the landing queue)") for line in lines) == 2
    assert lines[-1] == "replayed 2, left 1"


def test_an_old_destination_record_goes_to_the_landing_queue(aws: Queues) -> None:
    # A record Lambda's on-failure destination left before the stack was updated: its
    # original event goes through the landing queue (the function no longer has an
    # on-failure destination, so an asynchronous invoke could be lost).
    event = s3_event("old.csv")
    send(aws.failure, destination_record(event))
    client, calls = recording_lambda_client()
    result = replay_failures(
        STACK, region=REGION, lambda_client=client, wait_seconds=0, out=io.StringIO()
    )
    assert calls == []
    assert result.payloads == [event]
    assert [json.loads(body) for body in bodies_in(aws.landing)] == [event]
    assert messages_in(aws.failure) == 0


def test_a_stack_without_landing_queue_invokes_the_trigger(aws: Queues) -> None:
    first, second = s3_event("incoming/a.csv"), s3_event("incoming/b, c.csv")
    send(
        aws.old_failure,
        destination_record(first),
        "not json at all",
        destination_record(second),
        s3_body("c.csv"),
    )
    client, calls = recording_lambda_client()
    out = io.StringIO()

    result = replay_failures(
        OLD_STACK, region=REGION, lambda_client=client, wait_seconds=0, out=out
    )

    assert [
        (call["FunctionName"], call["InvocationType"], json.loads(call["Payload"]))
        for call in calls
    ] == [(FUNCTION, "Event", first), (FUNCTION, "Event", second)]
    assert result.replayed == 2
    assert result.payloads == [first, second]
    assert result.queue_url == aws.old_failure
    assert result.landing_queue_url is None
    assert result.function_name == FUNCTION
    assert [left.reason.split(" (")[0] for left in result.left] == [
        "not JSON",
        "the stack has no landing queue",
    ]
    assert messages_in(aws.old_failure) == 2
    lines = out.getvalue().splitlines()
    assert sum(line.endswith(f"(invoked {FUNCTION})") for line in lines) == 2
    assert lines[-1] == "replayed 2, left 2"


def test_the_command_replays_and_prints_the_summary(
    aws: Queues, capsys: pytest.CaptureFixture[str]
) -> None:
    dead_letter(aws, s3_body("a.csv"), json.dumps({"Records": []}))
    code = cli.main(["replay-failures", "--stack-name", STACK, "--region", REGION])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.splitlines()
    assert lines[0] == f"replaying {aws.failure} to {aws.landing}"
    assert lines[-1] == "replayed 1, left 1"
    assert "not a non-empty list of S3 event records" in captured.out
    assert messages_in(aws.failure) == 1
    assert messages_in(aws.landing) == 1


def test_max_messages_and_a_repeated_event(aws: Queues) -> None:
    body = s3_body("a.csv")
    send(aws.failure, body, destination_record(json.loads(body)), body)
    result = replay_failures(
        STACK, region=REGION, max_messages=2, wait_seconds=0, out=io.StringIO()
    )
    # The same event twice in one replay (as a dead letter and as an old record): the
    # second is left (it may be a new failure of the first replay), and the third message
    # is not touched at all.
    assert result.replayed == 1
    assert len(result.left) == 1
    assert "already replayed" in result.left[0].reason
    assert messages_in(aws.failure) == 2
    assert bodies_in(aws.landing) == [body]


def test_a_failed_send_keeps_the_message_and_raises(aws: Queues) -> None:
    send(aws.failure, s3_body("a.csv"))
    sqs = boto3.client("sqs", region_name=REGION)
    missing = aws.landing.replace(LANDING_QUEUE, "no-such-queue")
    with pytest.raises(DeployError, match=r"sending message .*stays in the failure queue"):
        replay_queue(
            sqs,
            None,
            aws.failure,
            FUNCTION,
            landing_queue_url=missing,
            wait_seconds=0,
            visibility_seconds=0,
            out=io.StringIO(),
        )
    assert messages_in(aws.failure) == 1
    assert bodies_in(aws.failure) == [s3_body("a.csv")]


def test_a_failed_invoke_keeps_the_message_and_raises(aws: Queues) -> None:
    send(aws.old_failure, destination_record(s3_event("a.csv")))
    client = boto3.client("lambda", region_name=REGION)
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "invoke", service_error_code="TooManyRequestsException", http_status_code=429
        )
        with pytest.raises(DeployError, match=r"TooManyRequestsException.*stays in the queue"):
            replay_failures(
                OLD_STACK, region=REGION, lambda_client=client, wait_seconds=0, out=io.StringIO()
            )
        stubber.assert_no_pending_responses()
    assert messages_in(aws.old_failure) == 1


def test_a_stack_without_the_queue_is_refused(aws: Queues) -> None:
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="other",
        TemplateBody=json.dumps(
            {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {}}}}
        ),
    )
    with pytest.raises(
        DeployError, match="no FailureQueueUrl and no LandingQueueUrl or TriggerFunctionName"
    ):
        replay_failures("other", region=REGION, out=io.StringIO())
    with pytest.raises(DeployError, match="reading stack missing"):
        replay_failures("missing", region=REGION, out=io.StringIO())


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"Records": []}', "not a non-empty list of S3 event records"),
        ('{"Records": [{"eventSource": "aws:sqs"}]}', "not a non-empty list of S3 event records"),
        ('{"Service": "Amazon S3", "Event": "s3:TestEvent"}', "neither an S3 event"),
        ('{"requestPayload": "text"}', "requestPayload is str"),
    ],
)
def test_what_cannot_be_replayed(body: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        failed_event(body)


def test_what_can_be_replayed() -> None:
    body = s3_body("a.csv")
    assert failed_event(body).kind == "s3_event"
    assert failed_event(body).body == body  # sent back unchanged
    assert original_event(body) == s3_event("a.csv")
    record = failed_event(destination_record({"a": 1}))
    assert (record.kind, record.event, json.loads(record.body)) == (
        "destination_record",
        {"a": 1},
        {"a": 1},
    )
