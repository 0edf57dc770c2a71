"""The one runner every entry point calls: CLI, Glue, the watch mode and notebooks."""

from __future__ import annotations

import datetime as dt
import platform
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from reviews_etl._version import __version__
from reviews_etl.columns import (
    BATCH,
    CUSTOMER_ID,
    INGESTED_AT,
    PRODUCT_ID,
    RATING,
    REJECT_REASON,
    REJECT_REASONS,
    REVIEW_DATE,
    REVIEW_ID,
    SOURCE_ID,
)
from reviews_etl.config import PipelineConfig
from reviews_etl.errors import QualityGateError, ReconciliationError
from reviews_etl.job.analyses import (
    daily_review_counts,
    latest_per_review_id,
    rating_distribution,
    top_customers,
)
from reviews_etl.job.catalog import CURATED_TABLE, REJECTED_TABLE, PartitionRegistrar
from reviews_etl.job.execution import (
    Counted,
    cache,
    complete_batches,
    write_by_source,
    write_parquet,
)
from reviews_etl.job.read_errors import source_read_errors
from reviews_etl.job.reader import (
    HeaderMapping,
    inspect_source,
    partitions_for,
    read_reviews_csv,
    scratch_folder,
)
from reviews_etl.job.schemas import CURATED_STORED_SCHEMA
from reviews_etl.job.session import apply_pipeline_settings
from reviews_etl.job.storage import HadoopFS
from reviews_etl.job.transforms import (
    BatchLineage,
    add_batch_lineage,
    add_normalised_text,
    clean_reviews,
    duplicate_review_ids,
    mark_duplicate_review_ids,
    quarantine_reviews,
    rule_labels,
    to_curated,
    to_quarantine,
)
from reviews_etl.logs import get_logger, log_event
from reviews_etl.manifest import BatchResult, RunResult, Stopwatch, new_run_id
from reviews_etl.paths import (
    OutputPaths,
    absolute_local,
    normalise_path,
    partition_path,
    source_id_for,
)
from reviews_etl.report import write_run_report

logger = get_logger(__name__)

# Rule 9 broadcasts the duplicated review ids up to this many (a few tens of MB), and falls
# back to a window over all rows, which shuffles and sorts them, above it.
DEDUPE_BROADCAST_LIMIT = 1_000_000
# One curated (and rejected) Parquet file per this many bytes of source CSV: about 25 MB of
# Parquet per curated file.
OUTPUT_FILE_SOURCE_BYTES = 64 << 20
# Sources read together in one Spark pass (a burst of small files): up to this much CSV text
# and this many files. A large file is a group of its own.
GROUP_SOURCE_BYTES = 1 << 30
GROUP_MAX_SOURCES = 500
# Threads defining the DataFrames of a group's files (py4j calls, no Spark job).
READ_THREADS = 4
# Spark settings the manifest records: where the run ran and with how much driver memory.
_REPORTED_CONF = ("spark.master", "spark.driver.memory", "spark.executor.memory")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class _RunContext:
    config: PipelineConfig
    run_id: str
    started_at: dt.datetime
    paths: OutputPaths
    registrar: PartitionRegistrar | None = None
    watch: Stopwatch = field(default_factory=Stopwatch)
    batches: list[BatchResult] = field(default_factory=list)
    outputs: dict[str, int] = field(default_factory=lambda: {"curated": 0, "rejected": 0})
    # Asked of the JVM at the start: a manifest must still be written if it dies later.
    versions: dict[str, str] = field(default_factory=dict)
    spark_conf: dict[str, str] = field(default_factory=dict)
    _last_ingested_at: dt.datetime | None = None

    def next_ingested_at(self) -> dt.datetime:
        """Now, and always later than the previous batch's: of two sources holding the same
        review id, the later one in the run is the newer (:func:`latest_per_review_id`)."""
        now = _utcnow()
        previous = self._last_ingested_at
        if previous is not None and now <= previous:
            now = previous + dt.timedelta(microseconds=1)
        self._last_ingested_at = now
        return now


def _validate_batch(raw: DataFrame, cached: list[DataFrame]) -> DataFrame:
    """:func:`validate_reviews` for the pipeline: rules 1-8 labelled once and cached in their
    compact form (the dedupe, the count and both writes reuse them), rule 9 by a broadcast of
    the duplicated ids unless they are too many. Appends what it caches to ``cached``, for
    the caller to release.
    """
    compact = cache(raw.transform(rule_labels))
    cached.append(compact)
    labelled = compact.transform(add_normalised_text)
    duplicates = cache(duplicate_review_ids(labelled))
    cached.append(duplicates)
    if duplicates.count() <= DEDUPE_BROADCAST_LIMIT:
        # Recomputed by each action over the cache: a join with a small broadcast set.
        return mark_duplicate_review_ids(labelled, duplicates)
    validated = cache(mark_duplicate_review_ids(labelled))
    cached.append(validated)
    return validated


@dataclass(frozen=True)
class _Batch:
    """One source of a group read in one pass; ``index`` is its ``_batch`` value."""

    index: int
    source: str
    header: HeaderMapping
    lineage: BatchLineage


def _groups(
    sources: list[str], headers: list[HeaderMapping]
) -> list[list[tuple[str, HeaderMapping]]]:
    """Consecutive sources read in one Spark pass, up to :data:`GROUP_SOURCE_BYTES` of CSV
    and :data:`GROUP_MAX_SOURCES` files. A source named twice starts a new group: its second
    batch replaces the first, as it would in a run of its own."""
    groups: list[list[tuple[str, HeaderMapping]]] = []
    current: list[tuple[str, HeaderMapping]] = []
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


def _read_group(spark: SparkSession, batches: list[_Batch], scratch: Path) -> DataFrame:
    def read(batch: _Batch) -> DataFrame:
        return read_reviews_csv(
            spark, batch.source, batch.header, batch=batch.index, scratch=scratch
        )

    # Defining a file's DataFrame is a hundred py4j round trips; Spark analyses them on its
    # own threads, so a few at once halve the time (200 files: 9.5 s one by one, 4.7 s).
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
    partitions = partitions_for(
        sum(batch.header.source_bytes or 0 for batch in batches),
        spark.sparkContext.defaultParallelism,
    )
    return frames[0].coalesce(partitions)


@dataclass
class _BatchCounts:
    read: int
    by_reason: dict[str, int]

    @property
    def rejected(self) -> int:
        return sum(self.by_reason.values())


def _batch_counts(
    validated: DataFrame, batches: list[_Batch], parsed: Counted, quarantined: Counted
) -> list[_BatchCounts]:
    """Rows read and rejects per reason of each batch: those the quarantine write observed
    for one batch; for several, one aggregate of two narrow columns over the cache."""
    if len(batches) == 1:
        return [_BatchCounts(parsed.rows, quarantined.by_reason)]
    counts = [_BatchCounts(0, dict.fromkeys(REJECT_REASONS, 0)) for _ in batches]
    for row in validated.groupBy(BATCH, REJECT_REASON).count().collect():
        batch = counts[row[BATCH]]
        batch.read += row["count"]
        if row[REJECT_REASON] is not None:
            batch.by_reason[row[REJECT_REASON]] += row["count"]
    return counts


@contextmanager
def _releasing(cached: list[DataFrame]) -> Iterator[None]:
    """Unpersist what the block cached (appended to ``cached``), however it ends."""
    try:
        yield
    finally:
        for df in cached:
            df.unpersist()


def _keyed(df: DataFrame, contract: Callable[[DataFrame], DataFrame]) -> DataFrame:
    """The output's schema contract plus the ``source_id`` its folders are named by."""
    return df.select(*contract(df).columns, SOURCE_ID)


def _process_group(
    spark: SparkSession, run: _RunContext, members: list[tuple[str, HeaderMapping]]
) -> list[BatchResult]:
    config, run_id, paths, watch = run.config, run.run_id, run.paths, run.watch
    batches = [
        _Batch(
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
    lineage = add_batch_lineage([batch.lineage for batch in batches], run_id)
    # Fewer, larger files than the partitions the rows were labelled in (sized for memory).
    files = partitions_for(
        sum(batch.header.source_bytes or 0 for batch in batches),
        spark.sparkContext.defaultParallelism,
        partition_bytes=OUTPUT_FILE_SOURCE_BYTES,
    )

    cached: list[DataFrame] = []
    # The pieces a large file is cut into are read until the last write: removed after it.
    # Spark reads lazily: a source that vanishes or overflows a limit mid-read fails in here.
    with (
        scratch_folder() as scratch,
        _releasing(cached),
        source_read_errors(*(batch.source for batch in batches)),
    ):
        with watch.stage("clean"):
            validated = _validate_batch(_read_group(spark, batches, scratch), cached)
        with watch.stage("write_rejected"):
            # Every parsed record passes here once: validation adds columns, never drops
            # a row. Observed on the write, not on the parse under the cache: on Spark 4.1
            # metrics observed while a cache was built never reached the Observation.
            parsed = Counted(validated)
            quarantined = Counted(
                _keyed(parsed.df.transform(quarantine_reviews).transform(lineage), to_quarantine),
                by_reason=True,
            )
            write_by_source(
                quarantined.df.coalesce(files),
                paths.rejected,
                [batch.lineage.source_id for batch in batches],
                paths.staging(run_id),
            )
            counts = _batch_counts(validated, batches, parsed, quarantined)
        # A batch over the gate publishes nothing: its accepted rows are those not rejected.
        gate_failed = [
            count.read > 0 and count.rejected / count.read > config.max_reject_ratio
            for count in counts
        ]
        passing = [b for b, failed in zip(batches, gate_failed, strict=True) if not failed]
        accepted = 0
        if passing:
            with watch.stage("write_curated"):
                rows = validated
                if len(passing) < len(batches):
                    rows = rows.where(F.col(BATCH).isin([batch.index for batch in passing]))
                curated = Counted(
                    _keyed(rows.transform(clean_reviews).transform(lineage), to_curated)
                )
                write_by_source(
                    curated.df.coalesce(files),
                    paths.curated,
                    [batch.lineage.source_id for batch in passing],
                    paths.staging(run_id),
                )
            accepted = curated.rows
        _reconcile(
            spark,
            batches,
            paths.curated,
            counts=counts,
            published=[not failed for failed in gate_failed],
            read=parsed.rows,
            accepted=accepted,
            rejected=quarantined.rows,
        )

    results = []
    for batch, count, failed in zip(batches, counts, gate_failed, strict=True):
        source_id = batch.lineage.source_id
        rejected_path = partition_path(paths.rejected, source_id)
        published = None if failed else partition_path(paths.curated, source_id)
        result = BatchResult(
            source=batch.source,
            source_file=batch.lineage.source_file,
            source_id=source_id,
            status="failed_quality_gate" if failed else "succeeded",
            ingested_at=batch.lineage.ingested_at,
            rows_read=count.read,
            rows_accepted=count.read - count.rejected,
            rows_rejected=count.rejected,
            rejects_by_reason=count.by_reason,
            reject_share=count.rejected / count.read if count.read else 0.0,
            curated_path=published,
            rejected_path=rejected_path,
            catalog_partitions=_register_partitions(run, source_id, rejected_path, published),
        )
        log_event(
            logger,
            "batch_processed",
            run_id=run_id,
            source=batch.source,
            status=result.status,
            rows_read=result.rows_read,
            rows_accepted=result.rows_accepted,
            rows_rejected=result.rows_rejected,
            rejects_by_reason={k: v for k, v in count.by_reason.items() if v},
        )
        results.append(result)
    return results


def _reconcile(
    spark: SparkSession,
    batches: list[_Batch],
    curated_root: str,
    *,
    counts: list[_BatchCounts],
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


def _register_partitions(
    run: _RunContext, source_id: str, rejected_path: str, curated_path: str | None
) -> dict[str, str]:
    """Point the catalog's partitions at what this batch wrote; a batch that failed the
    quality gate (``curated_path`` None) registers only its quarantine."""
    if run.registrar is None:
        return {}
    changes = {REJECTED_TABLE: run.registrar.register(REJECTED_TABLE, source_id, rejected_path)}
    if curated_path is not None:
        changes[CURATED_TABLE] = run.registrar.register(CURATED_TABLE, source_id, curated_path)
    return dict(changes)


def _stage_started(run_id: str, stage: str, on_stage: Callable[[str], object] | None) -> None:
    log_event(logger, "stage_started", run_id=run_id, stage=stage)
    if on_stage is not None:
        on_stage(stage)


def _publish_analyses(
    spark: SparkSession, config: PipelineConfig, paths: OutputPaths, watch: Stopwatch
) -> dict[str, int]:
    """Recompute the analyses over all curated data, one row per review_id."""
    with watch.stage("analyses"):
        batches = complete_batches(spark, paths.curated)
        curated = (
            spark.read.schema(CURATED_STORED_SCHEMA)
            .option("basePath", paths.curated)
            .parquet(*batches)
            .select(REVIEW_ID, PRODUCT_ID, CUSTOMER_ID, RATING, REVIEW_DATE, INGESTED_AT, SOURCE_ID)
        )
        # Rule 9 already left one row per review_id within a batch: with a single batch the
        # newest-batch dedupe (a sort of every curated row) would change nothing.
        single = curated.select(REVIEW_ID, PRODUCT_ID, CUSTOMER_ID, RATING, REVIEW_DATE)
        latest = cache(single if len(batches) == 1 else latest_per_review_id(curated))
        analyses = {
            "daily_review_counts": (
                latest.transform(daily_review_counts),
                paths.daily_review_counts,
            ),
            "top_customers": (
                latest.transform(lambda df: top_customers(df, config.top_n)),
                paths.top_customers,
            ),
            "rating_distribution": (
                latest.transform(rating_distribution),
                paths.rating_distribution,
            ),
        }
        materialised = {name: (cache(df), path) for name, (df, path) in analyses.items()}
        counts = {name: df.count() for name, (df, _) in materialised.items()}
    try:
        with watch.stage("write_analyses"):
            for df, path in materialised.values():
                write_parquet(df.coalesce(config.analysis_files), path)
    finally:
        for df, _ in materialised.values():
            df.unpersist()
        latest.unpersist()
    return counts


def run_pipeline(
    spark: SparkSession,
    config: PipelineConfig,
    *,
    on_stage: Callable[[str], object] | None = None,
) -> RunResult:
    """Process every source of ``config`` as one batch, in order, then refresh the analyses.

    Raises a :class:`~reviews_etl.errors.SourceError` before anything is written when a
    source is missing, empty or lacks required columns, and
    :class:`~reviews_etl.errors.QualityGateError` (after writing the quarantine and a failed
    manifest) when a batch rejects more than ``max_reject_ratio`` of its rows. Otherwise
    returns the run manifest, also written to ``_runs/<run_id>.json``.
    """
    apply_pipeline_settings(spark)
    started_at = _utcnow()
    run_id = config.run_id or new_run_id(started_at)
    run = _RunContext(
        config=config,
        run_id=run_id,
        started_at=started_at,
        paths=OutputPaths.under(absolute_local(config.output_root), config.layout),
        registrar=PartitionRegistrar(config.catalog_database) if config.catalog_database else None,
        watch=Stopwatch(on_start=lambda stage: _stage_started(run_id, stage, on_stage)),
        versions={
            "reviews_etl": __version__,
            "spark": spark.version,
            "python": platform.python_version(),
        },
        spark_conf={
            key.removeprefix("spark."): value
            for key, value in spark.sparkContext.getConf().getAll()
            if key in _REPORTED_CONF
        },
    )
    log_event(logger, "run_started", run_id=run.run_id, sources=config.sources)

    sources = [absolute_local(source) for source in config.sources]
    with run.watch.stage("read"):
        headers = [inspect_source(spark, source) for source in sources]

    gate_error: QualityGateError | None = None
    try:
        for group in _groups(sources, headers):
            for batch in _process_group(spark, run, group):
                run.batches.append(batch)
                run.outputs["rejected"] += batch.rows_rejected
                if batch.status == "failed_quality_gate":
                    gate_error = gate_error or QualityGateError(
                        batch.source, batch.rows_rejected, batch.rows_read, config.max_reject_ratio
                    )
                else:
                    run.outputs["curated"] += batch.rows_accepted
        if any(b.status == "succeeded" for b in run.batches):
            run.outputs.update(_publish_analyses(spark, config, run.paths, run.watch))
    except Exception as exc:
        _write_manifest(spark, run, error=f"{type(exc).__name__}: {exc}")
        raise
    result = _write_manifest(spark, run, error=str(gate_error) if gate_error else None)
    if gate_error is not None:
        gate_error.result = result
        raise gate_error
    return result


def _write_manifest(spark: SparkSession, run: _RunContext, error: str | None) -> RunResult:
    paths, config, run_id = run.paths, run.config, run.run_id
    manifest_path = paths.manifest(run_id)
    result = RunResult(
        run_id=run_id,
        status="failed" if error else "succeeded",
        error=error,
        started_at=run.started_at,
        finished_at=_utcnow(),
        output_root=config.output_root,
        sources=list(config.sources),
        batches=run.batches,
        outputs=run.outputs,
        output_paths=paths.published(),
        stage_seconds={k: round(v, 3) for k, v in run.watch.seconds.items()},
        max_reject_ratio=config.max_reject_ratio,
        top_n=config.top_n,
        versions=run.versions,
        spark_conf=run.spark_conf,
        manifest_path=manifest_path,
    )
    log_event(logger, "manifest_writing", run_id=run_id, path=manifest_path)
    try:
        HadoopFS(spark).write_text(manifest_path, result.model_dump_json(indent=2) + "\n")
    except Exception as exc:  # the run's own error matters more than a lost manifest
        if error is None:
            raise
        log_event(logger, "manifest_write_failed", run_id=run_id, error=str(exc))
    # reports/<run_id>.html beside the manifest; never fails the run (one warning line).
    write_run_report(config.output_root, run_id, config.layout)
    log_event(logger, "run_finished", run_id=run_id, status=result.status, error=error)
    return result


__all__ = ["BatchResult", "RunResult", "run_pipeline"]
