"""``replay-failures``: send the events waiting in the stack's failure queue to the trigger again.

A trigger invocation that fails (or whose event gets too old) is not retried by Lambda: its
on-failure destination puts a *destination invocation record* in the failure queue, a JSON
object whose ``requestPayload`` is the original event (``docs/operations.md``). This module
finds the queue and the trigger function of a stack, invokes the function asynchronously
with each record's ``requestPayload`` and deletes the record once the invoke was accepted.
A message that is not such a record is left in the queue and reported in one line.

Processing a file again is idempotent, so a record replayed twice (e.g. a delete that failed
after the invoke) costs one more job run, not wrong data. boto3 only, no pyspark.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

import botocore.exceptions

from reviews_etl.deploy.aws import connect, error_message, name_prefix, say
from reviews_etl.deploy.cloudformation import stack_outputs
from reviews_etl.errors import ConfigError, DeployError

# The stack's outputs naming the queue and the function (infra/template.yaml), and the
# logical ids looked up when the outputs are missing (an older stack, a partial emulator).
QUEUE_OUTPUT = "FailureQueueUrl"
FUNCTION_OUTPUT = "TriggerFunctionName"
QUEUE_RESOURCE = "TriggerFailureQueue"
FUNCTION_RESOURCE = "TriggerFunction"

RECEIVE_BATCH = 10  # SQS returns at most 10 messages per call
WAIT_SECONDS = 2  # long polling asks every SQS server, so an empty answer means empty
# Messages received but left (unparsable, or failing again) stay hidden this long, so one
# replay sees each message once; then they are visible again.
VISIBILITY_SECONDS = 120


@dataclass(frozen=True)
class LeftMessage:
    message_id: str
    reason: str


@dataclass
class ReplayResult:
    """What one replay did: ``payloads`` are the events re-sent (their messages deleted),
    ``left`` the messages still in the queue, each with the reason."""

    stack_name: str
    queue_url: str
    function_name: str
    payloads: list[Any] = field(default_factory=list)
    left: list[LeftMessage] = field(default_factory=list)

    @property
    def replayed(self) -> int:
        return len(self.payloads)

    def summary(self) -> str:
        return f"replayed {self.replayed}, left {len(self.left)}"


def original_event(body: str) -> Any:
    """The ``requestPayload`` of a Lambda destination invocation record; ``ValueError`` if
    ``body`` is not such a record."""
    try:
        record = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at character {exc.pos})") from exc
    if not isinstance(record, dict):
        raise ValueError(f"not a JSON object but {type(record).__name__}")
    if "requestPayload" not in record:
        raise ValueError("no requestPayload: not a Lambda destination invocation record")
    payload = record["requestPayload"]
    if not isinstance(payload, dict):
        raise ValueError(f"requestPayload is {type(payload).__name__}, not an event object")
    return payload


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def replay_queue(
    sqs: Any,
    lambda_client: Any,
    queue_url: str,
    function_name: str,
    *,
    stack_name: str = "",
    max_messages: int | None = None,
    wait_seconds: int = WAIT_SECONDS,
    visibility_seconds: int = VISIBILITY_SECONDS,
    out: TextIO | None = None,
) -> ReplayResult:
    """Replay the records in ``queue_url`` to ``function_name`` with the given clients.

    Stops when the queue holds nothing more to receive, or after ``max_messages`` messages.
    Raises :class:`DeployError` when an SQS or Lambda call fails; what was replayed until
    then stays replayed (and deleted), the rest stays in the queue.
    """
    stream = out if out is not None else sys.stdout
    result = ReplayResult(stack_name=stack_name, queue_url=queue_url, function_name=function_name)
    replayed_now: set[str] = set()  # payloads sent by this run: a new failure must wait
    seen: set[str] = set()
    handled = 0

    def leave(message_id: str, reason: str) -> None:
        result.left.append(LeftMessage(message_id, reason))
        say(stream, f"left message {message_id}: {reason}")

    while max_messages is None or handled < max_messages:
        batch = (
            RECEIVE_BATCH if max_messages is None else min(RECEIVE_BATCH, max_messages - handled)
        )
        try:
            messages = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=batch,
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=visibility_seconds,
            ).get("Messages", [])
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise DeployError(
                f"receiving from {queue_url}: {_describe(exc)} ({result.summary()} so far)"
            ) from exc
        fresh = [m for m in messages if m.get("MessageId") not in seen]
        if not fresh:
            break
        for message in fresh:
            message_id = str(message.get("MessageId", "?"))
            seen.add(message_id)
            handled += 1
            try:
                payload = original_event(str(message.get("Body", "")))
            except ValueError as exc:
                leave(message_id, _one_line(str(exc)))
                continue
            key = json.dumps(payload, sort_keys=True)
            if key in replayed_now:
                leave(message_id, "its event was already replayed by this run (failed again?)")
                continue
            _invoke(lambda_client, function_name, payload, message_id, result)
            replayed_now.add(key)
            try:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                raise DeployError(
                    f"message {message_id} was replayed but not deleted from {queue_url}: "
                    f"{_describe(exc)}; it will be replayed again next time (harmless: "
                    f"processing a file again replaces its rows)"
                ) from exc
            result.payloads.append(payload)
            say(stream, f"replayed message {message_id}")
    say(stream, result.summary())
    return result


def _invoke(
    lambda_client: Any, function_name: str, payload: Any, message_id: str, result: ReplayResult
) -> None:
    try:
        response = lambda_client.invoke(
            FunctionName=function_name,
            InvocationType="Event",
            Payload=json.dumps(payload).encode("utf-8"),
        )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise DeployError(
            f"invoking {function_name} for message {message_id}: {_describe(exc)} "
            f"(the message stays in the queue; {result.summary()} so far)"
        ) from exc
    status = response.get("StatusCode")
    if status != 202:
        raise DeployError(
            f"invoking {function_name} for message {message_id}: status {status}, expected 202 "
            f"(the message stays in the queue; {result.summary()} so far)"
        )


def _describe(exc: Exception) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        return f"{code}: {error_message(exc)}"
    return str(exc)


def _stack_targets(cfn: Any, stack_name: str) -> tuple[str, str]:
    """(failure queue URL, trigger function name) of the stack."""
    try:
        outputs = stack_outputs(cfn, stack_name)
        queue_url = outputs.get(QUEUE_OUTPUT)
        function_name = outputs.get(FUNCTION_OUTPUT)
        if not (queue_url and function_name):
            for logical_id, physical in _resources(cfn, stack_name).items():
                if logical_id == QUEUE_RESOURCE and not queue_url:
                    queue_url = physical  # an SQS queue's physical id is its URL
                elif logical_id == FUNCTION_RESOURCE and not function_name:
                    function_name = physical
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise DeployError(f"reading stack {stack_name}: {_describe(exc)}") from exc
    if not queue_url or not function_name:
        missing = [
            name
            for name, value in ((QUEUE_OUTPUT, queue_url), (FUNCTION_OUTPUT, function_name))
            if not value
        ]
        raise DeployError(
            f"stack {stack_name} has no {' or '.join(missing)} (output or resource): is it a "
            "reviews-etl stack?"
        )
    return queue_url, function_name


def _resources(cfn: Any, stack_name: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for resource in page.get("StackResourceSummaries", []):
            if resource.get("PhysicalResourceId"):
                found[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]
    return found


def replay_failures(
    stack_name: str,
    region: str | None = None,
    endpoint_url: str | None = None,
    *,
    max_messages: int | None = None,
    lambda_client: Any | None = None,
    wait_seconds: int = WAIT_SECONDS,
    out: TextIO | None = None,
) -> ReplayResult:
    """Replay the stack's failure queue to its trigger function; print one line per message
    and the summary. ``lambda_client`` replaces the Lambda client (tests)."""
    name_prefix(stack_name)
    if max_messages is not None and max_messages < 1:
        raise ConfigError(f"max_messages must be at least 1, got {max_messages}")
    aws = connect(region, endpoint_url)
    queue_url, function_name = _stack_targets(aws.cloudformation(), stack_name)
    stream = out if out is not None else sys.stdout
    say(stream, f"replaying {queue_url} to {function_name}")
    sqs = aws.session.client("sqs", region_name=aws.region, endpoint_url=endpoint_url)
    if lambda_client is None:
        lambda_client = aws.session.client(
            "lambda", region_name=aws.region, endpoint_url=endpoint_url
        )
    return replay_queue(
        sqs,
        lambda_client,
        queue_url,
        function_name,
        stack_name=stack_name,
        max_messages=max_messages,
        wait_seconds=wait_seconds,
        out=stream,
    )
