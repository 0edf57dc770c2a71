"""Local event-driven mode: a landing folder stands in for S3, this watcher for the S3 event,
and a local launcher for Glue. Decisions go through the same code as the Lambda trigger.

A file is processed once it is complete (its size and modification time have not changed for
``settle_seconds``; a file written elsewhere and renamed in is complete at once) and only once
per version, across restarts: what was done is kept in ``<output>/_watch/state.json``.
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
from reviews_etl.logs import get_logger, log_event
from reviews_etl.manifest import RunResult
from reviews_etl.pipeline import run_pipeline
from reviews_etl.trigger import JobLauncher, LandingRules, LocalObjectRef, handle_objects

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
    """A :class:`~reviews_etl.trigger.JobLauncher` that runs the pipeline in this process."""

    def __init__(self, spark: SparkSession, top_n: int, max_reject_ratio: float) -> None:
        self.spark = spark
        self.top_n = top_n
        self.max_reject_ratio = max_reject_ratio
        self.last_result: RunResult | None = None

    def start(self, source_path: str, arguments: dict[str, str]) -> str:
        config = PipelineConfig.build(
            sources=[source_path],
            output_root=arguments["output_path"],
            top_n=self.top_n,
            max_reject_ratio=self.max_reject_ratio,
        )
        self.last_result = run_pipeline(self.spark, config)
        return self.last_result.run_id


def _fingerprint(path: Path) -> str | None:
    try:
        stat = path.stat()
    except FileNotFoundError:  # removed or renamed between listing and stat
        return None
    return f"{stat.st_size}:{stat.st_mtime_ns}"


@dataclass
class _Candidate:
    fingerprint: str
    stable_since: float


class FolderWatcher:
    def __init__(
        self,
        landing_dir: str | Path,
        output_root: str | Path,
        launcher: JobLauncher,
        *,
        suffixes: tuple[str, ...] = (".csv",),
        settle_seconds: float = 1.0,
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
        self.launcher = launcher
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
        """One poll: process every file that is complete and new. Returns what was done."""
        now = self.clock()
        done: list[FileRecord] = []
        seen: set[str] = set()
        for path in self._files():
            key = path.relative_to(self.landing).as_posix()
            fingerprint = _fingerprint(path)
            if fingerprint is None:
                continue
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
            record = self._process(path, key, fingerprint)
            self.state.files[key] = record
            self._save_state()
            done.append(record)
        for vanished in set(self._candidates) - seen:
            del self._candidates[vanished]
        return done

    def _process(self, path: Path, key: str, fingerprint: str) -> FileRecord:
        ref = LocalObjectRef.from_path(self.landing, path)
        status: Status
        run_id = None
        # A failing file is reported in the summary, and never stops the watcher.
        summary = handle_objects(
            [ref], self.rules, self.launcher, {"output_path": str(self.output_root)}
        )
        if summary.failed:
            status, detail = "failed", summary.failed[0].error
        elif summary.started:
            status, run_id = "succeeded", summary.started[0].run_id
            detail = self._describe_result()
        else:
            skip = summary.skipped[0]
            status, detail = "skipped", f"{skip.reason}: {skip.detail}"
        record = FileRecord(
            key=key,
            fingerprint=fingerprint,
            status=status,
            run_id=run_id,
            detail=detail,
            at=dt.datetime.now(dt.UTC),
        )
        log_event(logger, "watch.file", **record.model_dump(mode="json"))
        self.report(f"{status:<9} {key}  {('run ' + run_id + '  ') if run_id else ''}{detail}")
        return record

    def _describe_result(self) -> str:
        result = getattr(self.launcher, "last_result", None)
        if result is None:
            return ""
        return (
            f"{result.rows_read:,} read, {result.rows_accepted:,} accepted, "
            f"{result.rows_rejected:,} rejected"
        )

    def run(
        self,
        interval: float = 1.0,
        stop: threading.Event | None = None,
        once: bool = False,
    ) -> None:
        """Poll every ``interval`` seconds until ``stop`` is set (or, with ``once``, until every
        file present has been handled). Ctrl-C ends it between polls or runs."""
        stop = stop or threading.Event()
        self.scan()
        while not stop.is_set():
            if once and self.pending == 0:
                return
            stop.wait(interval)
            self.scan()


def state_of(output_root: str | Path) -> dict[str, FileRecord]:
    """The watcher's record for an output folder (for tooling and tests)."""
    path = Path(output_root) / STATE_FOLDER / STATE_FILE
    if not path.exists():
        return {}
    return WatchState.model_validate(json.loads(path.read_text(encoding="utf-8"))).files
