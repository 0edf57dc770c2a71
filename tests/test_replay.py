"""``reviews-etl replay-failures`` (reviews_etl.deploy.replay) against moto, in process.

moto provides CloudFormation (the stack's outputs), SQS (the failure queue) and Lambda (the
function; ``use_docker: False`` accepts asynchronous invokes without running them). The
Lambda client is a real boto3 client on moto whose Invoke calls are recorded, so the test
sees the exact payloads; a botocore Stubber stands in for a failing invoke.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from reviews_etl import cli
from reviews_etl.deploy.replay import original_event, replay_failures
from reviews_etl.errors import DeployError

REGION = "eu-west-1"
STACK = "demo"
FUNCTION = "demo-trigger"
QUEUE = "demo-trigger-failures"

STACK_TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {
        "TriggerFailureQueue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": QUEUE}}
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
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "awsRegion": REGION,
                "s3": {"bucket": {"name": "demo-landing"}, "object": {"key": key, "size": 10}},
            }
        ]
    }


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


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """moto with fake credentials, a stack with the failure queue, and the function."""
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
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName=STACK, TemplateBody=json.dumps(STACK_TEMPLATE)
        )
        yield boto3.client("sqs", region_name=REGION).get_queue_url(QueueName=QUEUE)["QueueUrl"]


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


def recording_lambda_client() -> tuple[Any, list[dict[str, Any]]]:
    client = boto3.client("lambda", region_name=REGION)
    calls: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(dict(params))

    client.meta.events.register("provide-client-params.lambda.Invoke", record)
    return client, calls


def test_replays_valid_records_and_leaves_the_rest(aws: str) -> None:
    first, second = s3_event("incoming/a.csv"), s3_event("incoming/b, c.csv")
    send(aws, destination_record(first), "not json at all", destination_record(second))
    client, calls = recording_lambda_client()
    out = io.StringIO()

    result = replay_failures(STACK, region=REGION, lambda_client=client, wait_seconds=0, out=out)

    assert [
        (call["FunctionName"], call["InvocationType"], json.loads(call["Payload"]))
        for call in calls
    ] == [(FUNCTION, "Event", first), (FUNCTION, "Event", second)]
    assert result.replayed == 2
    assert result.payloads == [first, second]
    assert result.queue_url == aws
    assert result.function_name == FUNCTION
    assert [left.reason.split(" (")[0] for left in result.left] == ["not JSON"]
    assert messages_in(aws) == 1  # the garbage stays; both records were deleted
    lines = out.getvalue().splitlines()
    assert sum(line.startswith("left message ") for line in lines) == 1
    assert lines[-1] == "replayed 2, left 1"


def test_the_command_replays_and_prints_the_summary(
    aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    send(aws, destination_record(s3_event("a.csv")), json.dumps({"Records": []}))
    code = cli.main(["replay-failures", "--stack-name", STACK, "--region", REGION])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.splitlines()[-1] == "replayed 1, left 1"
    assert "no requestPayload" in captured.out
    assert messages_in(aws) == 1


def test_max_messages_and_a_repeated_event(aws: str) -> None:
    event = s3_event("a.csv")
    send(aws, destination_record(event), destination_record(event), destination_record(event))
    client, calls = recording_lambda_client()
    result = replay_failures(
        STACK,
        region=REGION,
        lambda_client=client,
        max_messages=2,
        wait_seconds=0,
        out=io.StringIO(),
    )
    # The same event twice in one replay: the second record is left (it may be a new failure
    # of the first replay), and the third message is not touched at all.
    assert len(calls) == 1
    assert result.replayed == 1
    assert len(result.left) == 1
    assert "already replayed" in result.left[0].reason
    assert messages_in(aws) == 2


def test_a_failed_invoke_keeps_the_message_and_raises(aws: str) -> None:
    send(aws, destination_record(s3_event("a.csv")))
    client = boto3.client("lambda", region_name=REGION)
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "invoke", service_error_code="TooManyRequestsException", http_status_code=429
        )
        with pytest.raises(DeployError, match=r"TooManyRequestsException.*stays in the queue"):
            replay_failures(
                STACK, region=REGION, lambda_client=client, wait_seconds=0, out=io.StringIO()
            )
        stubber.assert_no_pending_responses()
    assert messages_in(aws) == 1


def test_a_stack_without_the_queue_is_refused(aws: str) -> None:
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="other",
        TemplateBody=json.dumps(
            {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {}}}}
        ),
    )
    with pytest.raises(DeployError, match="FailureQueueUrl or TriggerFunctionName"):
        replay_failures("other", region=REGION, out=io.StringIO())
    with pytest.raises(DeployError, match="reading stack missing"):
        replay_failures("missing", region=REGION, out=io.StringIO())


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"Records": []}', "no requestPayload"),
        ('{"requestPayload": "text"}', "requestPayload is str"),
    ],
)
def test_what_is_not_an_invocation_record(body: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        original_event(body)
    assert original_event(destination_record({"a": 1})) == {"a": 1}
