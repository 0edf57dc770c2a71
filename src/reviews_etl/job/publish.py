"""Making a run's results visible: each batch's partitions in the catalog, the analyses over
all curated data, and the run manifest (with its report)."""

from __future__ import annotations

from pyspark.sql import SparkSession

from reviews_etl.columns import (
    CUSTOMER_ID,
    INGESTED_AT,
    PRODUCT_ID,
    RATING,
    REVIEW_DATE,
    REVIEW_ID,
    SOURCE_ID,
)
from reviews_etl.job.analyses import (
    daily_review_counts,
    latest_per_review_id,
    rating_distribution,
    top_customers,
)
from reviews_etl.job.catalog import CURATED_TABLE, REJECTED_TABLE
from reviews_etl.job.context import RunContext, logger, utcnow
from reviews_etl.job.execution import cache, complete_batches, write_parquet
from reviews_etl.job.schemas import CURATED_STORED_SCHEMA
from reviews_etl.job.storage import HadoopFS
from reviews_etl.logs import log_event
from reviews_etl.manifest import RunResult
from reviews_etl.report import write_run_report


def register_partitions(
    run: RunContext, source_id: str, rejected_path: str, curated_path: str | None
) -> dict[str, str]:
    """Point the catalog's partitions at what this batch wrote; a batch that failed the
    quality gate (``curated_path`` None) registers only its quarantine."""
    if run.registrar is None:
        return {}
    changes = {REJECTED_TABLE: run.registrar.register(REJECTED_TABLE, source_id, rejected_path)}
    if curated_path is not None:
        changes[CURATED_TABLE] = run.registrar.register(CURATED_TABLE, source_id, curated_path)
    return dict(changes)


def publish_analyses(spark: SparkSession, run: RunContext) -> dict[str, int]:
    """Recompute the analyses over all curated data, one row per review_id; their row counts
    by name."""
    config, paths, watch = run.config, run.paths, run.watch
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
            "daily_review_counts": latest.transform(daily_review_counts),
            "top_customers": latest.transform(lambda df: top_customers(df, config.top_n)),
            "rating_distribution": latest.transform(rating_distribution),
        }
        published = paths.published()
        materialised = {name: (cache(df), published[name]) for name, df in analyses.items()}
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


def write_manifest(spark: SparkSession, run: RunContext, error: str | None) -> RunResult:
    """Write the run's manifest (``_runs/<run_id>.json``) and its report; the manifest."""
    paths, config, run_id = run.paths, run.config, run.run_id
    manifest_path = paths.manifest(run_id)
    result = RunResult(
        run_id=run_id,
        status="failed" if error else "succeeded",
        error=error,
        started_at=run.started_at,
        finished_at=utcnow(),
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
