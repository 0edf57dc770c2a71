"""Registering each batch's ``source_id=<id>`` partition in the Glue Data Catalog, so Athena
sees a run's rows as soon as it succeeds (partition projection cannot: ``source_id`` is a
hash). Runs on Glue and on a laptop; boto3 only, no Spark.

The client is built the normal boto3 way, so region, credentials and ``AWS_ENDPOINT_URL``
(a test server) come from the environment.
"""

from __future__ import annotations

import copy
import logging
import os
from collections import Counter
from typing import TYPE_CHECKING, Any, Final, Literal

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from reviews_etl.columns import SOURCE_ID
from reviews_etl.config import OutputLayout
from reviews_etl.errors import CatalogError
from reviews_etl.logs import get_logger, log_event
from reviews_etl.paths import PARTITION_PREFIX, OutputPaths, partition_name

if TYPE_CHECKING:
    from mypy_boto3_glue import GlueClient
    from mypy_boto3_glue.type_defs import PartitionInputTypeDef

# The partitioned tables of the stack (infra/template.yaml), by the output they describe.
CURATED_TABLE: Final = "reviews"
REJECTED_TABLE: Final = "rejected_reviews"

Change = Literal["created", "updated", "unchanged"]
logger = get_logger(__name__)


def _partition_input(table_sd: Any, value: str, location: str) -> Any:
    """The table's storage descriptor (columns, formats, SerDe), at the partition's folder."""
    descriptor = copy.deepcopy(table_sd)
    descriptor["Location"] = location.rstrip("/") + "/"
    return {"Values": [value], "StorageDescriptor": descriptor}


class PartitionRegistrar:
    """Creates, or updates the location of, ``source_id`` partitions in one database."""

    def __init__(self, database: str, glue: GlueClient | None = None) -> None:
        self.database = database
        try:
            self.glue: GlueClient = glue if glue is not None else boto3.client("glue")
        except BotoCoreError as exc:  # no region configured, typically
            raise CatalogError(f"cannot reach the Glue Data Catalog for {database}: {exc}") from exc
        self._tables: dict[str, Any] = {}  # table -> its StorageDescriptor

    def _table_descriptor(self, table: str) -> Any:
        if table not in self._tables:
            found = self.glue.get_table(DatabaseName=self.database, Name=table)["Table"]
            keys = [key["Name"] for key in found.get("PartitionKeys", [])]
            if keys != [SOURCE_ID]:
                raise CatalogError(
                    f"table {self.database}.{table} is partitioned by {keys or 'nothing'}, "
                    f"not [{SOURCE_ID}]"
                )
            self._tables[table] = found["StorageDescriptor"]
        return self._tables[table]

    def register(self, table: str, source_id: str, location: str) -> Change:
        """Make partition ``source_id=<source_id>`` of ``table`` point at ``location``.

        Idempotent: a partition that already matches is left alone. Raises
        :class:`~reviews_etl.errors.CatalogError` with one line naming the table.
        """
        try:
            wanted: PartitionInputTypeDef = _partition_input(
                self._table_descriptor(table), source_id, location
            )
            try:
                current = self.glue.get_partition(
                    DatabaseName=self.database, TableName=table, PartitionValues=[source_id]
                )["Partition"]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "EntityNotFoundException":
                    raise
                self.glue.create_partition(
                    DatabaseName=self.database, TableName=table, PartitionInput=wanted
                )
                change: Change = "created"
            else:
                if _same_descriptor(current.get("StorageDescriptor", {}), wanted):
                    change = "unchanged"
                else:
                    self.glue.update_partition(
                        DatabaseName=self.database,
                        TableName=table,
                        PartitionValueList=[source_id],
                        PartitionInput=wanted,
                    )
                    change = "updated"
        except (ClientError, BotoCoreError) as exc:
            partition = partition_name(source_id)
            raise CatalogError(
                f"registering partition {partition} of {self.database}.{table}: {exc}"
            ) from exc
        log_event(
            logger,
            "catalog.partition",
            logging.INFO,
            database=self.database,
            table=table,
            source_id=source_id,
            location=wanted["StorageDescriptor"].get("Location"),
            change=change,
        )
        return change


def _same_descriptor(current: Any, wanted: Any) -> bool:
    keys = ("Location", "Columns", "InputFormat", "OutputFormat", "SerdeInfo")
    mine = wanted["StorageDescriptor"]
    return all(current.get(key) == mine.get(key) for key in keys)


def partition_folders(parent: str) -> dict[str, str]:
    """``source_id`` -> folder of each ``source_id=<id>`` folder directly under ``parent``: an
    ``s3://bucket/prefix`` (listed with boto3) or a local folder."""
    parent = parent.rstrip("/")
    if not parent.startswith("s3://"):
        if not os.path.isdir(parent):
            return {}
        return {
            entry.name.removeprefix(PARTITION_PREFIX): f"{parent}/{entry.name}"
            for entry in sorted(os.scandir(parent), key=lambda e: e.name)
            if entry.is_dir() and entry.name.startswith(PARTITION_PREFIX)
        }
    bucket, _, prefix = parent.removeprefix("s3://").partition("/")
    prefix = f"{prefix}/" if prefix else ""
    found: dict[str, str] = {}
    pages = boto3.client("s3").get_paginator("list_objects_v2")
    for page in pages.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            name = common.get("Prefix", "").removeprefix(prefix).rstrip("/")
            if name.startswith(PARTITION_PREFIX):
                found[name.removeprefix(PARTITION_PREFIX)] = f"s3://{bucket}/{prefix}{name}"
    return found


def register_existing(
    database: str, output_root: str, layout: OutputLayout | None = None
) -> dict[str, Counter[str]]:
    """Register every batch folder already under ``output_root`` (runs from before the job
    registered partitions itself, or a catalog recreated from scratch). Idempotent.

    Returns, per table, how many partitions were created, updated or left unchanged.
    """
    layout = layout or OutputLayout()
    root = output_root.rstrip("/")
    if not root.startswith("s3://"):
        root = os.path.abspath(root)
    paths = OutputPaths.under(root, layout)
    registrar = PartitionRegistrar(database)
    changes: dict[str, Counter[str]] = {}
    for table, folder in ((CURATED_TABLE, paths.curated), (REJECTED_TABLE, paths.rejected)):
        try:
            folders = partition_folders(folder)
        except (ClientError, BotoCoreError) as exc:
            raise CatalogError(f"listing {folder}: {exc}") from exc
        changes[table] = Counter(
            registrar.register(table, source_id, location)
            for source_id, location in folders.items()
        )
    return changes
