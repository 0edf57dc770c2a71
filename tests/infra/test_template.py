"""Static checks of infra/template.yaml: its size and structure, and the security contract
(locked-down buckets and queues, least-privilege roles), the Glue job and its catalog."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.support.template import TEMPLATE
from tests.support.template import as_list as _as_list
from tests.support.template import of_type as _of_type


def _references(node: Any) -> set[str]:
    """Logical ids (or parameters/pseudo parameters) a template fragment refers to."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else str(value).split(".")[0])
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                variables = value[1] if isinstance(value, list) and len(value) > 1 else {}
                for name in re.findall(r"\$\{([^}!][^}]*)\}", text):
                    base = name.split(".")[0]
                    if base not in variables:
                        found.add(base)
                found |= _references(variables)
            else:
                found |= _references(value)
    elif isinstance(node, list):
        for item in node:
            found |= _references(item)
    return found


def _sub_text(value: Any) -> str:
    """The text of a plain string or a !Sub (for assertions on names and ARNs)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    raise AssertionError(f"expected a string or !Sub, got {value!r}")


def _policy_statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in role["Properties"].get("Policies", []):
        statements.extend(_as_list(policy["PolicyDocument"]["Statement"]))
    return statements


def _allowed_actions(role: dict[str, Any]) -> set[str]:
    return {
        action
        for statement in _policy_statements(role)
        if statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"])
    }


def _resources_for(role: dict[str, Any], action: str) -> list[Any]:
    return [
        resource
        for statement in _policy_statements(role)
        if statement["Effect"] == "Allow" and action in _as_list(statement["Action"])
        for resource in _as_list(statement["Resource"])
    ]


# --------------------------------------------------------------------------- structure


def test_the_template_fits_in_a_template_body() -> None:
    # reviews-etl deploy sends a template up to CloudFormation's TemplateBody limit inline;
    # a larger one goes through S3 (TemplateURL), which the moto server of
    # tests/deploy/test_packaging.py (tests/support/awsserver.py, on 127.0.0.1) cannot read.
    from reviews_etl.deploy.stack import TEMPLATE_BODY_LIMIT

    size = len(TEMPLATE.read_bytes())
    assert size <= TEMPLATE_BODY_LIMIT == 51_200, (
        f"infra/template.yaml is {size} bytes, over the {TEMPLATE_BODY_LIMIT}-byte "
        "TemplateBody limit: shorten it, or make the moto tests serve TemplateURL"
    )


def test_no_circular_dependencies(resources: dict[str, Any]) -> None:
    graph = {
        logical_id: (
            (
                _references(resource.get("Properties", {}))
                | set(_as_list(resource.get("DependsOn", [])))
            )
            & set(resources)
        )
        for logical_id, resource in resources.items()
    }
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == 2:
            return
        assert state.get(node) != 1, "dependency cycle: " + " -> ".join([*path, node])
        state[node] = 1
        for dependency in sorted(graph[node]):
            visit(dependency, [*path, node])
        state[node] = 2

    for node in graph:
        visit(node, [])


def test_glue_version_parameter(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["GlueVersion"]
    assert parameter["AllowedValues"] == ["5.0", "5.1", "6.0"]
    assert parameter["Default"] == "5.1"
    assert "GlueWorkerType" in template["Parameters"]
    assert "GlueNumberOfWorkers" in template["Parameters"]


def test_every_bucket_is_locked_down(resources: dict[str, Any]) -> None:
    buckets = _of_type(resources, "AWS::S3::Bucket")
    assert set(buckets) >= {"LandingBucket", "ProcessedBucket"}
    policies = _of_type(resources, "AWS::S3::BucketPolicy")
    for logical_id, bucket in buckets.items():
        props = bucket["Properties"]
        block = props["PublicAccessBlockConfiguration"]
        assert block == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, logical_id
        rules = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rules[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
        assert props["VersioningConfiguration"]["Status"] == "Enabled", logical_id
        assert props["OwnershipControls"]["Rules"][0]["ObjectOwnership"] == "BucketOwnerEnforced"
        # The bucket name must not depend on other resources (see the circularity note).
        assert _references(props["BucketName"]) <= {"NamePrefix", "AWS::AccountId", "AWS::Region"}

        matching = [
            p for p in policies.values() if p["Properties"]["Bucket"] == {"Ref": logical_id}
        ]
        assert len(matching) == 1, f"{logical_id} needs exactly one bucket policy"
        statements = _as_list(matching[0]["Properties"]["PolicyDocument"]["Statement"])
        deny_tls = [
            s
            for s in statements
            if s["Effect"] == "Deny"
            and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        ]
        assert deny_tls, f"{logical_id}: no TLS-only deny statement"
        covered = _as_list(deny_tls[0]["Resource"])
        assert {"Fn::GetAtt": [logical_id, "Arn"]} in covered
        assert {"Fn::Sub": f"${{{logical_id}.Arn}}/*"} in covered
        # Nothing is granted to everyone.
        for statement in statements:
            if statement["Effect"] == "Allow":
                assert statement.get("Principal") != "*", logical_id


LANDING_BUCKET_ARN = (
    "arn:${AWS::Partition}:s3:::${NamePrefix}-landing-${AWS::AccountId}-${AWS::Region}"
)


def test_landing_bucket(resources: dict[str, Any]) -> None:
    landing = resources["LandingBucket"]
    props = landing["Properties"]
    assert (
        _sub_text(props["BucketName"]) == "${NamePrefix}-landing-${AWS::AccountId}-${AWS::Region}"
    )
    rules = props["LifecycleConfiguration"]["Rules"]
    noncurrent = [r for r in rules if "NoncurrentVersionExpiration" in r]
    assert noncurrent[0]["NoncurrentVersionExpiration"]["NoncurrentDays"] == {
        "Ref": "NoncurrentVersionExpirationDays"
    }


def test_landing_bucket_notifies_the_landing_queue(resources: dict[str, Any]) -> None:
    landing = resources["LandingBucket"]
    # S3 validates the destination (it sends a test event) when the notification is set:
    # the queue policy letting it send must exist first.
    assert "LandingQueuePolicy" in _as_list(landing["DependsOn"])
    # Only the queue: no direct Lambda (or SNS) notification is left.
    notifications = landing["Properties"]["NotificationConfiguration"]
    assert set(notifications) == {"QueueConfigurations"}
    (notification,) = notifications["QueueConfigurations"]
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert notification["Queue"] == {"Fn::GetAtt": ["LandingQueue", "Arn"]}
    # A prefix filter when LandingPrefix is set, and no filter otherwise; never a suffix
    # filter (S3's is case-sensitive: the trigger matches ALLOWED_SUFFIXES itself).
    assert notification["Filter"] == {
        "Fn::If": [
            "HasLandingPrefix",
            {"S3Key": {"Rules": [{"Name": "prefix", "Value": {"Ref": "LandingPrefix"}}]}},
            {"Ref": "AWS::NoValue"},
        ]
    }
    assert "suffix" not in json.dumps(notifications)


def test_landing_queue_policy_admits_only_the_landing_bucket(resources: dict[str, Any]) -> None:
    (logical_id,) = [
        k
        for k, v in _of_type(resources, "AWS::SQS::QueuePolicy").items()
        if v["Properties"]["Queues"] == [{"Ref": "LandingQueue"}]
    ]
    assert logical_id == "LandingQueuePolicy"
    statements = _as_list(resources[logical_id]["Properties"]["PolicyDocument"]["Statement"])
    assert statements == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:*",
            "Resource": {"Fn::GetAtt": ["LandingQueue", "Arn"]},
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "LandingBucketEvents",
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": {"Fn::GetAtt": ["LandingQueue", "Arn"]},
            "Condition": {
                "ArnEquals": {"aws:SourceArn": {"Fn::Sub": LANDING_BUCKET_ARN}},
                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
            },
        },
    ]
    # The ARN is the landing bucket's name, built without referring to the bucket (which
    # depends on this policy).
    assert LANDING_BUCKET_ARN.endswith(
        ":::" + _sub_text(resources["LandingBucket"]["Properties"]["BucketName"])
    )
    assert "LandingBucket" not in _references(resources[logical_id])


def test_quarantine_expires(resources: dict[str, Any]) -> None:
    rules = resources["ProcessedBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    quarantine = [r for r in rules if r.get("Prefix") == "rejected/"]
    assert len(quarantine) == 1
    assert quarantine[0]["ExpirationInDays"] == {"Ref": "QuarantineExpirationDays"}
    assert any("NoncurrentVersionExpiration" in r for r in rules)


def test_the_direct_s3_to_lambda_path_is_gone(resources: dict[str, Any]) -> None:
    # S3 -> SQS -> Lambda replaces S3 -> Lambda: no invoke permission for S3, no
    # asynchronous invoke configuration (retries, on-failure destination).
    assert not _of_type(resources, "AWS::Lambda::Permission")
    assert not _of_type(resources, "AWS::Lambda::EventInvokeConfig")


def test_no_wildcards_or_managed_full_access(resources: dict[str, Any]) -> None:
    iam = {**_of_type(resources, "AWS::IAM::Role"), **_of_type(resources, "AWS::IAM::Policy")}
    assert iam
    for logical_id, resource in iam.items():
        props = resource["Properties"]
        for arn in props.get("ManagedPolicyArns", []):
            text = _sub_text(arn) if not isinstance(arn, str) else arn
            assert "FullAccess" not in text, logical_id
            assert "AWSGlueServiceRole" not in text, logical_id
        statements = (
            _policy_statements(resource)
            if resource["Type"] == "AWS::IAM::Role"
            else _as_list(props["PolicyDocument"]["Statement"])
        )
        for statement in statements:
            if statement["Effect"] != "Allow":
                continue
            for action in _as_list(statement["Action"]):
                assert "*" not in action, f"{logical_id}: wildcard action {action}"
            for resource_arn in _as_list(statement["Resource"]):
                assert resource_arn != "*", f"{logical_id}: Resource '*' for {statement['Action']}"


def test_trigger_role_is_least_privilege(resources: dict[str, Any]) -> None:
    role = resources["TriggerRole"]
    assert _policy_statements(role) == [
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": {"Fn::GetAtt": ["TriggerLogGroup", "Arn"]},
        },
        {
            "Sid": "StartTheEtlJob",
            "Effect": "Allow",
            "Action": "glue:StartJobRun",
            "Resource": {
                "Fn::Sub": "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}"
                ":job/${GlueJob}"
            },
        },
        # The event source mapping reads the landing queue with the function's role; SSE-SQS
        # needs no KMS permission.
        {
            "Sid": "ConsumeLandingQueue",
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": {"Fn::GetAtt": ["LandingQueue", "Arn"]},
        },
        {
            "Sid": "WriteSourceManifests",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": {
                "Fn::Sub": "arn:${AWS::Partition}:s3:::${ArtifactsBucketName}/_manifests/*"
            },
        },
    ]
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert "ManagedPolicyArns" not in role["Properties"]


def test_glue_role_is_least_privilege(resources: dict[str, Any]) -> None:
    role = resources["GlueJobRole"]
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "glue.amazonaws.com"}
    actions = _allowed_actions(role)
    assert {a.split(":")[0] for a in actions} == {"s3", "logs", "glue"}
    landing = "${NamePrefix}-landing-${AWS::AccountId}-${AWS::Region}"
    artifacts = "${ArtifactsBucketName}/${ArtifactsPrefix}/*"

    readable = [_sub_text(r) for r in _resources_for(role, "s3:GetObject")]
    assert any(r.endswith(f":s3:::{landing}/*") for r in readable)
    assert any(r.endswith(f":s3:::{artifacts}") for r in readable)
    assert "${ProcessedBucket.Arn}/*" in readable
    # --source_manifest: the job reads the trigger's manifests (boto3), and only those, in
    # the artifacts bucket.
    assert {
        "Sid": "ReadSourceManifests",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${ArtifactsBucketName}/_manifests/*"},
    } in _policy_statements(role)
    assert len(readable) == 4
    # Writes and deletes only in the processed bucket.
    for action in ("s3:PutObject", "s3:DeleteObject"):
        assert [_sub_text(r) for r in _resources_for(role, action)] == ["${ProcessedBucket.Arn}/*"]
    assert _resources_for(role, "logs:PutLogEvents") == [
        {"Fn::GetAtt": ["GlueErrorLogGroup", "Arn"]},
        {"Fn::GetAtt": ["GlueOutputLogGroup", "Arn"]},
    ]
    prefix = _sub_text(
        resources["GlueJob"]["Properties"]["DefaultArguments"]["--custom-logGroup-prefix"]
    )
    assert [
        _sub_text(r).split(":log-group:")[1] for r in _resources_for(role, "logs:CreateLogGroup")
    ] == [
        f"{prefix}/error",
        f"{prefix}/output",
    ]


def test_glue_job(resources: dict[str, Any]) -> None:
    props = resources["GlueJob"]["Properties"]
    assert props["GlueVersion"] == {"Ref": "GlueVersion"}
    assert props["WorkerType"] == {"Ref": "GlueWorkerType"}
    assert props["NumberOfWorkers"] == {"Ref": "GlueNumberOfWorkers"}
    assert props["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    assert props["JobRunQueuingEnabled"] is True
    assert props["Timeout"] == {"Ref": "GlueTimeoutMinutes"}
    assert props["Command"]["Name"] == "glueetl"
    assert (
        _sub_text(props["Command"]["ScriptLocation"])
        == "s3://${ArtifactsBucketName}/${ArtifactsPrefix}/glue_entrypoint.py"
    )
    arguments = props["DefaultArguments"]
    assert _sub_text(arguments["--output_path"]) == "s3://${ProcessedBucket}"
    assert arguments["--job-language"] == "python"
    assert arguments["--enable-continuous-cloudwatch-log"] == "true"
    modules = _sub_text(arguments["--additional-python-modules"]).split(",")
    assert modules[0] == "s3://${ArtifactsBucketName}/${ArtifactsPrefix}/${WheelFileName}"
    # The wheel plus the exact pins of its dependencies (GluePythonModules), without pip
    # resolving anything at run time.
    assert modules[1:] == ["${GluePythonModules}"]
    assert arguments["--python-modules-installer-option"] == "--no-deps"
    # The custom log group prefix matches the log groups the stack creates.
    prefix = _sub_text(arguments["--custom-logGroup-prefix"])
    assert _sub_text(resources["GlueErrorLogGroup"]["Properties"]["LogGroupName"]) == (
        prefix + "/error"
    )
    assert _sub_text(resources["GlueOutputLogGroup"]["Properties"]["LogGroupName"]) == (
        prefix + "/output"
    )


def test_trigger_function(resources: dict[str, Any]) -> None:
    props = resources["TriggerFunction"]["Properties"]
    assert props["Runtime"] == "python3.11"
    assert props["Handler"] == "lambda_handler.handler"
    assert props["Code"]["S3Bucket"] == {"Ref": "ArtifactsBucketName"}
    assert props["Role"] == {"Fn::GetAtt": ["TriggerRole", "Arn"]}
    env = props["Environment"]["Variables"]
    assert set(env) >= {
        "GLUE_JOB_NAME",
        "LANDING_BUCKET",
        "LANDING_PREFIX",
        "ALLOWED_SUFFIXES",
        "OUTPUT_PATH",
    }
    assert env["GLUE_JOB_NAME"] == {"Ref": "GlueJob"}
    assert _sub_text(env["LANDING_BUCKET"]) == _sub_text(
        resources["LandingBucket"]["Properties"]["BucketName"]
    )
    # The trigger matches suffixes case-insensitively (no S3 suffix filter any more).
    assert env["ALLOWED_SUFFIXES"] == ".csv,.csv.gz"
    # Batches of several objects get a source manifest in the artifacts bucket, where the
    # role may write (WriteSourceManifests) and the Glue job may read (ReadSourceManifests).
    assert env["MANIFEST_BUCKET"] == {"Ref": "ArtifactsBucketName"}
    assert env["MANIFEST_PREFIX"] == "_manifests/"
    assert _sub_text(env["OUTPUT_PATH"]) == "s3://${ProcessedBucket}"
    assert "ReservedConcurrentExecutions" in props
    log_group = _sub_text(resources["TriggerLogGroup"]["Properties"]["LogGroupName"])
    assert log_group == "/aws/lambda/" + _sub_text(props["FunctionName"])


def test_trigger_logs_are_json_at_one_level(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    props = resources["TriggerFunction"]["Properties"]
    # The default log group (/aws/lambda/<function>) is TriggerLogGroup: none is named here.
    assert props["LoggingConfig"] == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": {"Ref": "TriggerLogLevel"},
        "SystemLogLevel": "INFO",
    }
    level = template["Parameters"]["TriggerLogLevel"]
    assert (level["Default"], level["AllowedValues"]) == (
        "INFO",
        ["DEBUG", "INFO", "WARN", "ERROR"],
    )
    # LOG_LEVEL (Python's names) follows the same parameter, so Lambda never drops records
    # the trigger's logger emits, nor the reverse.
    assert props["Environment"]["Variables"]["LOG_LEVEL"] == {
        "Fn::FindInMap": ["TriggerLogLevels", {"Ref": "TriggerLogLevel"}, "Python"]
    }
    assert template["Mappings"]["TriggerLogLevels"] == {
        "DEBUG": {"Python": "DEBUG"},
        "INFO": {"Python": "INFO"},
        "WARN": {"Python": "WARNING"},
        "ERROR": {"Python": "ERROR"},
    }


def test_no_reserved_concurrency_by_default(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    parameter = template["Parameters"]["TriggerReservedConcurrency"]
    assert parameter["Default"] == 0
    assert parameter["MinValue"] == 0
    assert template["Conditions"]["HasReservedConcurrency"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "TriggerReservedConcurrency"}, 0]}]
    }
    assert resources["TriggerFunction"]["Properties"]["ReservedConcurrentExecutions"] == {
        "Fn::If": [
            "HasReservedConcurrency",
            {"Ref": "TriggerReservedConcurrency"},
            {"Ref": "AWS::NoValue"},
        ]
    }


def test_event_source_mapping_batches_the_landing_queue(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    (logical_id,) = _of_type(resources, "AWS::Lambda::EventSourceMapping")
    props = resources[logical_id]["Properties"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": ["LandingQueue", "Arn"]}
    assert props["FunctionName"] == {"Ref": "TriggerFunction"}
    assert props.get("Enabled", True) is True
    assert props["BatchSize"] == {"Ref": "TriggerBatchSize"}
    assert props["MaximumBatchingWindowInSeconds"] == {"Ref": "TriggerBatchingWindowSeconds"}
    # Without it Lambda ignores batchItemFailures and deletes the whole batch.
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    parameters = template["Parameters"]
    size, window = parameters["TriggerBatchSize"], parameters["TriggerBatchingWindowSeconds"]
    assert (size["Type"], size["Default"], size["MinValue"], size["MaxValue"]) == (
        "Number",
        1000,
        1,
        10000,  # Lambda's maximum for a standard queue
    )
    # Lambda refuses a batch size over 10 without a window of at least 1 s; 300 s is its
    # maximum.
    assert (window["Type"], window["Default"], window["MinValue"], window["MaxValue"]) == (
        "Number",
        60,
        1,
        300,
    )


def test_landing_queue_redrives_to_the_failure_queue(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    queue = resources["LandingQueue"]["Properties"]
    assert _sub_text(queue["QueueName"]) == "${NamePrefix}-landing-events"
    redrive = queue["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["TriggerFailureQueue", "Arn"]}
    assert 3 <= redrive["maxReceiveCount"] <= 5
    # Lambda's rule: at least 6 x the function's timeout. Lambda also holds received
    # messages while it fills a batch, for up to the longest batching window.
    timeout = resources["TriggerFunction"]["Properties"]["Timeout"]
    longest_window = template["Parameters"]["TriggerBatchingWindowSeconds"]["MaxValue"]
    assert queue["VisibilityTimeout"] >= 6 * timeout
    assert queue["VisibilityTimeout"] >= 6 * timeout + longest_window
    # A dead letter keeps its original enqueue time: the failure queue must keep messages
    # longer than the landing queue.
    failure = resources["TriggerFailureQueue"]["Properties"]
    assert failure["MessageRetentionPeriod"] == 1209600  # 14 days, the maximum
    assert queue["MessageRetentionPeriod"] < failure["MessageRetentionPeriod"]
    # Only the landing queue may use the failure queue as its dead-letter queue.
    assert failure["RedriveAllowPolicy"] == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [
            {
                "Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}"
                ":${NamePrefix}-landing-events"
            }
        ],
    }


def test_queues_are_encrypted(resources: dict[str, Any]) -> None:
    queues = _of_type(resources, "AWS::SQS::Queue")
    assert set(queues) == {"LandingQueue", "TriggerFailureQueue"}
    for logical_id, queue in queues.items():
        # SSE-SQS: S3 can send to it and Lambda read it without a key policy.
        assert queue["Properties"]["SqsManagedSseEnabled"] is True, logical_id
        assert "KmsMasterKeyId" not in queue["Properties"], logical_id


def test_log_groups_have_retention(resources: dict[str, Any]) -> None:
    groups = _of_type(resources, "AWS::Logs::LogGroup")
    assert set(groups) == {"TriggerLogGroup", "GlueErrorLogGroup", "GlueOutputLogGroup"}
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}


EXPECTED_TABLES = {
    "reviews": (
        "processed-data/",
        [
            ("review_id", "string"),
            ("product_id", "string"),
            ("customer_id", "string"),
            ("rating", "int"),
            ("review_date", "date"),
            ("review_text", "string"),
            ("source_file", "string"),
            ("run_id", "string"),
            ("ingested_at", "timestamp"),
        ],
        True,
    ),
    "rejected_reviews": (
        "rejected/",
        [
            ("review_id", "string"),
            ("product_id", "string"),
            ("customer_id", "string"),
            ("rating", "string"),
            ("review_date", "string"),
            ("review_text", "string"),
            ("raw_record", "string"),
            ("reject_reason", "string"),
            ("source_file", "string"),
            ("run_id", "string"),
            ("ingested_at", "timestamp"),
        ],
        True,
    ),
    "daily_review_counts": (
        "Athena Results/daily_review_counts/",
        [
            ("review_date", "date"),
            ("product_id", "string"),
            ("review_count", "bigint"),
            ("avg_rating", "double"),
        ],
        False,
    ),
    "top_5_customers": (
        "Athena Results/top_5_customers/",
        [
            ("rank", "int"),
            ("customer_id", "string"),
            ("review_count", "bigint"),
            ("avg_rating", "double"),
        ],
        False,
    ),
    "rating_distribution": (
        "Athena Results/rating_distribution/",
        [("rating", "int"), ("review_count", "bigint"), ("share", "double")],
        False,
    ),
}


def test_catalog_tables_match_the_output_layout(resources: dict[str, Any]) -> None:
    tables = {
        t["Properties"]["TableInput"]["Name"]: t["Properties"]
        for t in _of_type(resources, "AWS::Glue::Table").values()
    }
    assert set(tables) == set(EXPECTED_TABLES)
    for name, (folder, columns, partitioned) in EXPECTED_TABLES.items():
        props = tables[name]
        assert props["DatabaseName"] == {"Ref": "GlueDatabase"}
        table = props["TableInput"]
        storage = table["StorageDescriptor"]
        assert _sub_text(storage["Location"]) == f"s3://${{ProcessedBucket}}/{folder}", name
        assert [(c["Name"], c["Type"]) for c in storage["Columns"]] == columns, name
        assert "Parquet" in storage["SerdeInfo"]["SerializationLibrary"]
        assert table["Parameters"]["classification"] == "parquet"
        keys = [(k["Name"], k["Type"]) for k in table.get("PartitionKeys", [])]
        assert keys == ([("source_id", "string")] if partitioned else []), name


def test_outputs(template: dict[str, Any]) -> None:
    assert set(template["Outputs"]) >= {
        "LandingBucketName",
        "ProcessedBucketName",
        "GlueJobName",
        "TriggerFunctionName",
        "DatabaseName",
        "FailureQueueUrl",
        "LandingQueueUrl",
        "AlertsTopicArn",
    }
    assert template["Outputs"]["LandingQueueUrl"]["Value"] == {"Ref": "LandingQueue"}
    assert template["Outputs"]["FailureQueueUrl"]["Value"] == {"Ref": "TriggerFailureQueue"}


# --------------------------------------------------------------------------- partitions


def test_glue_job_registers_partitions_in_the_stack_database(resources: dict[str, Any]) -> None:
    arguments = resources["GlueJob"]["Properties"]["DefaultArguments"]
    assert arguments["--catalog_database"] == {"Ref": "GlueDatabase"}
    role = resources["GlueJobRole"]
    glue_statements = [
        s
        for s in _policy_statements(role)
        if any(a.startswith("glue:") for a in _as_list(s["Action"]))
    ]
    assert len(glue_statements) == 1
    (statement,) = glue_statements
    assert statement["Effect"] == "Allow"
    assert "Condition" not in statement
    assert sorted(_as_list(statement["Action"])) == [
        "glue:CreatePartition",
        "glue:GetPartition",
        "glue:GetTable",
        "glue:UpdatePartition",
    ]
    assert [_sub_text(r) for r in _as_list(statement["Resource"])] == [
        "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:catalog",
        "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:database/${GlueDatabase}",
        "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:table/${GlueDatabase}/reviews",
        "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}"
        ":table/${GlueDatabase}/rejected_reviews",
    ]
    # The tables named in the ARNs are the stack's two partitioned tables.
    partitioned = {
        t["Properties"]["TableInput"]["Name"]
        for t in _of_type(resources, "AWS::Glue::Table").values()
        if t["Properties"]["TableInput"].get("PartitionKeys")
    }
    assert partitioned == {"reviews", "rejected_reviews"}
