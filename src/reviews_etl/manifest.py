"""What a run reports: the run manifest (``_runs/<run_id>.json``), its batches, the stage
names and the stopwatch that times them. No Spark: the CLI, the watcher and the benchmarks
read manifests without starting a JVM."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final, Literal

from pydantic import BaseModel, Field, computed_field

from reviews_etl.columns import REJECT_REASONS

# Stage names, in the order they run; the manifest reports seconds for each.
STAGES: Final = (
    "read",
    "clean",
    "write_rejected",
    "write_curated",
    "analyses",
    "write_analyses",
)

BatchStatus = Literal["succeeded", "failed_quality_gate"]
RunStatus = Literal["succeeded", "failed"]


class Stopwatch:
    """Seconds spent per named stage; a stage entered twice adds up. ``on_start`` is told
    each stage's name as it starts (the pipeline logs it)."""

    def __init__(
        self,
        stages: tuple[str, ...] = STAGES,
        on_start: Callable[[str], object] | None = None,
    ) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(stages, 0.0)
        self.on_start = on_start

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self.on_start is not None:
            self.on_start(name)
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


class BatchResult(BaseModel):
    """What happened to one source object."""

    source: str
    source_file: str
    source_id: str
    status: BatchStatus
    ingested_at: dt.datetime
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    rejects_by_reason: dict[str, int]
    reject_share: float
    curated_path: str | None
    rejected_path: str
    # Glue Data Catalog table -> "created", "updated" or "unchanged" (with catalog_database).
    catalog_partitions: dict[str, str] = Field(default_factory=dict)


class RunResult(BaseModel):
    """The run manifest (``_runs/<run_id>.json``) and what ``run_pipeline`` returns."""

    run_id: str
    status: RunStatus
    error: str | None = None
    started_at: dt.datetime
    finished_at: dt.datetime
    output_root: str
    sources: list[str]
    batches: list[BatchResult]
    outputs: dict[str, int] = Field(description="rows written per output")
    output_paths: dict[str, str]
    stage_seconds: dict[str, float]
    max_reject_ratio: float
    top_n: int
    versions: dict[str, str]
    # master, driver.memory (and executor.memory where set) of the Spark that ran it.
    spark_conf: dict[str, str] = Field(default_factory=dict)
    manifest_path: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rows_read(self) -> int:
        return sum(b.rows_read for b in self.batches)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rows_accepted(self) -> int:
        return sum(b.rows_accepted for b in self.batches)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rows_rejected(self) -> int:
        return sum(b.rows_rejected for b in self.batches)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rejects_by_reason(self) -> dict[str, int]:
        return {r: sum(b.rejects_by_reason[r] for b in self.batches) for r in REJECT_REASONS}


def new_run_id(now: dt.datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def format_summary(result: RunResult) -> str:
    """The run as the command line prints it: counts per batch and reason, outputs, stages."""
    where = ", ".join(
        [f"Spark {result.versions['spark']}"]
        + [
            f"{key} {result.spark_conf[key]}"
            for key in ("master", "driver.memory")
            if key in result.spark_conf
        ]
    )
    lines = [f"run {result.run_id}: {result.status}  ({where})"]
    for batch in result.batches:
        lines.append(f"source {batch.source}  [{batch.status}]")
        lines.append(f"  rows read      {batch.rows_read:>12,}")
        lines.append(f"  accepted       {batch.rows_accepted:>12,}")
        lines.append(f"  rejected       {batch.rows_rejected:>12,}  ({batch.reject_share:.2%})")
        for reason, count in batch.rejects_by_reason.items():
            if count:
                lines.append(f"    {reason:<22}{count:>10,}")
    if len(result.batches) > 1:
        lines.append(
            f"total: {result.rows_read:,} read = {result.rows_accepted:,} accepted "
            f"+ {result.rows_rejected:,} rejected"
        )
    lines.append("outputs (rows written by this run)")
    for name, rows in result.outputs.items():
        path = result.output_paths.get(name, "")
        lines.append(f"  {name:<22}{rows:>12,}  {path}")
    stages = "  ".join(f"{name} {seconds:.2f}" for name, seconds in result.stage_seconds.items())
    lines.append(f"seconds per stage: {stages}")
    lines.append(f"manifest {result.manifest_path}")
    if result.error:
        lines.append(f"error: {result.error}")
    return "\n".join(lines)
