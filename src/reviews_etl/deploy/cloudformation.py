"""CloudFormation operations of ``deploy`` and ``destroy``: create or update a stack keeping
every parameter a deploy does not give, wait, and explain a failure. No pyspark."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

import botocore.exceptions

from reviews_etl.deploy.aws import error_message, say
from reviews_etl.errors import DeployError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import ParameterTypeDef

_NO_UPDATES = "No updates are to be performed"
BUSY_SUFFIX = "_IN_PROGRESS"


def create_or_update_stack(
    cfn: CloudFormationClient,
    stack_name: str,
    template: Mapping[str, str],
    parameters: list[ParameterTypeDef],
    *,
    poll_seconds: int = 10,
    timeout_seconds: int = 3600,
    out: TextIO | None = None,
) -> tuple[str, bool]:
    """Create the stack, or update it; returns (final status, whether anything changed)."""
    stream = out if out is not None else sys.stdout
    status = stack_status(cfn, stack_name)
    if status is not None and status.endswith(BUSY_SUFFIX):
        raise DeployError(f"stack {stack_name} is busy ({status}); try again when it settles")
    if status == "ROLLBACK_COMPLETE":
        # A stack whose creation failed cannot be updated: it holds no resources, so delete it.
        say(
            stream,
            f"stack {stack_name} is in ROLLBACK_COMPLETE after a failed create; deleting it first",
        )
        cfn.delete_stack(StackName=stack_name)
        wait(cfn, "stack_delete_complete", stack_name, poll_seconds, timeout_seconds)
        status = None
    waiter = _start_change(cfn, stack_name, status, template, parameters, stream=stream)
    if waiter is None:
        return status or "UNKNOWN", False
    try:
        wait(cfn, waiter, stack_name, poll_seconds, timeout_seconds)
    except DeployError as exc:
        reasons = failure_reasons(cfn, stack_name)
        detail = "".join(f"\n  {reason}" for reason in reasons)
        raise DeployError(f"{exc}{detail}") from exc
    final = stack_status(cfn, stack_name) or "UNKNOWN"
    return final, True


def _start_change(
    cfn: CloudFormationClient,
    stack_name: str,
    status: str | None,
    template: Mapping[str, str],
    parameters: list[ParameterTypeDef],
    *,
    stream: TextIO,
) -> str | None:
    """Ask for the stack's creation (``status`` None) or update; returns the waiter to
    wait with, or None when the update changes nothing."""
    common: dict[str, Any] = {
        "StackName": stack_name,
        "Parameters": parameters,
        "Capabilities": ["CAPABILITY_IAM"],
        **template,
    }
    try:
        if status is None:
            say(stream, f"creating stack {stack_name} ...")
            cfn.create_stack(
                **common,
                OnFailure="ROLLBACK",
                Tags=[{"Key": "project", "Value": "reviews-etl"}],
            )
            return "stack_create_complete"
        say(stream, f"updating stack {stack_name} ({status}) ...")
        common["Parameters"] = _keep_previous_values(cfn, stack_name, template, parameters)
        cfn.update_stack(**common)
    except botocore.exceptions.ClientError as exc:
        if _NO_UPDATES in error_message(exc):
            say(stream, f"stack {stack_name} is already up to date (no changes)")
            return None
        raise DeployError(f"stack {stack_name}: {error_message(exc)}") from exc
    return "stack_update_complete"


def _keep_previous_values(
    cfn: CloudFormationClient,
    stack_name: str,
    template: Mapping[str, str],
    parameters: list[ParameterTypeDef],
) -> list[ParameterTypeDef]:
    """Parameters for an update: the given ones, and every other parameter of both the
    stack and the new template keeps its current value.

    Without this, an update resets every parameter it leaves out to the template's
    default (e.g. a stack deployed with --glue-version 5.0 would go back to 5.1). Those
    whose current value differs from the new template's default get "use the previous
    value"; those equal to it are left out, which gives the same value (and moto fails
    on "use the previous value" for a parameter that took its default at creation). A
    parameter new in the template gets its default; one the template dropped is left out.
    """
    given = {p["ParameterKey"] for p in parameters if "ParameterKey" in p}
    try:
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        summary = cfn.get_template_summary(**template)  # type: ignore[arg-type]
    except botocore.exceptions.ClientError as exc:
        # Updating without them would silently reset every parameter not given.
        raise DeployError(
            f"stack {stack_name}: cannot read its current parameters to keep them: "
            f"{error_message(exc)}"
        ) from exc
    defaults = {
        p["ParameterKey"]: p.get("DefaultValue")
        for p in summary.get("Parameters", [])
        if "ParameterKey" in p
    }
    kept: list[ParameterTypeDef] = [
        {"ParameterKey": key, "UsePreviousValue": True}
        for key, value in (
            (p.get("ParameterKey"), p.get("ParameterValue")) for p in stack.get("Parameters", [])
        )
        if key is not None and key in defaults and key not in given and value != defaults[key]
    ]
    return [*parameters, *kept]


def stack_outputs(cfn: CloudFormationClient, stack_name: str) -> dict[str, str]:
    stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    return {
        o["OutputKey"]: o["OutputValue"]
        for o in stacks[0].get("Outputs", [])
        if "OutputKey" in o and "OutputValue" in o
    }


def failure_reasons(cfn: CloudFormationClient, stack_name: str, limit: int = 10) -> list[str]:
    """The most recent failed resource events of the stack, newest first."""
    try:
        events = cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
    except botocore.exceptions.ClientError:
        return []
    reasons = []
    for event in events:
        status = event.get("ResourceStatus", "")
        if status.endswith("_FAILED"):
            reason = event.get("ResourceStatusReason", "")
            reasons.append(f"{event.get('LogicalResourceId')} {status}: {reason}")
        if len(reasons) >= limit:
            break
    return reasons


def stack_buckets(cfn: CloudFormationClient, stack_name: str) -> list[str]:
    """Physical names of the stack's S3 buckets."""
    buckets: list[str] = []
    paginator = cfn.get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=stack_name):
        for resource in page.get("StackResourceSummaries", []):
            physical = resource.get("PhysicalResourceId")
            if resource.get("ResourceType") == "AWS::S3::Bucket" and physical:
                buckets.append(physical)
    return buckets


def stack_status(cfn: CloudFormationClient, stack_name: str) -> str | None:
    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except botocore.exceptions.ClientError as exc:
        if "does not exist" in error_message(exc):
            return None
        raise DeployError(f"describing stack {stack_name}: {error_message(exc)}") from exc
    if not stacks or stacks[0].get("StackStatus") == "DELETE_COMPLETE":
        return None
    return stacks[0]["StackStatus"]


def wait(
    cfn: CloudFormationClient,
    waiter_name: str,
    stack_name: str,
    poll_seconds: int,
    timeout_seconds: int,
) -> None:
    delay = max(1, int(poll_seconds))
    attempts = max(1, timeout_seconds // delay)
    waiter: Any = cfn.get_waiter(waiter_name)  # type: ignore[call-overload]
    try:
        waiter.wait(StackName=stack_name, WaiterConfig={"Delay": delay, "MaxAttempts": attempts})
    except botocore.exceptions.WaiterError as exc:
        try:
            status = stack_status(cfn, stack_name)
        except DeployError:
            status = None
        if waiter_name == "stack_delete_complete" and status is None:
            return
        raise DeployError(
            f"stack {stack_name}: {waiter_name.replace('_', ' ')} failed "
            f"(status {status or 'unknown'}): {exc}"
        ) from exc
