"""One run's state from its start to its manifest: its id and clock, where it writes, the
catalog it registers partitions in, its stage timings and the batches processed so far."""

from __future__ import annotations

import datetime as dt
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from pyspark.sql import SparkSession

from reviews_etl._version import __version__
from reviews_etl.config import PipelineConfig
from reviews_etl.job.catalog import PartitionRegistrar
from reviews_etl.logs import get_logger, log_event
from reviews_etl.manifest import BatchResult, Stopwatch, new_run_id
from reviews_etl.paths import OutputPaths, absolute_local

# One logger for every event of a run, named after the runner's module whichever part of the
# job logs it: a handler or filter set on that name sees the whole run.
RUN_LOGGER: Final = "reviews_etl.job.pipeline"
logger = get_logger(RUN_LOGGER)

# Spark settings the manifest records: where the run ran and with how much driver memory.
_REPORTED_CONF = ("spark.master", "spark.driver.memory", "spark.executor.memory")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class RunContext:
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
        now = utcnow()
        previous = self._last_ingested_at
        if previous is not None and now <= previous:
            now = previous + dt.timedelta(microseconds=1)
        self._last_ingested_at = now
        return now


def start_run(
    spark: SparkSession, config: PipelineConfig, on_stage: Callable[[str], object] | None
) -> RunContext:
    """The context of a new run of ``config``, started now: its id is ``config.run_id`` or a
    new one, and each stage it starts is logged and passed to ``on_stage``."""
    started_at = utcnow()
    run_id = config.run_id or new_run_id(started_at)
    return RunContext(
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


def _stage_started(run_id: str, stage: str, on_stage: Callable[[str], object] | None) -> None:
    log_event(logger, "stage_started", run_id=run_id, stage=stage)
    if on_stage is not None:
        on_stage(stage)
