"""Deploy the pipeline to an AWS account with CloudFormation, and tear it down again.

``deploy`` builds the artifacts (:mod:`reviews_etl.packaging`), creates the artifacts
bucket if needed (public access blocked, SSE-S3, versioned, TLS-only), uploads the
artifacts under ``reviews-etl/<version>/<digest>/``, then creates or updates the stack of
``infra/template.yaml`` and waits for it. ``destroy`` empties every bucket of the stack
(all versions and delete markers) and the artifacts bucket, deletes the stack and waits.

Works against any endpoint (``endpoint_url``), e.g. a moto server in the tests. No
pyspark is imported here.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import boto3
import botocore.exceptions
from botocore.config import Config

from reviews_etl import packaging
from reviews_etl.errors import ConfigError, ReviewsEtlError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import ParameterTypeDef
    from mypy_boto3_s3 import S3Client

GLUE_VERSIONS = ("5.0", "5.1", "6.0")
DEFAULT_GLUE_VERSION = "5.1"
TEMPLATE_RELATIVE_PATH = Path("infra") / "template.yaml"
ARTIFACTS_KEY_ROOT = "reviews-etl"
# CloudFormation accepts inline template bodies up to this size; larger ones go via S3.
TEMPLATE_BODY_LIMIT = 51_200
# NamePrefix in the template: it becomes part of bucket, job and function names.
_NAME_PREFIX_RE = re.compile(r"^[a-z][a-z0-9-]{1,18}[a-z0-9]$")
_STACK_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
_NO_UPDATES = "No updates are to be performed"
_BUSY_SUFFIX = "_IN_PROGRESS"


class DeployError(ReviewsEtlError):
    """The stack or the artifacts bucket could not be created, updated or deleted."""


@dataclass(frozen=True)
class DeployResult:
    stack_name: str
    region: str
    status: str
    outputs: dict[str, str]
    artifacts_bucket: str
    artifact_keys: dict[str, str]
    changed: bool = True


@dataclass(frozen=True)
class DestroyResult:
    stack_name: str
    region: str
    stack_deleted: bool
    buckets_deleted: list[str] = field(default_factory=list)
    objects_deleted: int = 0


@dataclass(frozen=True)
class _Aws:
    """Clients for one region and endpoint, after the credentials were checked."""

    session: boto3.session.Session
    region: str
    account_id: str
    endpoint_url: str | None

    @property
    def partition(self) -> str:
        try:
            return self.session.get_partition_for_region(self.region)
        except (ValueError, botocore.exceptions.BotoCoreError):
            return "aws"

    def s3(self) -> S3Client:
        # Path-style addressing: virtual-host names do not resolve on a local endpoint.
        config = Config(s3={"addressing_style": "path"}) if self.endpoint_url else None
        return self.session.client(
            "s3", region_name=self.region, endpoint_url=self.endpoint_url, config=config
        )

    def cloudformation(self) -> CloudFormationClient:
        return self.session.client(
            "cloudformation", region_name=self.region, endpoint_url=self.endpoint_url
        )


# ------------------------------------------------------------------------------ names


def name_prefix(stack_name: str) -> str:
    """The template's NamePrefix for a stack: the stack name, lower-cased (3-20 chars)."""
    if not _STACK_NAME_RE.match(stack_name):
        raise ConfigError(
            f"stack name {stack_name!r} is invalid: it must start with a letter and hold only "
            "letters, digits and hyphens"
        )
    prefix = stack_name.lower()
    if not _NAME_PREFIX_RE.match(prefix):
        raise ConfigError(
            f"stack name {stack_name!r} must be 3-20 characters and not end with a hyphen: it "
            "prefixes the bucket names <stack>-<role>-<account>-<region> (63 characters at most)"
        )
    return prefix


def database_name(stack_name: str) -> str:
    return name_prefix(stack_name).replace("-", "_")


def artifacts_bucket_name(stack_name: str, account_id: str, region: str) -> str:
    return f"{name_prefix(stack_name)}-artifacts-{account_id}-{region}"


# ------------------------------------------------------------------------------ session


def _connect(region: str | None, endpoint_url: str | None) -> _Aws:
    """Check region and credentials before anything else; raise ConfigError if missing."""
    try:
        session = boto3.session.Session(region_name=region)
        resolved_region = session.region_name
        credentials = session.get_credentials()
    except botocore.exceptions.BotoCoreError as exc:
        raise ConfigError(f"AWS configuration: {exc}") from exc
    if not resolved_region:
        raise ConfigError(
            "no AWS region: pass --region, set AWS_REGION / AWS_DEFAULT_REGION, or give the "
            "profile a region (aws configure)"
        )
    if credentials is None:
        raise ConfigError(
            "no AWS credentials found: set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, choose a "
            "profile with AWS_PROFILE, or run `aws configure` / `aws sso login`"
        )
    sts = session.client("sts", region_name=resolved_region, endpoint_url=endpoint_url)
    try:
        account_id = sts.get_caller_identity()["Account"]
    except botocore.exceptions.NoCredentialsError as exc:
        raise ConfigError(f"no usable AWS credentials: {exc}") from exc
    except botocore.exceptions.ClientError as exc:
        raise ConfigError(f"AWS credentials rejected ({_code(exc)}): {_message(exc)}") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise ConfigError(f"cannot reach AWS STS in {resolved_region}: {exc}") from exc
    return _Aws(session, resolved_region, account_id, endpoint_url)


# ------------------------------------------------------------------------------ deploy


def deploy(
    stack_name: str,
    region: str | None = None,
    glue_version: str = DEFAULT_GLUE_VERSION,
    endpoint_url: str | None = None,
    *,
    project_root: str | Path | None = None,
    template_path: str | Path | None = None,
    artifacts: packaging.Artifacts | None = None,
    parameters: Mapping[str, str] | None = None,
    poll_seconds: int = 10,
    timeout_seconds: int = 3600,
    out: TextIO | None = None,
) -> DeployResult:
    """Package, upload and create or update the stack; print the outputs.

    ``artifacts`` skips the build (already built files); ``parameters`` overrides template
    parameters (e.g. ``{"GlueNumberOfWorkers": "4"}``). Raises :class:`ConfigError` for
    missing credentials/region or bad arguments, :class:`DeployError` when AWS fails.
    """
    stream = out if out is not None else sys.stdout
    prefix = name_prefix(stack_name)
    if glue_version not in GLUE_VERSIONS:
        raise ConfigError(
            f"glue version {glue_version!r} is not supported; "
            f"choose one of {', '.join(GLUE_VERSIONS)}"
        )
    aws = _connect(region, endpoint_url)
    root = Path(project_root) if project_root is not None else None
    template_file = Path(template_path) if template_path else _default_template(root)
    template_body = _read_template(template_file)

    s3 = aws.s3()
    cfn = aws.cloudformation()
    bucket = artifacts_bucket_name(stack_name, aws.account_id, aws.region)

    with tempfile.TemporaryDirectory(prefix="reviews-etl-deploy-") as tmp:
        if artifacts is None:
            _say(stream, "building artifacts ...")
            artifacts = packaging.build_artifacts(tmp, root)
        for artifact in artifacts:
            _say(
                stream,
                f"  {artifact.kind:<12} {artifact.path.name}  "
                f"{packaging.format_size(artifact.size)}",
            )

        _say(stream, f"artifacts bucket s3://{bucket}")
        plain_http = bool(endpoint_url and endpoint_url.lower().startswith("http://"))
        if plain_http:
            _say(stream, "  endpoint is plain HTTP: not applying the TLS-only bucket policy")
        ensure_artifacts_bucket(
            s3,
            bucket,
            aws.region,
            aws.account_id,
            tls_only=not plain_http,
            partition=aws.partition,
        )
        key_prefix = f"{ARTIFACTS_KEY_ROOT}/{artifacts.version}/{artifacts.digest}"
        keys = upload_artifacts(s3, bucket, key_prefix, artifacts)
        for kind, key in keys.items():
            _say(stream, f"  uploaded {kind:<12} s3://{bucket}/{key}")

    template_kwargs: dict[str, str] = {"TemplateBody": template_body}
    if len(template_body.encode("utf-8")) > TEMPLATE_BODY_LIMIT:
        template_key = f"{key_prefix}/template.yaml"
        s3.put_object(
            Bucket=bucket,
            Key=template_key,
            Body=template_body.encode("utf-8"),
            ServerSideEncryption="AES256",
        )
        template_kwargs = {"TemplateURL": _object_url(aws, bucket, template_key)}

    stack_parameters: dict[str, str] = {
        "NamePrefix": prefix,
        "DatabaseName": database_name(stack_name),
        "ArtifactsBucketName": bucket,
        "ArtifactsPrefix": key_prefix,
        "WheelFileName": artifacts.wheel.path.name,
        "LambdaZipFileName": artifacts.lambda_zip.path.name,
        "GlueVersion": glue_version,
        **dict(parameters or {}),
    }
    cfn_parameters: list[ParameterTypeDef] = [
        {"ParameterKey": k, "ParameterValue": v} for k, v in stack_parameters.items()
    ]
    status, changed = create_or_update_stack(
        cfn,
        stack_name,
        template_kwargs,
        cfn_parameters,
        poll_seconds=poll_seconds,
        timeout_seconds=timeout_seconds,
        out=stream,
    )
    outputs = stack_outputs(cfn, stack_name)
    _print_outputs(stream, stack_name, aws.region, status, outputs)
    return DeployResult(
        stack_name=stack_name,
        region=aws.region,
        status=status,
        outputs=outputs,
        artifacts_bucket=bucket,
        artifact_keys=keys,
        changed=changed,
    )


def ensure_artifacts_bucket(
    s3: S3Client,
    bucket: str,
    region: str,
    account_id: str,
    *,
    tls_only: bool = True,
    partition: str = "aws",
) -> None:
    """Create the artifacts bucket if missing, and (re)apply its lock-down either way.

    ``tls_only=False`` leaves out the bucket policy denying non-TLS requests: only for a
    plain-HTTP endpoint (a local emulator), where that policy would deny every request.
    """
    try:
        s3.head_bucket(Bucket=bucket)
        exists = True
    except botocore.exceptions.ClientError as exc:
        code = _code(exc)
        if code in {"404", "NoSuchBucket", "NotFound"}:
            exists = False
        elif code in {"403", "AccessDenied", "Forbidden"}:
            raise DeployError(
                f"artifacts bucket {bucket} exists but is not accessible to this account "
                f"({account_id}); was it created by another account?"
            ) from exc
        else:
            raise DeployError(f"checking artifacts bucket {bucket}: {_message(exc)}") from exc
    if not exists:
        try:
            if region == "us-east-1":
                s3.create_bucket(Bucket=bucket, ObjectOwnership="BucketOwnerEnforced")
            else:
                s3.create_bucket(
                    Bucket=bucket,
                    CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
                    ObjectOwnership="BucketOwnerEnforced",
                )
        except botocore.exceptions.ClientError as exc:
            if _code(exc) != "BucketAlreadyOwnedByYou":
                raise DeployError(f"creating artifacts bucket {bucket}: {_message(exc)}") from exc
    _lock_down_bucket(s3, bucket, tls_only=tls_only, partition=partition)


def _lock_down_bucket(s3: S3Client, bucket: str, *, tls_only: bool, partition: str) -> None:
    try:
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket,
            LifecycleConfiguration={
                "Rules": [
                    {
                        "ID": "expire-noncurrent-versions",
                        "Status": "Enabled",
                        "Filter": {"Prefix": ""},
                        "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                    }
                ]
            },
        )
        if tls_only:
            s3.put_bucket_policy(Bucket=bucket, Policy=tls_only_policy(bucket, partition))
    except botocore.exceptions.ClientError as exc:
        raise DeployError(f"locking down artifacts bucket {bucket}: {_message(exc)}") from exc


def tls_only_policy(bucket: str, partition: str = "aws") -> str:
    """A bucket policy denying every request not made over TLS."""
    arn = f"arn:{partition}:s3:::{bucket}"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [arn, f"{arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def upload_artifacts(
    s3: S3Client, bucket: str, key_prefix: str, artifacts: packaging.Artifacts
) -> dict[str, str]:
    """Upload the three files under ``key_prefix``; returns kind -> key."""
    keys: dict[str, str] = {}
    for artifact in artifacts:
        key = f"{key_prefix}/{artifact.path.name}"
        try:
            s3.upload_file(
                str(artifact.path),
                bucket,
                key,
                ExtraArgs={"ServerSideEncryption": "AES256"},
            )
        except (botocore.exceptions.ClientError, boto3.exceptions.S3UploadFailedError) as exc:
            raise DeployError(f"uploading {artifact.path} to s3://{bucket}/{key}: {exc}") from exc
        keys[artifact.kind] = key
    return keys


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
    status = _stack_status(cfn, stack_name)
    if status is not None and status.endswith(_BUSY_SUFFIX):
        raise DeployError(f"stack {stack_name} is busy ({status}); try again when it settles")
    if status == "ROLLBACK_COMPLETE":
        # A stack whose creation failed cannot be updated: it holds no resources, so delete it.
        _say(
            stream,
            f"stack {stack_name} is in ROLLBACK_COMPLETE after a failed create; deleting it first",
        )
        cfn.delete_stack(StackName=stack_name)
        _wait(cfn, "stack_delete_complete", stack_name, poll_seconds, timeout_seconds)
        status = None

    common: dict[str, Any] = {
        "StackName": stack_name,
        "Parameters": parameters,
        "Capabilities": ["CAPABILITY_IAM"],
        **template,
    }
    try:
        if status is None:
            _say(stream, f"creating stack {stack_name} ...")
            cfn.create_stack(
                **common,
                OnFailure="ROLLBACK",
                Tags=[{"Key": "project", "Value": "reviews-etl"}],
            )
            waiter = "stack_create_complete"
        else:
            _say(stream, f"updating stack {stack_name} ({status}) ...")
            common["Parameters"] = _keep_previous_values(cfn, stack_name, template, parameters)
            cfn.update_stack(**common)
            waiter = "stack_update_complete"
    except botocore.exceptions.ClientError as exc:
        if _NO_UPDATES in _message(exc):
            _say(stream, f"stack {stack_name} is already up to date (no changes)")
            return status or "UNKNOWN", False
        raise DeployError(f"stack {stack_name}: {_message(exc)}") from exc

    try:
        _wait(cfn, waiter, stack_name, poll_seconds, timeout_seconds)
    except DeployError as exc:
        reasons = failure_reasons(cfn, stack_name)
        detail = "".join(f"\n  {reason}" for reason in reasons)
        raise DeployError(f"{exc}{detail}") from exc
    final = _stack_status(cfn, stack_name) or "UNKNOWN"
    return final, True


def _keep_previous_values(
    cfn: CloudFormationClient,
    stack_name: str,
    template: Mapping[str, str],
    parameters: list[ParameterTypeDef],
) -> list[ParameterTypeDef]:
    """Parameters for an update: the given ones, plus "use the previous value" for every
    parameter this deploy leaves out whose current value differs from the new template's
    default (e.g. one set earlier with --parameter).

    Without this, an update resets such parameters to their template defaults.
    Parameters already at their default are simply left out, which is equivalent.
    """
    given = {p["ParameterKey"] for p in parameters if "ParameterKey" in p}
    try:
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        summary = cfn.get_template_summary(**template)  # type: ignore[arg-type]
    except botocore.exceptions.ClientError:
        return parameters
    defaults = {
        p["ParameterKey"]: p.get("DefaultValue")
        for p in summary.get("Parameters", [])
        if "ParameterKey" in p
    }
    kept: list[ParameterTypeDef] = []
    for previous in stack.get("Parameters", []):
        key = previous.get("ParameterKey")
        if key is None or key in given or key not in defaults:
            continue
        if previous.get("ParameterValue") != defaults[key]:
            kept.append({"ParameterKey": key, "UsePreviousValue": True})
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


def _print_outputs(
    stream: TextIO, stack_name: str, region: str, status: str, outputs: Mapping[str, str]
) -> None:
    _say(stream, f"stack {stack_name}: {status}")
    width = max((len(k) for k in outputs), default=0)
    for key in sorted(outputs):
        _say(stream, f"  {key:<{width}}  {outputs[key]}")
    landing = outputs.get("LandingBucketName")
    if landing:
        _say(stream, "")
        _say(stream, "upload a review file to start a run:")
        _say(stream, f"  aws s3 cp reviews.csv s3://{landing}/ --region {region}")
    job = outputs.get("GlueJobName")
    if job:
        _say(stream, "follow the job runs:")
        _say(
            stream,
            f"  aws glue get-job-runs --job-name {job} --region {region} "
            "--query 'JobRuns[].[Id,JobRunState,ErrorMessage]'",
        )


# ------------------------------------------------------------------------------ destroy


def destroy(
    stack_name: str,
    region: str | None = None,
    endpoint_url: str | None = None,
    *,
    poll_seconds: int = 10,
    timeout_seconds: int = 3600,
    out: TextIO | None = None,
) -> DestroyResult:
    """Empty every bucket of the stack and the artifacts bucket, delete the stack, wait."""
    stream = out if out is not None else sys.stdout
    name_prefix(stack_name)
    aws = _connect(region, endpoint_url)
    s3 = aws.s3()
    cfn = aws.cloudformation()
    deleted_objects = 0
    deleted_buckets: list[str] = []

    status = _stack_status(cfn, stack_name)
    stack_deleted = False
    if status is None:
        _say(stream, f"stack {stack_name} does not exist in {aws.region}")
    else:
        if status.endswith(_BUSY_SUFFIX) and status != "DELETE_IN_PROGRESS":
            raise DeployError(f"stack {stack_name} is busy ({status}); try again when it settles")
        buckets = stack_buckets(cfn, stack_name)
        # Server access logs can still arrive while the stack is deleted, so a failed
        # deletion is retried once after emptying the buckets again.
        for attempt in (1, 2):
            for bucket in buckets:
                count = empty_bucket(s3, bucket)
                deleted_objects += count
                _say(stream, f"emptied s3://{bucket} ({count} object versions)")
            _say(stream, f"deleting stack {stack_name} ...")
            cfn.delete_stack(StackName=stack_name)
            try:
                _wait(cfn, "stack_delete_complete", stack_name, poll_seconds, timeout_seconds)
            except DeployError as exc:
                if attempt == 2:
                    reasons = "".join(f"\n  {r}" for r in failure_reasons(cfn, stack_name))
                    raise DeployError(f"{exc}{reasons}") from exc
                _say(stream, "stack deletion failed; emptying the buckets again and retrying")
                continue
            break
        stack_deleted = True
        deleted_buckets.extend(buckets)
        _say(stream, f"stack {stack_name} deleted")

    bucket = artifacts_bucket_name(stack_name, aws.account_id, aws.region)
    if _bucket_exists(s3, bucket):
        count = empty_bucket(s3, bucket)
        deleted_objects += count
        try:
            s3.delete_bucket(Bucket=bucket)
        except botocore.exceptions.ClientError as exc:
            raise DeployError(f"deleting artifacts bucket {bucket}: {_message(exc)}") from exc
        deleted_buckets.append(bucket)
        _say(stream, f"deleted artifacts bucket s3://{bucket} ({count} object versions)")
    return DestroyResult(
        stack_name=stack_name,
        region=aws.region,
        stack_deleted=stack_deleted,
        buckets_deleted=deleted_buckets,
        objects_deleted=deleted_objects,
    )


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


def empty_bucket(s3: S3Client, bucket: str) -> int:
    """Delete every object version and delete marker; returns how many were deleted."""
    deleted = 0
    paginator = s3.get_paginator("list_object_versions")
    try:
        for page in paginator.paginate(Bucket=bucket):
            entries = [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            batch = [
                {"Key": e["Key"], "VersionId": e.get("VersionId") or "null"}
                for e in entries
                if "Key" in e
            ]
            for start in range(0, len(batch), 1000):
                chunk = batch[start : start + 1000]
                response = s3.delete_objects(
                    Bucket=bucket,
                    Delete={"Objects": chunk, "Quiet": True},  # type: ignore[typeddict-item]
                )
                errors = response.get("Errors", [])
                if errors:
                    first = errors[0]
                    raise DeployError(
                        f"emptying s3://{bucket}: {len(errors)} objects not deleted, e.g. "
                        f"{first.get('Key')}: {first.get('Code')} {first.get('Message')}"
                    )
                deleted += len(chunk)
    except botocore.exceptions.ClientError as exc:
        if _code(exc) == "NoSuchBucket":
            return deleted
        raise DeployError(f"emptying s3://{bucket}: {_message(exc)}") from exc
    return deleted


# ------------------------------------------------------------------------------ helpers


def _default_template(project_root: Path | None) -> Path:
    root = project_root if project_root is not None else packaging.find_project_root()
    return root / TEMPLATE_RELATIVE_PATH


def _read_template(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the CloudFormation template: {exc}") from exc


def _stack_status(cfn: CloudFormationClient, stack_name: str) -> str | None:
    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except botocore.exceptions.ClientError as exc:
        if "does not exist" in _message(exc):
            return None
        raise DeployError(f"describing stack {stack_name}: {_message(exc)}") from exc
    if not stacks or stacks[0].get("StackStatus") == "DELETE_COMPLETE":
        return None
    return stacks[0]["StackStatus"]


def _wait(
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
            status = _stack_status(cfn, stack_name)
        except DeployError:
            status = None
        if waiter_name == "stack_delete_complete" and status is None:
            return
        raise DeployError(
            f"stack {stack_name}: {waiter_name.replace('_', ' ')} failed "
            f"(status {status or 'unknown'}): {exc}"
        ) from exc


def _bucket_exists(s3: S3Client, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as exc:
        if _code(exc) in {"404", "NoSuchBucket", "NotFound"}:
            return False
        raise DeployError(f"checking bucket {bucket}: {_message(exc)}") from exc
    return True


def _object_url(aws: _Aws, bucket: str, key: str) -> str:
    if aws.endpoint_url:
        return f"{aws.endpoint_url.rstrip('/')}/{bucket}/{key}"
    return f"https://{bucket}.s3.{aws.region}.amazonaws.com/{key}"


def _code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _message(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", "")) or str(exc)


def _say(stream: TextIO, line: str) -> None:
    print(line, file=stream, flush=True)


# ------------------------------------------------------------------------------ CLI


def add_deploy_parsers(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """Register ``deploy`` and ``destroy``; each sets ``args.func`` to its handler."""
    deploy_parser = subparsers.add_parser(
        "deploy",
        help="package, upload and deploy the pipeline to AWS with CloudFormation",
        description=(
            "Build the artifacts, upload them to a locked-down artifacts bucket and create or "
            "update the CloudFormation stack of infra/template.yaml. See docs/deploy.md."
        ),
    )
    _common_aws_arguments(deploy_parser)
    deploy_parser.add_argument(
        "--glue-version",
        choices=GLUE_VERSIONS,
        default=DEFAULT_GLUE_VERSION,
        help=f"AWS Glue version (default {DEFAULT_GLUE_VERSION})",
    )
    deploy_parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a template parameter, e.g. GlueNumberOfWorkers=4 (repeatable)",
    )
    deploy_parser.add_argument(
        "--project-root",
        metavar="DIR",
        default=None,
        help="source checkout to build from (default: found from the installed package)",
    )
    deploy_parser.set_defaults(func=run_deploy)

    destroy_parser = subparsers.add_parser(
        "destroy",
        help="empty the stack's buckets and the artifacts bucket, then delete the stack",
        description=(
            "Delete every object version in the stack's buckets and in the artifacts bucket, "
            "delete the stack and the artifacts bucket. Irreversible."
        ),
    )
    _common_aws_arguments(destroy_parser)
    destroy_parser.set_defaults(func=run_destroy)
    return deploy_parser, destroy_parser


def _common_aws_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack-name", required=True, metavar="NAME", help="CloudFormation stack")
    parser.add_argument("--region", default=None, help="AWS region (default: from the profile)")
    parser.add_argument(
        "--endpoint-url",
        default=None,
        metavar="URL",
        help="AWS endpoint to talk to instead of AWS (e.g. a local moto server)",
    )


def parse_parameters(items: list[str]) -> dict[str, str]:
    """``["Name=value", ...]`` -> ``{"Name": "value"}``; raises ConfigError on bad items."""
    parameters: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z0-9]+", name.strip()):
            raise ConfigError(f"--parameter {item!r}: expected NAME=VALUE, e.g. TopN=10")
        parameters[name.strip()] = value
    return parameters


def run_deploy(args: argparse.Namespace) -> int:
    return _run_cli(
        lambda: deploy(
            args.stack_name,
            region=args.region,
            glue_version=args.glue_version,
            endpoint_url=args.endpoint_url,
            project_root=getattr(args, "project_root", None),
            parameters=parse_parameters(getattr(args, "parameter", None) or []),
        )
    )


def run_destroy(args: argparse.Namespace) -> int:
    return _run_cli(
        lambda: destroy(args.stack_name, region=args.region, endpoint_url=args.endpoint_url)
    )


def _run_cli(action: Callable[[], object]) -> int:
    try:
        action()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ReviewsEtlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except botocore.exceptions.BotoCoreError as exc:
        print(f"error: AWS: {exc}", file=sys.stderr)
        return 1
    except botocore.exceptions.ClientError as exc:
        print(f"error: AWS: {_message(exc)}", file=sys.stderr)
        return 1
    return 0
