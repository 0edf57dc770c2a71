"""The AWS account a deploy talks to: region and credentials checked first, clients for one
endpoint, and the names derived from the stack name. No pyspark."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

import boto3
import botocore.exceptions
from botocore.config import Config

from reviews_etl.errors import ConfigError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_s3 import S3Client

# NamePrefix in the template: it becomes part of bucket, job and function names.
_NAME_PREFIX_RE = re.compile(r"^[a-z][a-z0-9-]{1,18}[a-z0-9]$")
_STACK_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")


@dataclass(frozen=True)
class AwsAccount:
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


def connect(region: str | None, endpoint_url: str | None) -> AwsAccount:
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
        raise ConfigError(
            f"AWS credentials rejected ({error_code(exc)}): {error_message(exc)}"
        ) from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise ConfigError(f"cannot reach AWS STS in {resolved_region}: {exc}") from exc
    return AwsAccount(session, resolved_region, account_id, endpoint_url)


def error_code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def error_message(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", "")) or str(exc)


def say(stream: TextIO, line: str) -> None:
    print(line, file=stream, flush=True)
