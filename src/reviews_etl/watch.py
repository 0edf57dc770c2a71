"""Local event-driven mode: a landing folder stands in for S3, this watcher for the S3 event
and its queue, and a local launcher for Glue. Decisions go through the same code as the
Lambda trigger (:func:`reviews_etl.trigger.handle_objects`).

A file is processed once it is complete (its size and modification time have not changed for
``settle_seconds``; a file written elsewhere and renamed in is complete at once) and only once
per version, across restarts: what was done is kept in ``<output>/_watch/state.json``. Every
complete file found in one poll goes into one run (at most ``max_files`` files per run; the
rest go into the next runs of the same poll), ordered by modification time, then name.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel
from pyspark.sql import SparkSession

from reviews_etl.config import PipelineConfig
from reviews_etl.job.pipeline import run_pipeline
from reviews_etl.logs import get_logger, log_event
from reviews_etl.manifest import RunResult
from reviews_etl.trigger import (
    JobLauncher,
    LandingRules,
    LocalObjectRef,
    TriggerSummary,
    decide,
    handle_objects,
)

STATE_FOLDER = "_watch"
STATE_FILE = "state.json"
Status = Literal["succeeded", "failed", "skipped"]
logger = get_logger(__name__)


class FileRecord(BaseModel):
    """What the watcher did with one version of one file."""

    key: str
    fingerprint: str
    status: Status
    run_id: str | None = None
    detail: str = ""
    at: dt.datetime


class WatchState(BaseModel):
    files: dict[str, FileRecord] = {}


class LocalLauncher:
    """A :class:`~reviews_etl.trigger.JobLauncher` that runs the pipeline in this process, over
    all the sources of a run in order."""

    def __init__(
        self,
        spark: SparkSession,
        top_n: int,
        max_reject_ratio: float,
        on_stage: Callable[[str], object] | None = None,
    ) -> None:
        self.spark = spark
        self.top_n = top_n
        self.max_reject_ratio = max_reject_ratio
        self.on_stage = on_stage
        self.last_result: RunResult | None = None

    def start(self, sources: list[str], arguments: dict[str, str]) -> str:
        self.last_result = None
        config = PipelineConfig.build(
            sources=list(sources),
            output_root=arguments["output_path"],
            top_n=self.top_n,
            max_reject_ratio=self.max_reject_ratio,
        )
        self.last_result = run_pipeline(self.spark, config, on_stage=self.on_stage)
        return self.last_result.run_id


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except FileNotFoundError:  # removed or renamed between listing and stat
        return None


def _fingerprint(stat: os.stat_result) -> str:
    return f"{stat.st_size}:{stat.st_mtime_ns}"


@dataclass
class _Candidate:
    fingerprint: str
    stable_since: float


@dataclass(frozen=True)
class _Ready:
    """A complete file of this poll, waiting for its run."""

    path: Path
    key: str
    fingerprint: str
    mtime_ns: int


class FolderWatcher:
    def __init__(
        self,
        landing_dir: str | Path,
        output_root: str | Path,
        launcher: JobLauncher,
        *,
        suffixes: tuple[str, ...] = (".csv",),
        settle_seconds: float = 1.0,
        max_files: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        report: Callable[[str], None] = print,
    ) -> None:
        self.landing = Path(landing_dir).resolve()
        if not self.landing.is_dir():
            raise NotADirectoryError(f"{landing_dir}: landing folder does not exist")
        self.output_root = Path(output_root).resolve()
        if self.output_root.is_relative_to(self.landing):
            raise ValueError(
                f"{output_root}: the output folder must not lie inside the landing folder"
            )
        if max_files is not None and max_files < 1:
            raise ValueError(f"max_files must be at least 1, got {max_files}")
        self.launcher = launcher
        self.max_files = max_files
        self.rules = LandingRules(landing_bucket=str(self.landing), allowed_suffixes=suffixes)
        self.settle_seconds = settle_seconds
        self.clock = clock
        self.report = report
        self.state_path = self.output_root / STATE_FOLDER / STATE_FILE
        self.state = self._load_state()
        self._candidates: dict[str, _Candidate] = {}

    def _load_state(self) -> WatchState:
        if self.state_path.exists():
            return WatchState.model_validate_json(self.state_path.read_text(encoding="utf-8"))
        return WatchState()

    def _save_state(self) -> None:
        # Write-then-rename, so a crash never leaves half a state file behind.
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.state_path.with_suffix(".json.tmp")
        temporary.write_text(self.state.model_dump_json(indent=2), encoding="utf-8")
        os.replace(temporary, self.state_path)

    def _files(self) -> list[Path]:
        found = []
        for path in sorted(self.landing.rglob("*")):
            relative = path.relative_to(self.landing)
            # Hidden files and folders are editors' and uploaders' temporaries.
            if path.is_file() and not any(p.startswith(".") for p in relative.parts):
                found.append(path)
        return found

    @property
    def pending(self) -> int:
        """Files seen but not yet complete."""
        return len(self._candidates)

    def scan(self) -> list[FileRecord]:
        """One poll: process every file that is complete and new, as one run (or several of
        at most ``max_files`` files each), oldest first. Returns what was done, in order."""
        now = self.clock()
        ready: list[_Ready] = []
        seen: set[str] = set()
        for path in self._files():
            key = path.relative_to(self.landing).as_posix()
            stat = _stat(path)
            if stat is None:
                continue
            fingerprint = _fingerprint(stat)
            seen.add(key)
            recorded = self.state.files.get(key)
            if recorded is not None and recorded.fingerprint == fingerprint:
                self._candidates.pop(key, None)
                continue
            candidate = self._candidates.get(key)
            if candidate is None or candidate.fingerprint != fingerprint:
                self._candidates[key] = _Candidate(fingerprint, now)
                continue
            if now - candidate.stable_since < self.settle_seconds:
                continue
            del self._candidates[key]
            ready.append(_Ready(path, key, fingerprint, stat.st_mtime_ns))
        for vanished in set(self._candidates) - seen:
            del self._candidates[vanished]
        ready.sort(key=lambda r: (r.mtime_ns, r.key))
        done: list[FileRecord] = []
        for batch in self._batches(ready):
            records = self._process(batch)
            for record in records:
                self.state.files[record.key] = record
            self._save_state()  # after each run: a restart does not repeat a finished one
            done.extend(records)
        return done

    def _batches(self, ready: list[_Ready]) -> list[list[tuple[_Ready, LocalObjectRef]]]:
        """Split the poll's files into runs of at most ``max_files`` files that the landing
        rules accept; files the rules skip go along with the run they fall in (they start
        nothing)."""
        batches: list[list[tuple[_Ready, LocalObjectRef]]] = []
        current: list[tuple[_Ready, LocalObjectRef]] = []
        accepted = 0
        for item in ready:
            ref = LocalObjectRef.from_path(self.landing, item.path)
            starts = decide(ref, self.rules).start
            if starts and self.max_files is not None and accepted >= self.max_files:
                batches.append(current)
                current, accepted = [], 0
            current.append((item, ref))
            accepted += starts
        if current:
            batches.append(current)
        return batches

    def _process(self, batch: list[tuple[_Ready, LocalObjectRef]]) -> list[FileRecord]:
        # A failing run is reported in the summary (for each of its files), and never stops
        # the watcher.
        summary = handle_objects(
            [ref for _, ref in batch],
            self.rules,
            self.launcher,
            {"output_path": str(self.output_root)},
        )
        outcome = _outcomes(summary)
        records = []
        for item, ref in batch:
            status, run_id, detail = outcome.get(ref.source_path, ("skipped", None, ""))
            if status == "succeeded":
                detail = self._describe_result(ref.source_path)
            record = FileRecord(
                key=item.key,
                fingerprint=item.fingerprint,
                status=status,
                run_id=run_id,
                detail=detail,
                at=dt.datetime.now(dt.UTC),
            )
            log_event(logger, "watch.file", **record.model_dump(mode="json"))
            self.report(
                f"{status:<9} {item.key}  {('run ' + run_id + '  ') if run_id else ''}{detail}"
            )
            records.append(record)
        return records

    def _describe_result(self, source_path: str) -> str:
        """Rows read, accepted and rejected for one file of the last run (the local launcher
        keeps the run's result; other launchers give nothing to describe)."""
        result = getattr(self.launcher, "last_result", None)
        if not isinstance(result, RunResult):
            return ""
        for batch in result.batches:
            if batch.source == source_path:
                return (
                    f"{batch.rows_read:,} read, {batch.rows_accepted:,} accepted, "
                    f"{batch.rows_rejected:,} rejected"
                )
        return ""

    def run(
        self,
        interval: float = 1.0,
        stop: threading.Event | None = None,
        once: bool = False,
    ) -> list[FileRecord]:
        """Poll every ``interval`` seconds until ``stop`` is set (or, with ``once``, until every
        file present has been handled). Ctrl-C ends it between polls or runs. Returns what
        was done."""
        stop = stop or threading.Event()
        done = self.scan()
        while not stop.is_set():
            if once and self.pending == 0:
                break
            stop.wait(interval)
            done += self.scan()
        return done


def _outcomes(summary: TriggerSummary) -> dict[str, tuple[Status, str | None, str]]:
    """Source path -> (status, run id, detail) for the objects of one run."""
    outcome: dict[str, tuple[Status, str | None, str]] = {}
    for skip in summary.skipped:
        if skip.source_path is not None:
            outcome[skip.source_path] = ("skipped", None, f"{skip.reason}: {skip.detail}")
    for started in summary.started:
        outcome[started.source_path] = ("succeeded", started.run_id, "")
    for failed in summary.failed:
        outcome[failed.source_path] = ("failed", None, failed.error)
    return outcome


def state_of(output_root: str | Path) -> dict[str, FileRecord]:
    """The watcher's record for an output folder (for tooling and tests)."""
    path = Path(output_root) / STATE_FOLDER / STATE_FILE
    if not path.exists():
        return {}
    return WatchState.model_validate(json.loads(path.read_text(encoding="utf-8"))).files
