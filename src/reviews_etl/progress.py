"""Live progress of a local run on a terminal: one line per stage with a bar, the stage,
the elapsed time and the Spark tasks done, drawn by rich on stderr.

Only a terminal gets it: on a pipe, in a file, with ``--quiet`` or ``--verbose`` (whose JSON
lines would be torn by a live display) nothing is drawn, and stdout (``--json``) is never
touched. Spark's own console progress bar stays off (``spark.ui.showConsoleProgress``).
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# How often the Spark tasks done are polled, in seconds.
POLL_SECONDS = 0.25


class StageProgress:
    """A context manager; :meth:`stage` is the pipeline's ``on_stage`` callback."""

    def __init__(
        self, spark: SparkSession, *, wanted: bool = True, console: Console | None = None
    ) -> None:
        self.console = console or Console(stderr=True)
        self.enabled = wanted and self.console.is_terminal
        self._tracker = spark.sparkContext.statusTracker()
        self._progress = Progress(
            BarColumn(bar_width=24),
            TextColumn("{task.description:<26}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[detail]}"),
            console=self.console,
            disable=not self.enabled,
            transient=False,
        )
        self._current: TaskID | None = None
        self._done = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="stage-progress", daemon=True)

    def __enter__(self) -> StageProgress:
        if self.enabled:
            self._progress.start()
            self._poller.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._done.set()
        if self.enabled:
            self._poller.join(timeout=2)
            self._finish_current(failed=error is not None)
            self._progress.stop()

    def stage(self, name: str) -> None:
        """A new stage started: the previous one is done."""
        if not self.enabled:
            return
        self._finish_current(failed=False)
        self._current = self._progress.add_task(name, total=None, detail="")

    def _finish_current(self, failed: bool) -> None:
        if self._current is None:
            return
        task = self._progress.tasks[self._current]
        total = task.total or 1
        self._progress.update(
            self._current,
            total=total,
            completed=task.completed if failed else total,
            detail=f"{task.fields.get('detail', '')}{'  failed' if failed else ''}",
        )
        self._current = None

    def _poll(self) -> None:
        while not self._done.wait(POLL_SECONDS):
            current = self._current
            if current is None:
                continue
            done = total = 0
            for stage_id in self._tracker.getActiveStageIds():
                info = self._tracker.getStageInfo(stage_id)
                if info is not None:
                    done += info.numCompletedTasks
                    total += info.numTasks
            if total:
                self._progress.update(
                    current, total=total, completed=done, detail=f"{done}/{total} Spark tasks"
                )
