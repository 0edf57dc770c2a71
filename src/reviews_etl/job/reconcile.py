"""Counting a group's rows per batch, and checking that nothing was lost between the read and
the writes."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession

from reviews_etl.columns import BATCH, REJECT_REASON, REJECT_REASONS
from reviews_etl.errors import ReconciliationError
from reviews_etl.job.execution import Counted
from reviews_etl.job.groups import Batch
from reviews_etl.job.storage import HadoopFS
from reviews_etl.paths import partition_path


@dataclass
class BatchCounts:
    read: int
    by_reason: dict[str, int]

    @property
    def rejected(self) -> int:
        return sum(self.by_reason.values())


def batch_counts(
    validated: DataFrame, batches: list[Batch], parsed: Counted, quarantined: Counted
) -> list[BatchCounts]:
    """Rows read and rejects per reason of each batch: those the quarantine write observed
    for one batch; for several, one aggregate of two narrow columns over the cache."""
    if len(batches) == 1:
        return [BatchCounts(parsed.rows, quarantined.by_reason)]
    counts = [BatchCounts(0, dict.fromkeys(REJECT_REASONS, 0)) for _ in batches]
    for row in validated.groupBy(BATCH, REJECT_REASON).count().collect():
        batch = counts[row[BATCH]]
        batch.read += row["count"]
        if row[REJECT_REASON] is not None:
            batch.by_reason[row[REJECT_REASON]] += row["count"]
    return counts


def reconcile(
    spark: SparkSession,
    batches: list[Batch],
    curated_root: str,
    *,
    counts: list[BatchCounts],
    published: list[bool],
    read: int,
    accepted: int,
    rejected: int,
) -> None:
    """Nothing lost: every row read was written once, to the curated data or the quarantine
    (a batch over the quality gate withholds its accepted rows), and the per-batch counts add
    up to the rows the writes saw. Otherwise the curated rows just written are removed and
    the run fails."""
    withheld = sum(
        count.read - count.rejected
        for count, publish in zip(counts, published, strict=True)
        if not publish
    )
    if (
        read - withheld == accepted + rejected
        and sum(count.read for count in counts) == read
        and sum(count.rejected for count in counts) == rejected
    ):
        return
    fs = HadoopFS(spark)
    for batch, publish in zip(batches, published, strict=True):
        if publish:
            fs.delete(partition_path(curated_root, batch.lineage.source_id))
    label = batches[0].source
    if len(batches) > 1:
        label += f" (and {len(batches) - 1} more sources read with it)"
    raise ReconciliationError(label, read - withheld, accepted, rejected)
