"""The artifacts bucket (created and locked down by ``deploy``) and emptying buckets (for
``destroy``). No pyspark."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import boto3
import botocore.exceptions

from reviews_etl.deploy.aws import AwsAccount, error_code, error_message
from reviews_etl.errors import DeployError
from reviews_etl.sources import DEFAULT_MANIFEST_PREFIX

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from reviews_etl.deploy.packaging import Artifacts

# The trigger writes each batch's source manifest under this prefix of the artifacts bucket
# (MANIFEST_BUCKET / MANIFEST_PREFIX in infra/template.yaml). A manifest is only read by
# its run, but stays for audit this many days; then it becomes a noncurrent version, which
# the noncurrent-version rule deletes 30 days later.
MANIFEST_PREFIX = DEFAULT_MANIFEST_PREFIX
MANIFEST_EXPIRATION_DAYS = 90
NONCURRENT_VERSION_DAYS = 30


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
        code = error_code(exc)
        if code in {"404", "NoSuchBucket", "NotFound"}:
            exists = False
        elif code in {"403", "AccessDenied", "Forbidden"}:
            raise DeployError(
                f"artifacts bucket {bucket} exists but is not accessible to this account "
                f"({account_id}); was it created by another account?"
            ) from exc
        else:
            raise DeployError(f"checking artifacts bucket {bucket}: {error_message(exc)}") from exc
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
            if error_code(exc) != "BucketAlreadyOwnedByYou":
                raise DeployError(
                    f"creating artifacts bucket {bucket}: {error_message(exc)}"
                ) from exc
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
                        "NoncurrentVersionExpiration": {"NoncurrentDays": NONCURRENT_VERSION_DAYS},
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                    },
                    {
                        "ID": "expire-source-manifests",
                        "Status": "Enabled",
                        "Filter": {"Prefix": MANIFEST_PREFIX},
                        "Expiration": {"Days": MANIFEST_EXPIRATION_DAYS},
                    },
                ]
            },
        )
        if tls_only:
            s3.put_bucket_policy(Bucket=bucket, Policy=tls_only_policy(bucket, partition))
    except botocore.exceptions.ClientError as exc:
        raise DeployError(f"locking down artifacts bucket {bucket}: {error_message(exc)}") from exc


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
    s3: S3Client, bucket: str, key_prefix: str, artifacts: Artifacts
) -> dict[str, str]:
    """Upload every artifact under ``key_prefix``; returns kind -> key."""
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
        if error_code(exc) == "NoSuchBucket":
            return deleted
        raise DeployError(f"emptying s3://{bucket}: {error_message(exc)}") from exc
    return deleted


def bucket_exists(s3: S3Client, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in {"404", "NoSuchBucket", "NotFound"}:
            return False
        raise DeployError(f"checking bucket {bucket}: {error_message(exc)}") from exc
    return True


def object_url(aws: AwsAccount, bucket: str, key: str) -> str:
    if aws.endpoint_url:
        return f"{aws.endpoint_url.rstrip('/')}/{bucket}/{key}"
    return f"https://{bucket}.s3.{aws.region}.amazonaws.com/{key}"
