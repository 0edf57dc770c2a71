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
    from mypy_boto3_cloudformation.type_defs import ParameterTypeDef

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
    prefix = name_prefix(stack_name)
    if glue_version is not None and glue_version not in GLUE_VERSIONS:
        raise ConfigError(
            f"glue version {glue_version!r} is not supported; "
            f"choose one of {', '.join(GLUE_VERSIONS)}"
        )
    aws = connect(region, endpoint_url)
    template_body = template_text(template_path)

    s3 = aws.s3()
    cfn = aws.cloudformation()
    bucket = artifacts_bucket_name(stack_name, aws.account_id, aws.region)

    with tempfile.TemporaryDirectory(prefix="reviews-etl-deploy-") as tmp:
        if artifacts is None:
            say(stream, "building artifacts ...")
            artifacts = packaging.build_artifacts(tmp, project_root)
            say(stream, f"  from {artifacts.source}")
        for artifact in artifacts:
            say(
                stream,
                f"  {artifact.kind:<17} {artifact.path.name}  "
                f"{packaging.format_size(artifact.size)}",
            )
        glue_modules = glue_python_modules(artifacts.glue_pins())
        say(stream, f"  glue pins         {glue_modules.replace(',', ' ')}")

        say(stream, f"artifacts bucket s3://{bucket}")
        plain_http = bool(endpoint_url and endpoint_url.lower().startswith("http://"))
        if plain_http:
            say(stream, "  endpoint is plain HTTP: not applying the TLS-only bucket policy")
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
            say(stream, f"  uploaded {kind:<17} s3://{bucket}/{key}")

    template_kwargs: dict[str, str] = {"TemplateBody": template_body}
    if len(template_body.encode("utf-8")) > TEMPLATE_BODY_LIMIT:
        template_key = f"{key_prefix}/template.yaml"
        s3.put_object(
            Bucket=bucket,
            Key=template_key,
            Body=template_body.encode("utf-8"),
            ServerSideEncryption="AES256",
        )
        template_kwargs = {"TemplateURL": object_url(aws, bucket, template_key)}

    # Computed by every deploy, so always passed. Anything else only when given: on an
    # update, the parameters left out keep their values (see create_or_update_stack).
    stack_parameters: dict[str, str] = {
        "NamePrefix": prefix,
        "DatabaseName": database_name(stack_name),
        "ArtifactsBucketName": bucket,
        "ArtifactsPrefix": key_prefix,
        "WheelFileName": artifacts.wheel.path.name,
        "LambdaZipFileName": artifacts.lambda_zip.path.name,
        "GluePythonModules": glue_modules,
    }
    if glue_version is not None:
        stack_parameters["GlueVersion"] = glue_version
    stack_parameters.update(parameters or {})
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
    deleted_objects = 0
    deleted_buckets: list[str] = []

    status = stack_status(cfn, stack_name)
    stack_deleted = False
    if status is None:
        say(stream, f"stack {stack_name} does not exist in {aws.region}")
    else:
        if status.endswith(BUSY_SUFFIX) and status != "DELETE_IN_PROGRESS":
            raise DeployError(f"stack {stack_name} is busy ({status}); try again when it settles")
        buckets = stack_buckets(cfn, stack_name)
        # Server access logs can still arrive while the stack is deleted, so a failed
        # deletion is retried once after emptying the buckets again.
        for attempt in (1, 2):
            for bucket in buckets:
                count = empty_bucket(s3, bucket)
                deleted_objects += count
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
        stack_deleted = True
        deleted_buckets.extend(buckets)
        say(stream, f"stack {stack_name} deleted")

    bucket = artifacts_bucket_name(stack_name, aws.account_id, aws.region)
    if bucket_exists(s3, bucket):
        count = empty_bucket(s3, bucket)
        deleted_objects += count
        try:
            s3.delete_bucket(Bucket=bucket)
        except botocore.exceptions.ClientError as exc:
            raise DeployError(f"deleting artifacts bucket {bucket}: {error_message(exc)}") from exc
        deleted_buckets.append(bucket)
        say(stream, f"deleted artifacts bucket s3://{bucket} ({count} object versions)")
    return DestroyResult(
        stack_name=stack_name,
        region=aws.region,
        stack_deleted=stack_deleted,
        buckets_deleted=deleted_buckets,
        objects_deleted=deleted_objects,
    )


def template_text(path: str | Path | None = None) -> str:
    """The CloudFormation template: ``path``, or the one shipped in the package."""
    try:
        if path is not None:
            return Path(path).read_text(encoding="utf-8")
        return resources.files(__package__).joinpath(TEMPLATE_NAME).read_text(encoding="utf-8")
    except OSError as exc:
        where = path or f"{__package__}/{TEMPLATE_NAME}"
        raise ConfigError(f"{where}: cannot read the CloudFormation template: {exc}") from exc
