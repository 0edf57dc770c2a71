"""Which sources are read together in one Spark pass (a burst of small files), and that pass:
a DataFrame over all of a group's files, each file's rows marked with its batch number."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from reviews_etl.job.context import RunContext
from reviews_etl.job.headers import HeaderMapping
from reviews_etl.job.pieces import partitions_for
from reviews_etl.job.reader import read_reviews_csv
from reviews_etl.job.transforms import BatchLineage
from reviews_etl.paths import normalise_path, source_id_for

# Sources read together in one Spark pass: up to this much CSV text and this many files. A
# large file is a group of its own.
GROUP_SOURCE_BYTES = 1 << 30
GROUP_MAX_SOURCES = 500
# Threads defining the DataFrames of a group's files (py4j calls, no Spark job).
READ_THREADS = 4

Member = tuple[str, HeaderMapping]


@dataclass(frozen=True)
class Batch:
    """One source of a group read in one pass; ``index`` is its ``_batch`` value."""

    index: int
    source: str
    header: HeaderMapping
    lineage: BatchLineage


def plan_groups(sources: list[str], headers: list[HeaderMapping]) -> list[list[Member]]:
    """Consecutive sources read in one Spark pass, up to :data:`GROUP_SOURCE_BYTES` of CSV
    and :data:`GROUP_MAX_SOURCES` files. A source named twice starts a new group: its second
    batch replaces the first, as it would in a run of its own."""
    groups: list[list[Member]] = []
    current: list[Member] = []
    size, ids = 0, set[str]()
    for source, header in zip(sources, headers, strict=True):
        source_id, text_bytes = source_id_for(source), header.source_bytes or 0
        full = size + text_bytes > GROUP_SOURCE_BYTES or len(current) >= GROUP_MAX_SOURCES
        if current and (full or source_id in ids):
            groups.append(current)
            current, size, ids = [], 0, set()
        current.append((source, header))
        size += text_bytes
        ids.add(source_id)
    return [*groups, current] if current else groups


def batches_of(run: RunContext, members: list[Member]) -> list[Batch]:
    """A batch per member of a group, in order, each ingested (timestamped) now."""
    return [
        Batch(
            index=index,
            source=source,
            header=header,
            lineage=BatchLineage(
                source_file=normalise_path(source),
                source_id=source_id_for(source),
                ingested_at=run.next_ingested_at(),
            ),
        )
        for index, (source, header) in enumerate(members)
    ]


def source_bytes(batches: list[Batch]) -> int:
    """The CSV text of the batches' sources, in bytes (0 for a size not known)."""
    return sum(batch.header.source_bytes or 0 for batch in batches)


def read_group(spark: SparkSession, batches: list[Batch], scratch: Path) -> DataFrame:
    """The raw rows of every batch, read in one pass; large files are cut into ``scratch``."""

    def read(batch: Batch) -> DataFrame:
        return read_reviews_csv(
            spark, batch.source, batch.header, batch=batch.index, scratch=scratch
        )

    # Defining a file's DataFrame is a hundred py4j round trips; Spark analyses them on its
    # own threads, so defining a few at once overlaps the waits (docs/performance.md).
    with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
        frames = list(pool.map(read, batches))
    # Pairwise, so the plans analysed while building the union stay shallow.
    while len(frames) > 1:
        pairs = zip(frames[0::2], frames[1::2], strict=False)
        frames = [a.union(b) for a, b in pairs] + ([frames[-1]] if len(frames) % 2 else [])
    if len(batches) == 1:
        return frames[0]
    # A partition per small file would cost a task each in every stage; fewer tasks also keep
    # the rules' projection above the union, compiled once instead of once per file.
    partitions = partitions_for(source_bytes(batches), spark.sparkContext.defaultParallelism)
    return frames[0].coalesce(partitions)
