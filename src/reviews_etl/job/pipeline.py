"""The one runner every entry point calls: CLI, Glue, the watch mode and notebooks."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import SparkSession

from reviews_etl.config import PipelineConfig
from reviews_etl.errors import QualityGateError
from reviews_etl.job.batches import process_group
from reviews_etl.job.context import RunContext, logger, start_run
from reviews_etl.job.groups import plan_groups
from reviews_etl.job.headers import inspect_source
from reviews_etl.job.publish import publish_analyses, write_manifest
from reviews_etl.job.session import apply_pipeline_settings
from reviews_etl.logs import log_event
from reviews_etl.manifest import BatchResult, RunResult
from reviews_etl.paths import absolute_local


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
    run = start_run(spark, config, on_stage)
    log_event(logger, "run_started", run_id=run.run_id, sources=config.sources)

    sources = [absolute_local(source) for source in config.sources]
    with run.watch.stage("read"):
        headers = [inspect_source(spark, source) for source in sources]

    gate_error: QualityGateError | None = None
    try:
        for group in plan_groups(sources, headers):
            for batch in process_group(spark, run, group):
                failed = _record(run, batch)
                gate_error = gate_error or failed
        if any(b.status == "succeeded" for b in run.batches):
            run.outputs.update(publish_analyses(spark, run))
    except Exception as exc:
        write_manifest(spark, run, error=f"{type(exc).__name__}: {exc}")
        raise
    result = write_manifest(spark, run, error=str(gate_error) if gate_error else None)
    if gate_error is not None:
        gate_error.result = result
        raise gate_error
    return result


def _record(run: RunContext, batch: BatchResult) -> QualityGateError | None:
    """Add a processed batch to the run's totals; the error its quality gate failure raises
    once the run is recorded, or None."""
    run.batches.append(batch)
    run.outputs["rejected"] += batch.rows_rejected
    if batch.status == "failed_quality_gate":
        return QualityGateError(
            batch.source, batch.rows_rejected, batch.rows_read, run.config.max_reject_ratio
        )
    run.outputs["curated"] += batch.rows_accepted
    return None


__all__ = ["BatchResult", "RunResult", "run_pipeline"]
