"""``replay-failures``: send the events waiting in the stack's failure queue to the trigger again.

The failure queue (stack output ``FailureQueueUrl``) is the landing queue's dead-letter
queue: SQS moves an S3 event message there after ``maxReceiveCount`` receives without a
started job run. Its body is the S3 event notification itself (``{"Records": [...]}``). This
module finds the stack's queues, sends each such body back to the landing queue (output
``LandingQueueUrl``) and deletes the message from the failure queue once the send succeeded;
the trigger then reads it in its next batch (``docs/operations.md``).

Stacks before the landing queue sent failed asynchronous invocations to the same queue
through Lambda's on-failure destination: a *destination invocation record*, a JSON object
whose ``requestPayload`` is the original event. Such a record is still replayed: its
``requestPayload`` goes to the landing queue, or, on a stack without a landing queue, to the
trigger function as an asynchronous invoke. Any other message is left in the
queue and reported in one line.

Processing a file again is idempotent, so an event replayed twice (e.g. a delete that failed
after the send) costs one more job run, not wrong data. boto3 only, no pyspark.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

import botocore.exceptions

from reviews_etl.deploy.aws import connect, error_message, name_prefix, say
from reviews_etl.deploy.cloudformation import stack_outputs
from reviews_etl.errors import ConfigError, DeployError

# The stack's outputs naming the queues and the function (infra/template.yaml), and the
# logical ids looked up when the outputs are missing (an older stack, a partial emulator).
QUEUE_OUTPUT = "FailureQueueUrl"
LANDING_QUEUE_OUTPUT = "LandingQueueUrl"
FUNCTION_OUTPUT = "TriggerFunctionName"
QUEUE_RESOURCE = "TriggerFailureQueue"
LANDING_QUEUE_RESOURCE = "LandingQueue"
FUNCTION_RESOURCE = "TriggerFunction"

RECEIVE_BATCH = 10  # SQS returns at most 10 messages per call
WAIT_SECONDS = 2  # long polling asks every SQS server, so an empty answer means empty
# Messages received but left (unparsable, or failing again) stay hidden this long, so one
# replay sees each message once; then they are visible again.
VISIBILITY_SECONDS = 120

MessageKind = Literal["s3_event", "destination_record"]


@dataclass(frozen=True)
class FailedEvent:
    """One failure-queue message that can be replayed.

    ``kind`` is ``s3_event`` (a dead letter of the landing queue: the body is the S3 event)
    or ``destination_record`` (an older stack's Lambda on-failure record). ``event`` is the
    S3 event either way, and ``body`` the text to send to the landing queue: the message
    body as received, or the record's ``requestPayload`` as JSON.
    """

    kind: MessageKind
    event: dict[str, Any]
    body: str


@dataclass(frozen=True)
class LeftMessage:
    message_id: str
    reason: str


@dataclass
class ReplayResult:
    """What one replay did: ``payloads`` are the events re-sent (their messages deleted),
    ``left`` the messages still in the queue, each with the reason. ``landing_queue_url``
    is None for a stack without a landing queue (events are invoked on ``function_name``)."""

    stack_name: str
    queue_url: str
    landing_queue_url: str | None = None
    function_name: str | None = None
    payloads: list[Any] = field(default_factory=list)
    left: list[LeftMessage] = field(default_factory=list)

    @property
    def replayed(self) -> int:
        return len(self.payloads)

    def summary(self) -> str:
        return f"replayed {self.replayed}, left {len(self.left)}"


def failed_event(body: str) -> FailedEvent:
    """Read a failure-queue message body; ``ValueError`` (with the reason) if it is neither
    an S3 event notification nor a Lambda destination invocation record."""
    try:
        record = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at character {exc.pos})") from exc
    if not isinstance(record, dict):
        raise ValueError(f"not a JSON object but {type(record).__name__}")
    if "requestPayload" in record:
        payload = record["requestPayload"]
        if not isinstance(payload, dict):
            raise ValueError(f"requestPayload is {type(payload).__name__}, not an event object")
        return FailedEvent("destination_record", payload, json.dumps(payload))
    if "Records" in record:
        records = record["Records"]
        if not (
            isinstance(records, list)
            and records
            and all(isinstance(r, dict) and r.get("eventSource") == "aws:s3" for r in records)
        ):
            raise ValueError("Records is not a non-empty list of S3 event records (aws:s3)")
        return FailedEvent("s3_event", record, body)
    raise ValueError(
        "neither an S3 event notification (Records) nor a Lambda destination invocation "
        "record (requestPayload)"
    )


def original_event(body: str) -> dict[str, Any]:
    """The S3 event a failure-queue message carries (see :func:`failed_event`)."""
    return failed_event(body).event


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def replay_queue(
    sqs: Any,
    lambda_client: Any,
    queue_url: str,
    function_name: str | None,
    *,
    landing_queue_url: str | None = None,
    stack_name: str = "",
    max_messages: int | None = None,
    wait_seconds: int = WAIT_SECONDS,
    visibility_seconds: int = VISIBILITY_SECONDS,
    out: TextIO | None = None,
) -> ReplayResult:
    """Replay the events in the failure queue ``queue_url`` with the given clients.

    With ``landing_queue_url`` every event is sent to that queue; without it (a stack from
    before the landing queue) destination records are invoked asynchronously on
    ``function_name`` and S3 event messages are left. Stops when the queue holds nothing
    more to receive, or after ``max_messages`` messages. Raises :class:`DeployError` when an
    SQS or Lambda call fails; what was replayed until then stays replayed (and deleted), the
    rest stays in the queue.
    """
    result = ReplayResult(
        stack_name=stack_name,
        queue_url=queue_url,
        landing_queue_url=landing_queue_url,
        function_name=function_name,
    )
    replay = _Replay(
        sqs,
        lambda_client,
        result,
        max_messages=max_messages,
        wait_seconds=wait_seconds,
        visibility_seconds=visibility_seconds,
        stream=out if out is not None else sys.stdout,
    )
    replay.run()
    return result


@dataclass
class _Replay:
    """One pass over a failure queue: the clients, the limits, and what it did so far."""

    sqs: Any
    lambda_client: Any
    result: ReplayResult
    max_messages: int | None
    wait_seconds: int
    visibility_seconds: int
    stream: TextIO
    # Events sent by this run: one that fails again must wait for the next replay.
    replayed_now: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)
    handled: int = 0

    def run(self) -> None:
        while self.max_messages is None or self.handled < self.max_messages:
            fresh = [m for m in self._receive() if m.get("MessageId") not in self.seen]
            if not fresh:
                break
            for message in fresh:
                self._handle(message)
        say(self.stream, self.result.summary())

    def _receive(self) -> list[dict[str, Any]]:
        batch = RECEIVE_BATCH
        if self.max_messages is not None:
            batch = min(RECEIVE_BATCH, self.max_messages - self.handled)
        queue_url = self.result.queue_url
        try:
            messages: list[dict[str, Any]] = self.sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=batch,
                WaitTimeSeconds=self.wait_seconds,
                VisibilityTimeout=self.visibility_seconds,
            ).get("Messages", [])
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise DeployError(
                f"receiving from {queue_url}: {_describe(exc)} ({self.result.summary()} so far)"
            ) from exc
        return messages

    def _handle(self, message: dict[str, Any]) -> None:
        """Replay one message and delete it, or leave it in the queue with the reason."""
        message_id = str(message.get("MessageId", "?"))
        self.seen.add(message_id)
        self.handled += 1
        try:
            item = failed_event(str(message.get("Body", "")))
        except ValueError as exc:
            self._leave(message_id, _one_line(str(exc)))
            return
        key = json.dumps(item.event, sort_keys=True)
        if key in self.replayed_now:
            self._leave(message_id, "its event was already replayed by this run (failed again?)")
            return
        done = self._forward(item, message_id)
        if done is None:
            return
        self.replayed_now.add(key)
        self._delete(message, message_id)
        self.result.payloads.append(item.event)
        say(self.stream, f"replayed message {message_id} ({done})")

    def _forward(self, item: FailedEvent, message_id: str) -> str | None:
        """Send the event on; returns what was done, None when the message was left."""
        landing_queue_url = self.result.landing_queue_url
        function_name = self.result.function_name
        if landing_queue_url:
            _send(self.sqs, landing_queue_url, item.body, message_id, self.result)
            return "sent to the landing queue"
        if item.kind == "destination_record" and function_name:
            _invoke(self.lambda_client, function_name, item.event, message_id, self.result)
            return f"invoked {function_name}"
        self._leave(message_id, f"the stack has no landing queue ({LANDING_QUEUE_OUTPUT})")
        return None

    def _delete(self, message: dict[str, Any], message_id: str) -> None:
        queue_url = self.result.queue_url
        try:
            self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise DeployError(
                f"message {message_id} was replayed but not deleted from {queue_url}: "
                f"{_describe(exc)}; it will be replayed again next time (harmless: "
                f"processing a file again replaces its rows)"
            ) from exc

    def _leave(self, message_id: str, reason: str) -> None:
        self.result.left.append(LeftMessage(message_id, reason))
        say(self.stream, f"left message {message_id}: {reason}")


def _send(
    sqs: Any, landing_queue_url: str, body: str, message_id: str, result: ReplayResult
) -> None:
    try:
        response = sqs.send_message(QueueUrl=landing_queue_url, MessageBody=body)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise DeployError(
            f"sending message {message_id} to {landing_queue_url}: {_describe(exc)} "
            f"(the message stays in the failure queue; {result.summary()} so far)"
        ) from exc
    if not response.get("MessageId"):
        raise DeployError(
            f"sending message {message_id} to {landing_queue_url}: no MessageId in the answer "
            f"(the message stays in the failure queue; {result.summary()} so far)"
        )


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


def _stack_targets(cfn: Any, stack_name: str) -> tuple[str, str | None, str | None]:
    """(failure queue URL, landing queue URL, trigger function name) of the stack; the
    landing queue is None for a stack from before it, the function may be None when the
    landing queue is there."""
    wanted = {
        QUEUE_RESOURCE: QUEUE_OUTPUT,
        LANDING_QUEUE_RESOURCE: LANDING_QUEUE_OUTPUT,
        FUNCTION_RESOURCE: FUNCTION_OUTPUT,
    }
    try:
        outputs = stack_outputs(cfn, stack_name)
        found = {output: outputs.get(output) for output in wanted.values()}
        if not all(found.values()):
            for logical_id, physical in _resources(cfn, stack_name).items():
                output = wanted.get(logical_id)
                if output and not found[output]:
                    found[output] = physical  # an SQS queue's physical id is its URL
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise DeployError(f"reading stack {stack_name}: {_describe(exc)}") from exc
    queue_url = found[QUEUE_OUTPUT]
    landing_queue_url = found[LANDING_QUEUE_OUTPUT]
    function_name = found[FUNCTION_OUTPUT]
    missing = [QUEUE_OUTPUT] if not queue_url else []
    if not (landing_queue_url or function_name):
        missing.append(f"{LANDING_QUEUE_OUTPUT} or {FUNCTION_OUTPUT}")
    if missing or not queue_url:
        raise DeployError(
            f"stack {stack_name} has no {' and no '.join(missing)} (output or resource): is it "
            "a reviews-etl stack?"
        )
    return queue_url, landing_queue_url, function_name


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
    """Replay the stack's failure queue to its landing queue (or, for a stack without one,
    to its trigger function); print one line per message and the summary.
    ``lambda_client`` replaces the Lambda client (tests)."""
    name_prefix(stack_name)
    if max_messages is not None and max_messages < 1:
        raise ConfigError(f"max_messages must be at least 1, got {max_messages}")
    aws = connect(region, endpoint_url)
    queue_url, landing_queue_url, function_name = _stack_targets(aws.cloudformation(), stack_name)
    stream = out if out is not None else sys.stdout
    say(stream, f"replaying {queue_url} to {landing_queue_url or function_name}")
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
        landing_queue_url=landing_queue_url,
        stack_name=stack_name,
        max_messages=max_messages,
        wait_seconds=wait_seconds,
        out=stream,
    )
