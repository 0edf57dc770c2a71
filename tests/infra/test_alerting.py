"""Static checks of infra/template.yaml's alerting: the encrypted alert topic, who may
publish to it, and the alarms on failed Glue runs, the failure queue and the trigger."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.support.template import as_list as _as_list
from tests.support.template import of_type as _of_type

# --------------------------------------------------------------------------- alerting


def test_alert_topic_is_encrypted_with_a_rotating_key(resources: dict[str, Any]) -> None:
    assert set(_of_type(resources, "AWS::SNS::Topic")) == {"AlertsTopic"}
    topic = resources["AlertsTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": ["AlertsKey", "Arn"]}
    key = resources["AlertsKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    statements = _as_list(key["KeyPolicy"]["Statement"])
    assert all(s["Effect"] == "Allow" for s in statements)
    by_principal = {json.dumps(s["Principal"], sort_keys=True): s for s in statements}
    assert set(by_principal) == {
        json.dumps({"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}),
        json.dumps({"Service": ["events.amazonaws.com", "cloudwatch.amazonaws.com"]}),
    }
    services = by_principal[
        json.dumps({"Service": ["events.amazonaws.com", "cloudwatch.amazonaws.com"]})
    ]
    assert sorted(_as_list(services["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey*"]


def test_only_the_rule_and_the_alarms_may_publish(resources: dict[str, Any]) -> None:
    (policy,) = _of_type(resources, "AWS::SNS::TopicPolicy").values()
    props = policy["Properties"]
    assert props["Topics"] == [{"Ref": "AlertsTopic"}]
    statements = _as_list(props["PolicyDocument"]["Statement"])
    assert {json.dumps(s["Principal"]) for s in statements} == {
        json.dumps({"Service": "events.amazonaws.com"}),
        json.dumps({"Service": "cloudwatch.amazonaws.com"}),
    }
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert statement["Action"] == "sns:Publish"
        assert statement["Resource"] == {"Ref": "AlertsTopic"}
        if statement["Principal"]["Service"] == "events.amazonaws.com":
            assert statement["Condition"] == {
                "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["GlueJobFailedRule", "Arn"]}}
            }
        else:
            assert statement["Condition"] == {
                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                "ArnEquals": {
                    "aws:SourceArn": [
                        {"Fn::GetAtt": ["FailureQueueNotEmptyAlarm", "Arn"]},
                        {"Fn::GetAtt": ["TriggerErrorsAlarm", "Arn"]},
                        {"Fn::GetAtt": ["LandingQueueStaleAlarm", "Arn"]},
                    ]
                },
            }


def test_alert_email_is_optional(template: dict[str, Any], resources: dict[str, Any]) -> None:
    parameter = template["Parameters"]["AlertEmail"]
    assert parameter["Type"] == "String"
    assert parameter["Default"] == ""
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch("")
    assert pattern.fullmatch("ops@example.com")
    assert not pattern.fullmatch("not an address")
    assert template["Conditions"]["HasAlertEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlertEmail"}, ""]}]
    }
    (logical_id,) = _of_type(resources, "AWS::SNS::Subscription")
    subscription = resources[logical_id]
    assert subscription["Condition"] == "HasAlertEmail"
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "AlertsTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlertEmail"},
    }


def test_failed_glue_runs_are_published(resources: dict[str, Any]) -> None:
    (logical_id,) = _of_type(resources, "AWS::Events::Rule")
    assert logical_id == "GlueJobFailedRule"
    props = resources[logical_id]["Properties"]
    assert props["State"] == "ENABLED"
    assert props["EventPattern"] == {
        "source": ["aws.glue"],
        "detail-type": ["Glue Job State Change"],
        "detail": {"jobName": [{"Ref": "GlueJob"}], "state": ["FAILED", "TIMEOUT", "ERROR"]},
    }
    (target,) = props["Targets"]
    assert target["Arn"] == {"Ref": "AlertsTopic"}
    transformer = target["InputTransformer"]
    assert transformer["InputPathsMap"] == {
        "job": "$.detail.jobName",
        "run": "$.detail.jobRunId",
        "state": "$.detail.state",
        "reason": "$.detail.message",
        "time": "$.time",
    }
    # Every variable of the one-line message is defined, and every defined one is used.
    assert set(re.findall(r"<([a-z]+)>", transformer["InputTemplate"])) == set(
        transformer["InputPathsMap"]
    )
    assert "\n" not in transformer["InputTemplate"]


def _alarms(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in _of_type(resources, "AWS::CloudWatch::Alarm").items()}


def test_failure_queue_alarm(resources: dict[str, Any]) -> None:
    alarm = _alarms(resources)["FailureQueueNotEmptyAlarm"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["TriggerFailureQueue", "QueueName"]}}
    ]
    assert alarm["Statistic"] == "Maximum"
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["EvaluationPeriods"] == 1
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [{"Ref": "AlertsTopic"}]
    assert alarm["OKActions"] == [{"Ref": "AlertsTopic"}]


def test_trigger_errors_alarm(resources: dict[str, Any]) -> None:
    alarms = _alarms(resources)
    assert set(alarms) == {
        "FailureQueueNotEmptyAlarm",
        "TriggerErrorsAlarm",
        "LandingQueueStaleAlarm",
    }
    alarm = alarms["TriggerErrorsAlarm"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", "Errors")
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "TriggerFunction"}}]
    assert alarm["Statistic"] == "Sum"
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["EvaluationPeriods"] == 1
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [{"Ref": "AlertsTopic"}]


def test_landing_queue_stale_alarm(resources: dict[str, Any]) -> None:
    alarm = _alarms(resources)["LandingQueueStaleAlarm"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateAgeOfOldestMessage")
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["LandingQueue", "QueueName"]}}
    ]
    assert alarm["Statistic"] == "Maximum"
    assert alarm["Threshold"] == 3600  # seconds: an event waiting an hour
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["EvaluationPeriods"] == 1
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [{"Ref": "AlertsTopic"}]
    assert alarm["OKActions"] == [{"Ref": "AlertsTopic"}]
