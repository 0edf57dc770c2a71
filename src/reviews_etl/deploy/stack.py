"""``deploy`` and ``destroy``: the two workflows the command line runs.

``deploy`` builds the artifacts (:mod:`reviews_etl.deploy.packaging`), creates the artifacts
bucket if needed (public access blocked, SSE-S3, versioned, TLS-only), uploads the
artifacts under ``reviews-etl/<version>/<digest>/``, then creates or updates the stack of
the CloudFormation template shipped in the package (``infra/template.yaml`` in a checkout)
and waits for it. It always passes what it computes (names, the artifacts' prefix and
file names, the Glue pins ``GluePythonModules``); every other parameter is passed only
when given, so a re-deploy keeps the stack's values (Glue version included) and a new
stack gets the template's defaults. ``destroy`` empties every bucket of the stack (all
versions and delete markers) and the artifacts bucket, deletes the stack and waits. Both
work from a checkout and from an installed wheel (the template is package data).

Works against any endpoint (``endpoint_url``), e.g. a moto server in the tests. No pyspark.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import botocore.exceptions

from reviews_etl.deploy import packaging
from reviews_etl.deploy.aws import (
    AwsAccount,
    artifacts_bucket_name,
    connect,
    database_name,
    error_message,
    name_prefix,
    say,
)
from reviews_etl.deploy.buckets import (
    bucket_exists,
    empty_bucket,
    ensure_artifacts_bucket,
    object_url,
    upload_artifacts,
)
from reviews_etl.deploy.cloudformation import (
    BUSY_SUFFIX,
    create_or_update_stack,
    failure_reasons,
    stack_buckets,
    stack_outputs,
    stack_status,
    wait,
)
from reviews_etl.deploy.pins import glue_python_modules
from reviews_etl.errors import ConfigError, DeployError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import ParameterTypeDef
    from mypy_boto3_s3 import S3Client

GLUE_VERSIONS = ("5.0", "5.1", "6.0")
DEFAULT_GLUE_VERSION = "5.1"
ARTIFACTS_KEY_ROOT = "reviews-etl"
# CloudFormation accepts inline template bodies up to this size; larger ones go via S3.
TEMPLATE_BODY_LIMIT = 51_200
# Package data: in a checkout, a link to infra/template.yaml (the one copy).
TEMPLATE_NAME = "template.yaml"


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


def deploy(
    stack_name: str,
    region: str | None = None,
    glue_version: str | None = None,
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

    ``glue_version`` None: the template's default (5.1) for a new stack, the stack's
    current version on a re-deploy. ``artifacts`` skips the build (already built files);
    ``parameters`` overrides template parameters (e.g. ``{"GlueNumberOfWorkers": "4"}``);
    parameters not given keep their current values on a re-deploy. Raises
    :class:`ConfigError` for missing credentials/region or bad arguments,
    :class:`DeployError` when AWS fails.
    """
    stream = out if out is not None else sys.stdout
    name_prefix(stack_name)
    _check_glue_version(glue_version)
    aws = connect(region, endpoint_url)
    template_body = template_text(template_path)
    s3 = aws.s3()
    cfn = aws.cloudformation()
    with tempfile.TemporaryDirectory(prefix="reviews-etl-deploy-") as tmp:
        built = _built_artifacts(artifacts, tmp, project_root, stream)
        uploaded = _upload(aws, s3, stack_name, built, stream)
    status, changed = create_or_update_stack(
        cfn,
        stack_name,
        _template_source(aws, s3, uploaded, template_body),
        _stack_parameters(stack_name, uploaded, glue_version, parameters),
        poll_seconds=poll_seconds,
        timeout_seconds=timeout_seconds,
        out=stream,
    )
    outputs = stack_outputs(cfn, stack_name)
    _print_outputs(stream, stack_name, aws.region, status, outputs)
    return DeployResult(
        stack_name, aws.region, status, outputs, uploaded.bucket, uploaded.keys, changed
    )


@dataclass(frozen=True)
class _Uploaded:
    """Where a deploy put the artifacts, and what the stack parameters need of them."""

    bucket: str
    key_prefix: str
    keys: dict[str, str]
    wheel_name: str
    lambda_zip_name: str
    glue_modules: str


def _check_glue_version(glue_version: str | None) -> None:
    if glue_version is not None and glue_version not in GLUE_VERSIONS:
        raise ConfigError(
            f"glue version {glue_version!r} is not supported; "
            f"choose one of {', '.join(GLUE_VERSIONS)}"
        )


def _built_artifacts(
    artifacts: packaging.Artifacts | None,
    tmp: str,
    project_root: str | Path | None,
    stream: TextIO,
) -> packaging.Artifacts:
    """``artifacts``, or the ones built into ``tmp``; each file is listed either way."""
    if artifacts is None:
        say(stream, "building artifacts ...")
        artifacts = packaging.build_artifacts(tmp, project_root)
        say(stream, f"  from {artifacts.source}")
    for artifact in artifacts:
        size = packaging.format_size(artifact.size)
        say(stream, f"  {artifact.kind:<17} {artifact.path.name}  {size}")
    return artifacts


def _upload(
    aws: AwsAccount, s3: S3Client, stack_name: str, artifacts: packaging.Artifacts, stream: TextIO
) -> _Uploaded:
    """Create and lock down the stack's artifacts bucket, upload the artifacts under a
    prefix of their version and digest."""
    bucket = artifacts_bucket_name(stack_name, aws.account_id, aws.region)
    glue_modules = glue_python_modules(artifacts.glue_pins())
    say(stream, f"  glue pins         {glue_modules.replace(',', ' ')}")
    say(stream, f"artifacts bucket s3://{bucket}")
    endpoint_url = aws.endpoint_url
    plain_http = bool(endpoint_url and endpoint_url.lower().startswith("http://"))
    if plain_http:
        say(stream, "  endpoint is plain HTTP: not applying the TLS-only bucket policy")
    ensure_artifacts_bucket(
        s3, bucket, aws.region, aws.account_id, tls_only=not plain_http, partition=aws.partition
    )
    key_prefix = f"{ARTIFACTS_KEY_ROOT}/{artifacts.version}/{artifacts.digest}"
    keys = upload_artifacts(s3, bucket, key_prefix, artifacts)
    for kind, key in keys.items():
        say(stream, f"  uploaded {kind:<17} s3://{bucket}/{key}")
    return _Uploaded(
        bucket,
        key_prefix,
        keys,
        wheel_name=artifacts.wheel.path.name,
        lambda_zip_name=artifacts.lambda_zip.path.name,
        glue_modules=glue_modules,
    )


def _template_source(
    aws: AwsAccount, s3: S3Client, uploaded: _Uploaded, template_body: str
) -> dict[str, str]:
    """``TemplateBody``, or for a template over CloudFormation's inline limit, the
    ``TemplateURL`` of a copy uploaded next to the artifacts."""
    body = template_body.encode("utf-8")
    if len(body) <= TEMPLATE_BODY_LIMIT:
        return {"TemplateBody": template_body}
    key = f"{uploaded.key_prefix}/template.yaml"
    s3.put_object(Bucket=uploaded.bucket, Key=key, Body=body, ServerSideEncryption="AES256")
    return {"TemplateURL": object_url(aws, uploaded.bucket, key)}


def _stack_parameters(
    stack_name: str,
    uploaded: _Uploaded,
    glue_version: str | None,
    parameters: Mapping[str, str] | None,
) -> list[ParameterTypeDef]:
    # Computed by every deploy, so always passed. Anything else only when given: on an
    # update, the parameters left out keep their values (see create_or_update_stack).
    stack_parameters: dict[str, str] = {
        "NamePrefix": name_prefix(stack_name),
        "DatabaseName": database_name(stack_name),
        "ArtifactsBucketName": uploaded.bucket,
        "ArtifactsPrefix": uploaded.key_prefix,
        "WheelFileName": uploaded.wheel_name,
        "LambdaZipFileName": uploaded.lambda_zip_name,
        "GluePythonModules": uploaded.glue_modules,
    }
    if glue_version is not None:
        stack_parameters["GlueVersion"] = glue_version
    stack_parameters.update(parameters or {})
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in stack_parameters.items()]


def _print_outputs(
    stream: TextIO, stack_name: str, region: str, status: str, outputs: Mapping[str, str]
) -> None:
    say(stream, f"stack {stack_name}: {status}")
    width = max((len(k) for k in outputs), default=0)
    for key in sorted(outputs):
        say(stream, f"  {key:<{width}}  {outputs[key]}")
    landing = outputs.get("LandingBucketName")
    if landing:
        say(stream, "")
        say(stream, "upload a review file to start a run:")
        say(stream, f"  aws s3 cp reviews.csv s3://{landing}/ --region {region}")
    job = outputs.get("GlueJobName")
    if job:
        say(stream, "follow the job runs:")
        say(
            stream,
            f"  aws glue get-job-runs --job-name {job} --region {region} "
            "--query 'JobRuns[].[Id,JobRunState,ErrorMessage]'",
        )


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
    aws = connect(region, endpoint_url)
    s3 = aws.s3()
    cfn = aws.cloudformation()
    buckets: list[str] = []
    objects = 0
    status = stack_status(cfn, stack_name)
    if status is None:
        say(stream, f"stack {stack_name} does not exist in {aws.region}")
    else:
        if status.endswith(BUSY_SUFFIX) and status != "DELETE_IN_PROGRESS":
            raise DeployError(f"stack {stack_name} is busy ({status}); try again when it settles")
        buckets = stack_buckets(cfn, stack_name)
        objects = _delete_stack(
            cfn,
            s3,
            stack_name,
            buckets,
            poll_seconds=poll_seconds,
            timeout_seconds=timeout_seconds,
            stream=stream,
        )
        say(stream, f"stack {stack_name} deleted")
    bucket = artifacts_bucket_name(stack_name, aws.account_id, aws.region)
    emptied = _delete_artifacts_bucket(s3, bucket, stream)
    if emptied is not None:
        buckets.append(bucket)
        objects += emptied
    return DestroyResult(stack_name, aws.region, status is not None, buckets, objects)


def _delete_stack(
    cfn: CloudFormationClient,
    s3: S3Client,
    stack_name: str,
    buckets: list[str],
    *,
    poll_seconds: int,
    timeout_seconds: int,
    stream: TextIO,
) -> int:
    """Empty the stack's buckets, delete the stack and wait; returns the object versions
    deleted."""
    deleted = 0
    # Server access logs can still arrive while the stack is deleted, so a failed
    # deletion is retried once after emptying the buckets again.
    for attempt in (1, 2):
        for bucket in buckets:
            count = empty_bucket(s3, bucket)
            deleted += count
            say(stream, f"emptied s3://{bucket} ({count} object versions)")
        say(stream, f"deleting stack {stack_name} ...")
        cfn.delete_stack(StackName=stack_name)
        try:
            wait(cfn, "stack_delete_complete", stack_name, poll_seconds, timeout_seconds)
        except DeployError as exc:
            if attempt == 2:
                reasons = "".join(f"\n  {r}" for r in failure_reasons(cfn, stack_name))
                raise DeployError(f"{exc}{reasons}") from exc
            say(stream, "stack deletion failed; emptying the buckets again and retrying")
            continue
        break
    return deleted


def _delete_artifacts_bucket(s3: S3Client, bucket: str, stream: TextIO) -> int | None:
    """Empty and delete the artifacts bucket; returns the object versions deleted, None
    when there was no such bucket."""
    if not bucket_exists(s3, bucket):
        return None
    count = empty_bucket(s3, bucket)
    try:
        s3.delete_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as exc:
        raise DeployError(f"deleting artifacts bucket {bucket}: {error_message(exc)}") from exc
    say(stream, f"deleted artifacts bucket s3://{bucket} ({count} object versions)")
    return count


def template_text(path: str | Path | None = None) -> str:
    """The CloudFormation template: ``path``, or the one shipped in the package."""
    try:
        if path is not None:
            return Path(path).read_text(encoding="utf-8")
        return resources.files(__package__).joinpath(TEMPLATE_NAME).read_text(encoding="utf-8")
    except OSError as exc:
        where = path or f"{__package__}/{TEMPLATE_NAME}"
        raise ConfigError(f"{where}: cannot read the CloudFormation template: {exc}") from exc
