"""Source manifests: the JSON object ``{"sources": ["s3://...", ...]}`` that names the objects
one job run ingests, in order. The trigger writes one for a batch of several objects and
passes ``--source_manifest URI``; the Glue job and ``reviews-etl run --source-manifest``
read it. No Spark: boto3 for ``s3://`` URIs, the file system otherwise.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reviews_etl.errors import ConfigError, describe_validation_error
from reviews_etl.paths import s3_spelling

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DEFAULT_MANIFEST_PREFIX = "_manifests/"
# The job arguments that name a run's sources: exactly one per run.
SOURCE_ARGUMENTS: Final = ("source_path", "source_manifest")


class SourceManifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sources: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]

    def to_json(self) -> str:
        return json.dumps({"sources": self.sources}, ensure_ascii=False, indent=2) + "\n"


def manifest_key(prefix: str, sources: list[str]) -> str:
    """The object key of a manifest: derived from its sources, so a redelivered batch writes
    the same object again instead of a new one."""
    digest = hashlib.sha256(json.dumps(sources, ensure_ascii=False).encode("utf-8")).hexdigest()
    return f"{prefix}{digest[:32]}.json"


def write_source_manifest(s3: S3Client, bucket: str, prefix: str, sources: list[str]) -> str:
    """Write the manifest of ``sources`` to ``s3://bucket/<prefix><digest>.json``; its URI."""
    manifest = SourceManifest(sources=sources)
    key = manifest_key(prefix, manifest.sources)
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=manifest.to_json().encode("utf-8"),
        ContentType="application/json",
        ServerSideEncryption="AES256",
    )
    return f"s3://{bucket}/{key}"


def read_source_manifest(uri: str) -> list[str]:
    """The sources a manifest names, in order. :class:`ConfigError` names the manifest and
    the problem (missing, unreadable, not ``{"sources": [...]}``)."""
    try:
        location = s3_spelling(uri)
        if location.startswith("s3://"):
            bucket, _, key = location.removeprefix("s3://").partition("/")
            body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        else:
            body = Path(uri.removeprefix("file://")).read_bytes()
    except (OSError, ClientError, BotoCoreError) as exc:
        raise ConfigError(f"source manifest {uri}: cannot read it: {exc}") from exc
    try:
        return SourceManifest.model_validate_json(body).sources
    except ValidationError as exc:
        prefix = f'source manifest {uri}: not a {{"sources": [...]}} object: '
        raise ConfigError(describe_validation_error(exc, prefix, whole="manifest")) from exc
