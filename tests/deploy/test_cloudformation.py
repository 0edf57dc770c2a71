"""reviews_etl.deploy.cloudformation with a botocore Stubber: a stack with no updates, a
failed create naming its failed resources, the parameters an update keeps, a busy stack."""

from __future__ import annotations

import io
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from reviews_etl.deploy import cloudformation
from reviews_etl.errors import DeployError
from tests.support.deploy import ACCOUNT, REGION

# --------------------------------------------------------------------------- stubbed


def _stubbed_cfn() -> tuple[Any, Stubber]:
    client = boto3.client(
        "cloudformation",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return client, Stubber(client)


def _stack(status: str) -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackName": "rev",
                "StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/rev/1",
                "CreationTime": "2024-01-01T00:00:00Z",
                "StackStatus": status,
            }
        ]
    }


def test_no_updates_is_reported_not_raised() -> None:
    cfn, stubber = _stubbed_cfn()
    stubber.add_response("describe_stacks", _stack("UPDATE_COMPLETE"), {"StackName": "rev"})
    stubber.add_response("describe_stacks", _stack("UPDATE_COMPLETE"))
    stubber.add_response("get_template_summary", {"Parameters": []})
    stubber.add_client_error(
        "update_stack",
        service_error_code="ValidationError",
        service_message="No updates are to be performed.",
    )
    out = io.StringIO()
    with stubber:
        status, changed = cloudformation.create_or_update_stack(
            cfn, "rev", {"TemplateBody": "{}"}, [], poll_seconds=1, out=out
        )
    assert (status, changed) == ("UPDATE_COMPLETE", False)
    assert "already up to date" in out.getvalue()


def test_failed_create_names_the_failed_resources() -> None:
    cfn, stubber = _stubbed_cfn()
    stubber.add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message="Stack with id rev does not exist",
    )
    stubber.add_response("create_stack", {"StackId": "arn:aws:cloudformation:::stack/rev/1"})
    stubber.add_response("describe_stacks", _stack("ROLLBACK_COMPLETE"))  # the waiter
    stubber.add_response("describe_stacks", _stack("ROLLBACK_COMPLETE"))  # status after
    stubber.add_response(
        "describe_stack_events",
        {
            "StackEvents": [
                {
                    "StackId": "1",
                    "EventId": "e1",
                    "StackName": "rev",
                    "LogicalResourceId": "GlueJob",
                    "ResourceStatus": "CREATE_FAILED",
                    "ResourceStatusReason": "Glue version 9.9 is not supported",
                    "Timestamp": "2024-01-01T00:00:00Z",
                }
            ]
        },
    )
    with stubber, pytest.raises(DeployError) as caught:
        cloudformation.create_or_update_stack(
            cfn, "rev", {"TemplateBody": "{}"}, [], poll_seconds=1, out=io.StringIO()
        )
    message = str(caught.value)
    assert "ROLLBACK_COMPLETE" in message
    assert "GlueJob CREATE_FAILED: Glue version 9.9 is not supported" in message


def test_an_update_keeps_every_parameter_not_given() -> None:
    cfn, stubber = _stubbed_cfn()
    stack = _stack("UPDATE_COMPLETE")
    stack["Stacks"][0]["Parameters"] = [
        {"ParameterKey": "ArtifactsPrefix", "ParameterValue": "old"},  # given again
        {"ParameterKey": "GlueVersion", "ParameterValue": "5.0"},  # set by --glue-version
        {"ParameterKey": "TopN", "ParameterValue": "7"},
        {"ParameterKey": "LandingPrefix", "ParameterValue": ""},  # = the default: left out
        {"ParameterKey": "Dropped", "ParameterValue": "x"},  # no longer in the template
    ]
    summary = {
        "Parameters": [
            {"ParameterKey": key, "DefaultValue": {"GlueVersion": "5.1", "TopN": "5"}.get(key, "")}
            for key in ("ArtifactsPrefix", "GlueVersion", "TopN", "LandingPrefix", "NewOne")
        ]
    }
    given: list[Any] = [{"ParameterKey": "ArtifactsPrefix", "ParameterValue": "new"}]
    stubber.add_response("describe_stacks", stack)
    stubber.add_response("get_template_summary", summary, {"TemplateBody": "{}"})
    with stubber:
        kept = cloudformation._keep_previous_values(cfn, "rev", {"TemplateBody": "{}"}, given)
    assert kept == [
        *given,
        {"ParameterKey": "GlueVersion", "UsePreviousValue": True},
        {"ParameterKey": "TopN", "UsePreviousValue": True},
    ]


def test_an_update_that_cannot_read_the_parameters_is_refused() -> None:
    cfn, stubber = _stubbed_cfn()
    stubber.add_response("describe_stacks", _stack("UPDATE_COMPLETE"))
    stubber.add_client_error("get_template_summary", "AccessDenied", "not allowed")
    with stubber, pytest.raises(DeployError, match="cannot read its current parameters"):
        cloudformation._keep_previous_values(cfn, "rev", {"TemplateBody": "{}"}, [])


def test_busy_stack_is_refused() -> None:
    cfn, stubber = _stubbed_cfn()
    stubber.add_response("describe_stacks", _stack("UPDATE_IN_PROGRESS"))
    with stubber, pytest.raises(DeployError, match="busy"):
        cloudformation.create_or_update_stack(
            cfn, "rev", {"TemplateBody": "{}"}, [], out=io.StringIO()
        )
