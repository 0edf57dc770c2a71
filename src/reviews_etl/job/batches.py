"""One group of sources through the cleaning, each source its own batch: read in one pass and
validated, the rejects written, the quality gate applied, the accepted rows written, the
counts reconciled, and a result per batch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from reviews_etl.columns import BATCH, SOURCE_ID
from reviews_etl.job.context import RunContext, logger
from reviews_etl.job.execution import Counted, cache, write_by_source
from reviews_etl.job.groups import Batch, Member, batches_of, read_group, source_bytes
from reviews_etl.job.pieces import partitions_for, scratch_folder
from reviews_etl.job.publish import register_partitions
from reviews_etl.job.read_errors import source_read_errors
from reviews_etl.job.reconcile import BatchCounts, batch_counts, reconcile
from reviews_etl.job.transforms import (
    Transform,
    add_batch_lineage,
    clean_reviews,
    quarantine_reviews,
    to_curated,
    to_quarantine,
    validate_in_stages,
)
from reviews_etl.logs import log_event
from reviews_etl.manifest import BatchResult, Stopwatch
from reviews_etl.paths import OutputPaths, partition_path

# Rule 9 broadcasts the duplicated review ids up to this many (a few tens of MB), and falls
# back to a window over all rows, which shuffles and sorts them, above it.
DEDUPE_BROADCAST_LIMIT = 1_000_000
# One curated (and rejected) Parquet file per this many bytes of source CSV: about 25 MB of
# Parquet per curated file.
OUTPUT_FILE_SOURCE_BYTES = 64 << 20


def validate_batch(raw: DataFrame, cached: list[DataFrame]) -> DataFrame:
    """:func:`~reviews_etl.job.transforms.validate_reviews` for the pipeline: rules 1-8
    labelled once and cached in their compact form (the dedupe, the count and both writes
    reuse them), rule 9 by a broadcast of the duplicated ids unless they are too many.
    Appends what it caches to ``cached``, for the caller to release.
    """

    def keep(df: DataFrame) -> DataFrame:
        kept = cache(df)
        cached.append(kept)
        return kept

    def broadcast(duplicates: DataFrame) -> bool:
        return duplicates.count() <= DEDUPE_BROADCAST_LIMIT

    return validate_in_stages(raw, keep=keep, broadcast=broadcast)


@contextmanager
def _releasing(cached: list[DataFrame]) -> Iterator[None]:
    """Unpersist what the block cached (appended to ``cached``), however it ends."""
    try:
        yield
    finally:
        for df in cached:
            df.unpersist()


@dataclass(frozen=True)
class _GroupWriter:
    """Writes a group's rows with their lineage, a ``source_id=`` folder per batch."""

    batches: list[Batch]
    paths: OutputPaths
    staging: str
    lineage: Transform
    # Fewer, larger files than the partitions the rows were labelled in (sized for memory).
    files: int

    def write(
        self,
        rows: DataFrame,
        contract: Transform,
        root: str,
        batches: list[Batch],
        *,
        by_reason: bool = False,
    ) -> Counted:
        """Replace the folders of ``batches`` under ``root`` with ``rows`` in ``contract``'s
        columns; the rows written, counted while they were."""
        written = Counted(_keyed(rows.transform(self.lineage), contract), by_reason=by_reason)
        source_ids = [batch.lineage.source_id for batch in batches]
        write_by_source(written.df.coalesce(self.files), root, source_ids, self.staging)
        return written


def _keyed(df: DataFrame, contract: Transform) -> DataFrame:
    """The output's schema contract plus the ``source_id`` its folders are named by."""
    return df.select(*contract(df).columns, SOURCE_ID)


def _writer(spark: SparkSession, run: RunContext, batches: list[Batch]) -> _GroupWriter:
    return _GroupWriter(
        batches=batches,
        paths=run.paths,
        staging=run.paths.staging(run.run_id),
        lineage=add_batch_lineage([batch.lineage for batch in batches], run.run_id),
        files=partitions_for(
            source_bytes(batches),
            spark.sparkContext.defaultParallelism,
            partition_bytes=OUTPUT_FILE_SOURCE_BYTES,
        ),
    )


def process_group(spark: SparkSession, run: RunContext, members: list[Member]) -> list[BatchResult]:
    """Clean the sources of one group, read in one pass: each batch's rejects are written, and
    its accepted rows unless it fails the quality gate. Raises
    :class:`~reviews_etl.errors.ReconciliationError` when the counts do not add up.
    """
    batches = batches_of(run, members)
    writer = _writer(spark, run, batches)
    cached: list[DataFrame] = []
    # The pieces a large file is cut into are read until the last write: removed after it.
    # Spark reads lazily: a source that vanishes or overflows a limit mid-read fails in here.
    with (
        scratch_folder() as scratch,
        _releasing(cached),
        source_read_errors(*(batch.source for batch in batches)),
    ):
        with run.watch.stage("clean"):
            validated = validate_batch(read_group(spark, batches, scratch), cached)
        with run.watch.stage("write_rejected"):
            parsed, quarantined = _write_rejected(writer, validated)
            counts = batch_counts(validated, batches, parsed, quarantined)
        published = _under_gate(counts, run.config.max_reject_ratio)
        accepted = _write_curated(writer, validated, published, run.watch)
        reconcile(
            spark,
            batches,
            run.paths.curated,
            counts=counts,
            published=published,
            read=parsed.rows,
            accepted=accepted,
            rejected=quarantined.rows,
        )
    return [
        _result(run, batch, count, publish)
        for batch, count, publish in zip(batches, counts, published, strict=True)
    ]


def _write_rejected(writer: _GroupWriter, validated: DataFrame) -> tuple[Counted, Counted]:
    """Write every batch's rejects; the rows parsed and those rejected (per reason), both
    counted by this write."""
    # Every parsed record passes here once: validation adds columns, never drops a row.
    # Observed on the write, not on the parse under the cache: on Spark 4.1 metrics observed
    # while a cache was built never reached the Observation.
    parsed = Counted(validated)
    quarantined = writer.write(
        parsed.df.transform(quarantine_reviews),
        to_quarantine,
        writer.paths.rejected,
        writer.batches,
        by_reason=True,
    )
    return parsed, quarantined


def _under_gate(counts: list[BatchCounts], max_reject_ratio: float) -> list[bool]:
    """Whether each batch publishes its accepted rows: not when it rejects more than
    ``max_reject_ratio`` of them. Its accepted rows are those not rejected."""
    return [
        not (count.read > 0 and count.rejected / count.read > max_reject_ratio) for count in counts
    ]


def _write_curated(
    writer: _GroupWriter, validated: DataFrame, published: list[bool], watch: Stopwatch
) -> int:
    """Write the accepted rows of the batches that publish them; how many."""
    passing = [batch for batch, publish in zip(writer.batches, published, strict=True) if publish]
    if not passing:
        return 0
    with watch.stage("write_curated"):
        rows = validated
        if len(passing) < len(writer.batches):
            rows = rows.where(F.col(BATCH).isin([batch.index for batch in passing]))
        curated = writer.write(
            rows.transform(clean_reviews), to_curated, writer.paths.curated, passing
        )
    return curated.rows


def _result(run: RunContext, batch: Batch, count: BatchCounts, publish: bool) -> BatchResult:
    """The manifest's record of one batch, its partitions registered and the batch logged."""
    source_id = batch.lineage.source_id
    rejected_path = partition_path(run.paths.rejected, source_id)
    curated_path = partition_path(run.paths.curated, source_id) if publish else None
    result = BatchResult(
        source=batch.source,
        source_file=batch.lineage.source_file,
        source_id=source_id,
        status="succeeded" if publish else "failed_quality_gate",
        ingested_at=batch.lineage.ingested_at,
        rows_read=count.read,
        rows_accepted=count.read - count.rejected,
        rows_rejected=count.rejected,
        rejects_by_reason=count.by_reason,
        reject_share=count.rejected / count.read if count.read else 0.0,
        curated_path=curated_path,
        rejected_path=rejected_path,
        catalog_partitions=register_partitions(run, source_id, rejected_path, curated_path),
    )
    log_event(
        logger,
        "batch_processed",
        run_id=run.run_id,
        source=batch.source,
        status=result.status,
        rows_read=result.rows_read,
        rows_accepted=result.rows_accepted,
        rows_rejected=result.rows_rejected,
        rejects_by_reason={k: v for k, v in count.by_reason.items() if v},
    )
    return result
