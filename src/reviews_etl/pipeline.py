"""The one runner every entry point calls: CLI, Glue, the watch mode and notebooks."""

from __future__ import annotations

import datetime as dt
import hashlib
import platform
from collections.abc import Callable
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession

from reviews_etl._version import __version__
from reviews_etl.analyses import (
    daily_review_counts,
    latest_per_review_id,
    rating_distribution,
    top_customers,
)
from reviews_etl.catalog import CURATED_TABLE, REJECTED_TABLE, PartitionRegistrar
from reviews_etl.columns import (
    CUSTOMER_ID,
    INGESTED_AT,
    PRODUCT_ID,
    RATING,
    REVIEW_DATE,
    REVIEW_ID,
    SOURCE_ID,
)
from reviews_etl.config import PipelineConfig
from reviews_etl.errors import QualityGateError, ReconciliationError
from reviews_etl.execution import Counted, cache, complete_batches, write_parquet
from reviews_etl.logs import get_logger, log_event
from reviews_etl.manifest import BatchResult, RunResult, Stopwatch, new_run_id
from reviews_etl.read_errors import source_read_errors
from reviews_etl.reader import (
    HeaderMapping,
    inspect_source,
    partitions_for,
    read_reviews_csv,
)
from reviews_etl.report import write_run_report
from reviews_etl.schemas import CURATED_STORED_SCHEMA
from reviews_etl.session import apply_pipeline_settings
from reviews_etl.storage import HadoopFS, absolute_local, join, normalise_path
from reviews_etl.transforms import (
    add_lineage,
    add_normalised_text,
    clean_reviews,
    duplicate_review_ids,
    mark_duplicate_review_ids,
    quarantine_reviews,
    rule_labels,
    to_curated,
    to_quarantine,
)

logger = get_logger(__name__)

# Rule 9 broadcasts the duplicated review ids up to this many (a few tens of MB), and falls
# back to a window over all rows, which shuffles and sorts them, above it.
DEDUPE_BROADCAST_LIMIT = 1_000_000
# One curated (and rejected) Parquet file per this many bytes of source CSV: about 25 MB of
# Parquet per curated file.
OUTPUT_FILE_SOURCE_BYTES = 64 << 20
# Spark settings the manifest records: where the run ran and with how much driver memory.
_REPORTED_CONF = ("spark.master", "spark.driver.memory", "spark.executor.memory")


def source_id_for(source: str) -> str:
    """Stable folder key of a source object: re-processing it replaces exactly its rows."""
    return hashlib.sha256(normalise_path(source).encode("utf-8")).hexdigest()[:16]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class _RunContext:
    config: PipelineConfig
    run_id: str
    started_at: dt.datetime
    paths: _Paths
    registrar: PartitionRegistrar | None = None
    watch: Stopwatch = field(default_factory=Stopwatch)
    batches: list[BatchResult] = field(default_factory=list)
    outputs: dict[str, int] = field(default_factory=lambda: {"curated": 0, "rejected": 0})
    # Asked of the JVM at the start: a manifest must still be written if it dies later.
    versions: dict[str, str] = field(default_factory=dict)
    spark_conf: dict[str, str] = field(default_factory=dict)


class _Paths:
    def __init__(self, config: PipelineConfig) -> None:
        layout, root = config.layout, absolute_local(config.output_root)
        self.curated = join(root, layout.curated)
        self.rejected = join(root, layout.rejected)
        self.daily = join(root, layout.analyses, layout.daily_review_counts)
        self.top = join(root, layout.analyses, layout.top_customers)
        self.ratings = join(root, layout.analyses, layout.rating_distribution)
        self.runs = join(root, layout.runs)


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


def _process_batch(
    spark: SparkSession, run: _RunContext, source: str, header: HeaderMapping
) -> BatchResult:
    config, run_id, paths, watch = run.config, run.run_id, run.paths, run.watch
    source_file = normalise_path(source)
    source_id = source_id_for(source)
    ingested_at = _utcnow()
    lineage = add_lineage(source_file, run_id, ingested_at)
    rejected_path = join(paths.rejected, f"{SOURCE_ID}={source_id}")
    curated_path = join(paths.curated, f"{SOURCE_ID}={source_id}")

    cached: list[DataFrame] = []
    try:
        # Spark reads lazily: a source that vanishes or overflows a limit mid-read fails here.
        with source_read_errors(source):
            with watch.stage("clean"):
                validated = _validate_batch(read_reviews_csv(spark, source, header), cached)
            # Fewer, larger files than the partitions the rows were labelled in (sized for memory).
            files = partitions_for(
                header.source_bytes or 0,
                spark.sparkContext.defaultParallelism,
                partition_bytes=OUTPUT_FILE_SOURCE_BYTES,
            )
            with watch.stage("write_rejected"):
                # Every parsed record passes here once: validation adds columns, never drops
                # a row. Observed on the write, not on the parse under the cache: on Spark 4.1
                # metrics observed while a cache was built never reached the Observation.
                parsed = Counted(validated)
                quarantined = Counted(
                    parsed.df.transform(quarantine_reviews)
                    .transform(lineage)
                    .transform(to_quarantine),
                    by_reason=True,
                )
                write_parquet(quarantined.df.coalesce(files), rejected_path)
            rows_read, rows_rejected, by_reason = (
                parsed.rows,
                quarantined.rows,
                quarantined.by_reason,
            )
            share = rows_rejected / rows_read if rows_read else 0.0
            gate_failed = share > config.max_reject_ratio
            # A batch over the gate publishes nothing: its accepted rows are those not rejected.
            rows_accepted = rows_read - rows_rejected
            if not gate_failed:
                with watch.stage("write_curated"):
                    curated = Counted(
                        validated.transform(clean_reviews).transform(lineage).transform(to_curated)
                    )
                    write_parquet(curated.df.coalesce(files), curated_path)
                rows_accepted = curated.rows
                _reconcile(
                    spark,
                    source,
                    curated_path,
                    read=rows_read,
                    accepted=rows_accepted,
                    rejected=rows_rejected,
                )
    finally:
        for df in cached:
            df.unpersist()

    published = None if gate_failed else curated_path
    result = BatchResult(
        source=source,
        source_file=source_file,
        source_id=source_id,
        status="failed_quality_gate" if gate_failed else "succeeded",
        ingested_at=ingested_at,
        rows_read=rows_read,
        rows_accepted=rows_accepted,
        rows_rejected=rows_rejected,
        rejects_by_reason=by_reason,
        reject_share=share,
        curated_path=published,
        rejected_path=rejected_path,
        catalog_partitions=_register_partitions(run, source_id, rejected_path, published),
    )
    log_event(
        logger,
        "batch_processed",
        run_id=run_id,
        source=source,
        status=result.status,
        rows_read=rows_read,
        rows_accepted=rows_accepted,
        rows_rejected=rows_rejected,
        rejects_by_reason={k: v for k, v in by_reason.items() if v},
    )
    return result


def _reconcile(
    spark: SparkSession, source: str, curated_path: str, *, read: int, accepted: int, rejected: int
) -> None:
    """Nothing lost: every row read was written once, to the curated data or the quarantine.
    Otherwise the curated rows just written are removed and the run fails."""
    if read == accepted + rejected:
        return
    HadoopFS(spark).delete(curated_path)
    raise ReconciliationError(source, read, accepted, rejected)


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
    spark: SparkSession, config: PipelineConfig, paths: _Paths, watch: Stopwatch
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
            "daily_review_counts": (latest.transform(daily_review_counts), paths.daily),
            "top_customers": (
                latest.transform(lambda df: top_customers(df, config.top_n)),
                paths.top,
            ),
            "rating_distribution": (latest.transform(rating_distribution), paths.ratings),
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
        paths=_Paths(config),
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
        for source, header in zip(sources, headers, strict=True):
            batch = _process_batch(spark, run, source, header)
            run.batches.append(batch)
            run.outputs["rejected"] += batch.rows_rejected
            if batch.status == "failed_quality_gate":
                gate_error = gate_error or QualityGateError(
                    source, batch.rows_rejected, batch.rows_read, config.max_reject_ratio
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
    manifest_path = join(paths.runs, f"{run_id}.json")
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
        output_paths={
            "curated": paths.curated,
            "rejected": paths.rejected,
            "daily_review_counts": paths.daily,
            "top_customers": paths.top,
            "rating_distribution": paths.ratings,
        },
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
