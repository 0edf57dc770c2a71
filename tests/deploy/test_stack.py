"""reviews_etl.deploy (stack, aws, buckets, cloudformation) against a local moto server
(no AWS account needed).

moto's CloudFormation creates the buckets (with their default encryption), the IAM
roles, the Lambda function, the SQS queues (with the redrive policy), the event source
mapping and the log groups; it skips AWS::Glue::*, AWS::Athena::*, bucket and queue
policies and alarms, and ignores bucket versioning, public access blocks, lifecycle rules
and notifications. Those parts are checked statically in tests/infra/ (see
docs/deploy.md).
"""

from __future__ import annotations

import io
import json
import logging
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest

import reviews_etl.deploy
from reviews_etl import cli
from reviews_etl.deploy import aws, buckets, cloudformation, deploy, destroy, packaging
from reviews_etl.deploy import stack as stack_module
from reviews_etl.deploy.packaging import Artifact, Artifacts
from reviews_etl.errors import ConfigError
from tests.support.awsserver import AWS_ENV_VARS
from tests.support.deploy import ACCOUNT, REGION
from tests.support.template import TEMPLATE
from tests.support.template import parse_template as _load_template

pytestmark = pytest.mark.filterwarnings(
    "ignore:Tried to parse AWS::",
    "ignore:When using MotoServer",
)

# What glue-requirements.txt holds for the fake artifacts.
FAKE_PINS = {
    "annotated-types": "0.7.0",
    "pydantic": "2.11.7",
    "pydantic-core": "2.33.2",
    "pydantic-settings": "2.10.1",
    "python-dotenv": "1.1.1",
    "typing-extensions": "4.14.1",
    "typing-inspection": "0.4.1",
}
FAKE_MODULES = ",".join(f"{name}=={version}" for name, version in FAKE_PINS.items())


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _isolate_aws_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in AWS_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _isolate_aws_config(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def fake_artifacts(tmp_path: Path) -> Artifacts:
    """Small stand-ins with the real names, so the deploy test stays fast."""
    return _fake_artifacts(tmp_path / "artifacts")


def _fake_artifacts(folder: Path, release: str = "") -> Artifacts:
    """Stand-ins; a different ``release`` gives different contents (a new digest)."""
    folder.mkdir()
    wheel = folder / "reviews_etl-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("reviews_etl/__init__.py", f"# {release}\n")
        archive.writestr("reviews_etl/py.typed", "")
    lambda_zip = folder / "reviews_etl_lambda-0.1.0.zip"
    with zipfile.ZipFile(lambda_zip, "w") as archive:
        archive.writestr("lambda_handler.py", "def handler(event, context):\n    return None\n")
    script = folder / "glue_entrypoint.py"
    script.write_text("print('glue')\n")
    requirements = folder / "glue-requirements.txt"
    requirements.write_text("# fake pins\n" + FAKE_MODULES.replace(",", "\n") + "\n")
    return Artifacts(
        version="0.1.0",
        wheel=Artifact.from_path("wheel", wheel),
        lambda_zip=Artifact.from_path("lambda_zip", lambda_zip),
        glue_script=Artifact.from_path("glue_script", script),
        glue_requirements=Artifact.from_path("glue_requirements", requirements),
    )


@pytest.fixture
def no_build(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> Artifacts:
        raise AssertionError("build_artifacts must not run")

    monkeypatch.setattr(packaging, "build_artifacts", refuse)


def _clients(endpoint: str) -> tuple[Any, Any]:
    config = botocore.config.Config(s3={"addressing_style": "path"})
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint, config=config)
    cfn = boto3.client("cloudformation", region_name=REGION, endpoint_url=endpoint)
    return s3, cfn


def _bucket_names(s3: Any) -> set[str]:
    return {b["Name"] for b in s3.list_buckets().get("Buckets", [])}


def _stack_parameters(cfn: Any, stack_name: str) -> dict[str, str]:
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}


def _glue_job_arguments(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """The Glue job's DefaultArguments, with the parameters' values put into !Sub and !Ref
    (other references, e.g. to resources, are left as they are)."""

    def render(value: Any) -> Any:
        if isinstance(value, dict) and "Fn::Sub" in value:
            return re.sub(
                r"\$\{([A-Za-z0-9]+)\}",
                lambda m: parameters.get(m.group(1), m.group(0)),
                value["Fn::Sub"],
            )
        if isinstance(value, dict) and value.get("Ref") in parameters:
            return parameters[value["Ref"]]
        return value

    arguments = template["Resources"]["GlueJob"]["Properties"]["DefaultArguments"]
    return {key: render(value) for key, value in arguments.items()}


# --------------------------------------------------------------------------- moto


@pytest.mark.usefixtures("aws_env", "no_build")
def test_deploy_creates_the_stack_and_uploads_the_artifacts(
    moto_endpoint: str, fake_artifacts: Artifacts
) -> None:
    out = io.StringIO()
    result = deploy(
        "rev-create",
        glue_version="5.1",
        endpoint_url=moto_endpoint,
        artifacts=fake_artifacts,
        poll_seconds=1,
        out=out,
    )
    s3, cfn = _clients(moto_endpoint)

    assert result.status == "CREATE_COMPLETE"
    assert result.region == REGION
    stack = cfn.describe_stacks(StackName="rev-create")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert parameters["GlueVersion"] == "5.1"
    assert parameters["NamePrefix"] == "rev-create"
    assert parameters["DatabaseName"] == "rev_create"
    assert parameters["ArtifactsPrefix"] == f"reviews-etl/0.1.0/{fake_artifacts.digest}"
    assert parameters["GluePythonModules"] == FAKE_MODULES

    # moto does not create AWS::Glue::Job: render its arguments from the deployed template
    # and the stack's parameters. Glue installs the wheel and exactly the pins, no-deps.
    deployed = _load_template(cfn.get_template(StackName="rev-create")["TemplateBody"])
    arguments = _glue_job_arguments(deployed, parameters)
    wheel_url = (
        f"s3://rev-create-artifacts-{ACCOUNT}-{REGION}/{parameters['ArtifactsPrefix']}/"
        "reviews_etl-0.1.0-py3-none-any.whl"
    )
    modules = arguments["--additional-python-modules"].split(",")
    assert modules == [wheel_url, *(f"{n}=={v}" for n, v in FAKE_PINS.items())]
    assert arguments["--python-modules-installer-option"] == "--no-deps"

    landing = f"rev-create-landing-{ACCOUNT}-{REGION}"
    processed = f"rev-create-processed-{ACCOUNT}-{REGION}"
    artifacts_bucket = f"rev-create-artifacts-{ACCOUNT}-{REGION}"
    assert result.outputs["LandingBucketName"] == landing
    assert result.outputs["ProcessedBucketName"] == processed
    assert result.outputs["TriggerFunctionName"] == "rev-create-trigger"
    assert result.outputs["FailureQueueUrl"].endswith("/rev-create-trigger-failures")
    assert result.outputs["LandingQueueUrl"].endswith("/rev-create-landing-events")
    assert result.artifacts_bucket == artifacts_bucket
    assert {landing, processed, f"rev-create-access-logs-{ACCOUNT}-{REGION}"} <= _bucket_names(s3)

    # Stack buckets get default encryption (the part of the lock-down moto applies).
    for bucket in (landing, processed):
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
        assert rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"

    # The artifacts bucket is created locked down by deploy itself.
    block = s3.get_public_access_block(Bucket=artifacts_bucket)["PublicAccessBlockConfiguration"]
    assert len(block) == 4
    assert all(block.values())
    encryption = s3.get_bucket_encryption(Bucket=artifacts_bucket)
    rule = encryption["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_bucket_versioning(Bucket=artifacts_bucket)["Status"] == "Enabled"
    # Old versions expire after 30 days; the trigger's source manifests (MANIFEST_BUCKET is
    # this bucket) are kept 90 days for audit, then become old versions.
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=artifacts_bucket)["Rules"]
    assert {rule["ID"]: rule for rule in lifecycle} == {
        "expire-noncurrent-versions": {
            "ID": "expire-noncurrent-versions",
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        },
        "expire-source-manifests": {
            "ID": "expire-source-manifests",
            "Status": "Enabled",
            "Filter": {"Prefix": "_manifests/"},
            "Expiration": {"Days": 90},
        },
    }
    # Over plain HTTP the TLS-only policy would lock deploy out, so it is left off here.
    with pytest.raises(botocore.exceptions.ClientError):
        s3.get_bucket_policy(Bucket=artifacts_bucket)
    assert "not applying the TLS-only bucket policy" in out.getvalue()

    # Every artifact is uploaded byte for byte under the versioned prefix.
    assert set(result.artifact_keys) == {
        "wheel",
        "lambda_zip",
        "glue_script",
        "glue_requirements",
    }
    for artifact in fake_artifacts:
        key = result.artifact_keys[artifact.kind]
        assert key == f"reviews-etl/0.1.0/{fake_artifacts.digest}/{artifact.path.name}"
        body = s3.get_object(Bucket=artifacts_bucket, Key=key)["Body"].read()
        assert body == artifact.path.read_bytes()

    # The Lambda function moto created from the uploaded zip.
    lam = boto3.client("lambda", region_name=REGION, endpoint_url=moto_endpoint)
    function = lam.get_function_configuration(FunctionName="rev-create-trigger")
    assert function["Runtime"] == "python3.11"
    assert function["Handler"] == "lambda_handler.handler"
    env = function["Environment"]["Variables"]
    assert env["LANDING_BUCKET"] == landing
    assert env["OUTPUT_PATH"] == f"s3://{processed}"
    assert env["ALLOWED_SUFFIXES"] == ".csv,.csv.gz"
    assert env["MANIFEST_BUCKET"] == artifacts_bucket
    assert env["MANIFEST_PREFIX"] == "_manifests/"

    # The landing queue: redrive to the failure queue, read in batches by the function.
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=moto_endpoint)
    landing_queue = result.outputs["LandingQueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=landing_queue, AttributeNames=["All"])[
        "Attributes"
    ]
    failure_arn = sqs.get_queue_attributes(
        QueueUrl=result.outputs["FailureQueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": failure_arn,
        "maxReceiveCount": 5,
    }
    assert attributes["VisibilityTimeout"] == "660"
    (mapping,) = lam.list_event_source_mappings(FunctionName="rev-create-trigger")[
        "EventSourceMappings"
    ]
    assert mapping["EventSourceArn"] == attributes["QueueArn"]
    assert mapping["BatchSize"] == 1000

    logs = boto3.client("logs", region_name=REGION, endpoint_url=moto_endpoint)
    groups = {
        g["logGroupName"]: g.get("retentionInDays")
        for g in logs.describe_log_groups(logGroupNamePrefix="/aws")["logGroups"]
    }
    assert groups["/aws/lambda/rev-create-trigger"] == 30
    assert groups["/aws-glue/jobs/rev-create-etl/error"] == 30

    printed = out.getvalue()
    assert f"aws s3 cp reviews.csv s3://{landing}/" in printed
    assert "CREATE_COMPLETE" in printed


@pytest.mark.usefixtures("aws_env", "no_build")
def test_a_template_over_the_body_limit_goes_through_s3(
    moto_endpoint: str, fake_artifacts: Artifacts, tmp_path: Path
) -> None:
    # Over 51,200 bytes deploy uploads the template and passes its URL. moto's
    # CloudFormation reads a path-style URL only from a "localhost" endpoint.
    endpoint = moto_endpoint.replace("127.0.0.1", "localhost")
    text = TEMPLATE.read_text(encoding="utf-8")
    padding = "# padding\n" * (1 + (stack_module.TEMPLATE_BODY_LIMIT - len(text)) // 10)
    big = tmp_path / "template.yaml"
    big.write_text(text + padding, encoding="utf-8")
    assert big.stat().st_size > stack_module.TEMPLATE_BODY_LIMIT
    result = deploy(
        "rev-big",
        endpoint_url=endpoint,
        template_path=big,
        artifacts=fake_artifacts,
        poll_seconds=1,
        out=io.StringIO(),
    )
    assert result.status == "CREATE_COMPLETE"
    assert result.outputs["LandingQueueUrl"].endswith("/rev-big-landing-events")
    s3, _ = _clients(moto_endpoint)
    key = f"{result.artifact_keys['wheel'].rsplit('/', 1)[0]}/template.yaml"
    assert s3.get_object(Bucket=result.artifacts_bucket, Key=key)["Body"].read() == (
        big.read_bytes()
    )
    destroy("rev-big", endpoint_url=endpoint, poll_seconds=1, out=io.StringIO())


@pytest.mark.usefixtures("aws_env", "no_build")
def test_redeploy_updates_the_same_stack(moto_endpoint: str, fake_artifacts: Artifacts) -> None:
    first = deploy(
        "rev-update",
        endpoint_url=moto_endpoint,
        artifacts=fake_artifacts,
        parameters={"TopN": "7"},
        poll_seconds=1,
        out=io.StringIO(),
    )
    second = deploy(
        "rev-update",
        glue_version="6.0",
        endpoint_url=moto_endpoint,
        artifacts=fake_artifacts,
        poll_seconds=1,
        out=io.StringIO(),
    )
    assert first.status == "CREATE_COMPLETE"
    assert second.status == "UPDATE_COMPLETE"
    assert second.artifact_keys == first.artifact_keys
    _, cfn = _clients(moto_endpoint)
    stack = cfn.describe_stacks(StackName="rev-update")["Stacks"][0]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert parameters["GlueVersion"] == "6.0"
    # A parameter set by an earlier deploy keeps its value instead of reverting.
    assert parameters["TopN"] == "7"


@pytest.mark.usefixtures("aws_env", "no_build")
def test_destroy_empties_every_bucket_and_deletes_the_stack(
    moto_endpoint: str, fake_artifacts: Artifacts
) -> None:
    result = deploy(
        "rev-destroy",
        endpoint_url=moto_endpoint,
        artifacts=fake_artifacts,
        poll_seconds=1,
        out=io.StringIO(),
    )
    s3, cfn = _clients(moto_endpoint)
    landing = result.outputs["LandingBucketName"]
    processed = result.outputs["ProcessedBucketName"]
    # moto ignores the template's VersioningConfiguration: switch it on to have versions
    # and delete markers to clean up, as in a real account.
    s3.put_bucket_versioning(Bucket=landing, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=landing, Key="reviews.csv", Body=b"v1")
    s3.put_object(Bucket=landing, Key="reviews.csv", Body=b"v2")
    s3.delete_object(Bucket=landing, Key="reviews.csv")  # leaves a delete marker
    for index in range(3):
        s3.put_object(Bucket=processed, Key=f"processed-data/source_id=a/part-{index}.parquet")
    s3.put_object(Bucket=processed, Key="Athena Results/rating_distribution/part-0.parquet")
    buckets = {*result.outputs.values()} & _bucket_names(s3)
    assert len(buckets) == 4  # landing, processed, access logs, artifacts

    out = io.StringIO()
    destroyed = destroy("rev-destroy", endpoint_url=moto_endpoint, poll_seconds=1, out=out)

    assert destroyed.stack_deleted is True
    assert set(destroyed.buckets_deleted) == buckets
    # 2 versions + 1 delete marker + 4 processed objects + 4 artifacts.
    assert destroyed.objects_deleted == 11
    assert not buckets & _bucket_names(s3)
    with pytest.raises(botocore.exceptions.ClientError, match="does not exist"):
        cfn.describe_stacks(StackName="rev-destroy")
    assert "stack rev-destroy deleted" in out.getvalue()


@pytest.mark.usefixtures("aws_env")
def test_destroy_without_a_stack_still_removes_the_artifacts_bucket(moto_endpoint: str) -> None:
    s3, _ = _clients(moto_endpoint)
    bucket = f"rev-orphan-artifacts-{ACCOUNT}-{REGION}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=bucket, Key="reviews-etl/0.1.0/x/glue_entrypoint.py", Body=b"x")
    out = io.StringIO()
    result = destroy("rev-orphan", endpoint_url=moto_endpoint, poll_seconds=1, out=out)
    assert result.stack_deleted is False
    assert result.buckets_deleted == [bucket]
    assert bucket not in _bucket_names(s3)
    assert "does not exist" in out.getvalue()


@pytest.mark.usefixtures("aws_env")
def test_cli_handlers_against_moto(
    moto_endpoint: str,
    fake_artifacts: Artifacts,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(packaging, "build_artifacts", lambda out, root=None: fake_artifacts)
    # The CLI waits with the default poll interval; keep the test quick.
    monkeypatch.setattr(cloudformation, "wait", _fast_wait)
    monkeypatch.setattr(stack_module, "wait", _fast_wait)
    code = cli.main(
        [
            "deploy",
            "--stack-name",
            "rev-cli",
            "--region",
            REGION,
            "--endpoint-url",
            moto_endpoint,
            "--parameter",
            "TopN=7",
            "--parameter",
            "TriggerReservedConcurrency=0",
        ]
    )
    assert code == 0
    assert "aws s3 cp reviews.csv s3://rev-cli-landing-" in capsys.readouterr().out
    _, cfn = _clients(moto_endpoint)
    stack = cfn.describe_stacks(StackName="rev-cli")["Stacks"][0]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert parameters["TopN"] == "7"
    assert parameters["TriggerReservedConcurrency"] == "0"
    assert parameters["GlueVersion"] == "5.1"  # the CLI default
    code = cli.main(
        ["destroy", "--stack-name", "rev-cli", "--region", REGION, "--endpoint-url", moto_endpoint]
    )
    assert code == 0
    assert "stack rev-cli deleted" in capsys.readouterr().out


@pytest.mark.usefixtures("aws_env")
def test_a_plain_redeploy_keeps_every_parameter_it_is_not_given(
    moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    releases = iter(
        [_fake_artifacts(tmp_path / "first", "1"), _fake_artifacts(tmp_path / "second", "2")]
    )
    monkeypatch.setattr(packaging, "build_artifacts", lambda out, root=None: next(releases))
    monkeypatch.setattr(cloudformation, "wait", _fast_wait)
    aws_args = ["--stack-name", "rev-keep", "--region", REGION, "--endpoint-url", moto_endpoint]
    first = ["deploy", *aws_args, "--glue-version", "5.0", "--parameter", "GlueTimeoutMinutes=45"]
    assert cli.main(first) == 0
    _, cfn = _clients(moto_endpoint)
    created = _stack_parameters(cfn, "rev-keep")
    assert (created["GlueVersion"], created["GlueTimeoutMinutes"]) == ("5.0", "45")

    # A new release (new artifacts prefix), deployed with neither option.
    assert cli.main(["deploy", *aws_args]) == 0
    stack = cfn.describe_stacks(StackName="rev-keep")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    updated = _stack_parameters(cfn, "rev-keep")
    assert updated["ArtifactsPrefix"] != created["ArtifactsPrefix"]  # computed: always passed
    assert updated["GlueVersion"] == "5.0"  # not back to the template's 5.1
    assert updated["GlueTimeoutMinutes"] == "45"
    assert updated["GluePythonModules"] == FAKE_MODULES
    destroy("rev-keep", endpoint_url=moto_endpoint, poll_seconds=1, out=io.StringIO())


_real_wait = cloudformation.wait


def _fast_wait(cfn: Any, waiter: str, stack: str, poll: int, timeout: int) -> None:
    _real_wait(cfn, waiter, stack, 1, timeout)


@pytest.mark.slow
@pytest.mark.usefixtures("aws_env")
def test_deploy_with_real_artifacts(moto_endpoint: str, tmp_path: Path) -> None:
    handler = tmp_path / "lambda_handler.py"
    handler.write_text("def handler(event, context):\n    return None\n")
    script = tmp_path / "glue_entrypoint.py"
    script.write_text("print('glue')\n")
    artifacts = packaging.build_artifacts(
        tmp_path / "dist", lambda_handler=handler, glue_script=script
    )
    result = deploy(
        "rev-real",
        endpoint_url=moto_endpoint,
        artifacts=artifacts,
        poll_seconds=1,
        out=io.StringIO(),
    )
    s3, _ = _clients(moto_endpoint)
    wheel_key = result.artifact_keys["wheel"]
    assert wheel_key.endswith(f"/reviews_etl-{artifacts.version}-py3-none-any.whl")
    head = s3.head_object(Bucket=result.artifacts_bucket, Key=wheel_key)
    assert head["ContentLength"] == artifacts.wheel.size
    destroy("rev-real", endpoint_url=moto_endpoint, poll_seconds=1, out=io.StringIO())


# --------------------------------------------------------------------------- errors


def test_missing_region_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_build: None
) -> None:
    _isolate_aws_config(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with pytest.raises(ConfigError, match="no AWS region"):
        deploy("rev-noregion", out=io.StringIO())
    with pytest.raises(ConfigError, match="no AWS region"):
        destroy("rev-noregion", out=io.StringIO())


def test_missing_credentials_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_build: None
) -> None:
    _isolate_aws_config(monkeypatch, tmp_path)
    with pytest.raises(ConfigError, match="no AWS credentials"):
        deploy("rev-nocreds", region=REGION, out=io.StringIO())
    with pytest.raises(ConfigError, match="no AWS credentials"):
        destroy("rev-nocreds", region=REGION, out=io.StringIO())


def test_cli_returns_2_on_config_errors(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_build: None,
) -> None:
    _isolate_aws_config(monkeypatch, tmp_path)
    assert cli.main(["deploy", "--stack-name", "rev-cli-err", "--region", REGION]) == 2
    assert "error: no AWS credentials" in capsys.readouterr().err
    assert cli.main(["destroy", "--stack-name", "rev-cli-err"]) == 2
    assert "error: no AWS region" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name", ["x", "9starts-with-digit", "has_underscore", "far-too-long-stack-name-here", "end-"]
)
def test_invalid_stack_names(name: str, no_build: None) -> None:
    with pytest.raises(ConfigError, match="stack name"):
        deploy(name, region=REGION, out=io.StringIO())


def test_invalid_glue_version(no_build: None) -> None:
    with pytest.raises(ConfigError, match=r"glue version '4\.0'"):
        deploy("rev-glue", region=REGION, glue_version="4.0", out=io.StringIO())


def test_names_follow_the_template() -> None:
    assert aws.name_prefix("Reviews-ETL") == "reviews-etl"
    assert aws.database_name("reviews-etl-dev") == "reviews_etl_dev"
    assert (
        aws.artifacts_bucket_name("reviews-etl", ACCOUNT, "ap-southeast-2")
        == f"reviews-etl-artifacts-{ACCOUNT}-ap-southeast-2"
    )


def test_cli_passes_parameters_and_options_to_deploy(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[tuple[object, ...], dict[str, object]]] = []

    def fake_deploy(*args: object, **kwargs: object) -> None:
        calls.append((args, kwargs))

    monkeypatch.setattr(reviews_etl.deploy, "deploy", fake_deploy)
    argv = ["deploy", "--stack-name", "rev-params", "--region", REGION, "--glue-version", "6.0"]
    argv += ["--parameter", "TopN=10", "--parameter", "LandingPrefix=in/", "--parameter", "X="]
    argv += ["--project-root", "some/checkout"]
    assert cli.main(argv) == 0
    (args, kwargs), *_ = calls
    assert args == ("rev-params",)
    assert kwargs["parameters"] == {"TopN": "10", "LandingPrefix": "in/", "X": ""}
    assert kwargs["glue_version"] == "6.0"
    assert kwargs["region"] == REGION
    assert kwargs["project_root"] == "some/checkout"


def test_cli_leaves_the_glue_version_to_the_stack_unless_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, object]] = []
    monkeypatch.setattr(reviews_etl.deploy, "deploy", lambda *a, **kw: calls.append(kw))
    assert cli.main(["deploy", "--stack-name", "rev-params", "--region", REGION]) == 0
    assert calls[0]["glue_version"] is None


@pytest.mark.parametrize("item", ["TopN", "Bad Name=1"])
def test_cli_refuses_malformed_parameters(
    item: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(reviews_etl.deploy, "deploy", _must_not_run)
    argv = ["deploy", "--stack-name", "rev-params", "--region", REGION, "--parameter", item]
    assert cli.main(argv) == 2
    assert "NAME=VALUE" in capsys.readouterr().err


def _must_not_run(*args: object, **kwargs: object) -> None:
    raise AssertionError("deploy must not run")


def test_tls_only_policy() -> None:
    policy = json.loads(buckets.tls_only_policy("b"))
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Resource"] == ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


# --------------------------------------------------------------------------- template


def test_the_glue_job_installs_the_wheel_and_only_exact_pins() -> None:
    template = _load_template(TEMPLATE.read_text(encoding="utf-8"))
    arguments = template["Resources"]["GlueJob"]["Properties"]["DefaultArguments"]
    assert arguments["--additional-python-modules"] == {
        "Fn::Sub": "s3://${ArtifactsBucketName}/${ArtifactsPrefix}/${WheelFileName},"
        "${GluePythonModules}"
    }
    assert arguments["--python-modules-installer-option"] == "--no-deps"
    parameter = template["Parameters"]["GluePythonModules"]
    assert "Default" not in parameter  # every deploy passes the pins it built
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch(FAKE_MODULES)
    assert pattern.fullmatch("pydantic==2.11.7")
    for unpinned in (
        "pydantic~=2.6",
        "pydantic>=2.6",
        "pydantic",
        "pydantic==2.11.7,pydantic-settings",
        "pydantic==2.11.7,typing-extensions>=4",
        "pydantic==2.11.7 ,annotated-types==0.7.0",
        "",
    ):
        assert not pattern.fullmatch(unpinned), unpinned


def test_the_template_default_glue_version_is_the_documented_one() -> None:
    template = _load_template(TEMPLATE.read_text(encoding="utf-8"))
    parameter = template["Parameters"]["GlueVersion"]
    assert parameter["Default"] == reviews_etl.deploy.DEFAULT_GLUE_VERSION == "5.1"
    assert tuple(parameter["AllowedValues"]) == reviews_etl.deploy.GLUE_VERSIONS
