"""Local event-driven mode: complete files only, exactly once, failures do not stop it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from reviews_etl.watch import FolderWatcher, LocalLauncher, state_of

HEADER = "review_id,product_id,customer_id,rating,review_date,review_text\n"


class RecordingLauncher:
    def __init__(self, fail_on: str | None = None) -> None:
        self.started: list[str] = []
        self.fail_on = fail_on

    def start(self, source_path: str, arguments: dict[str, str]) -> str:
        if self.fail_on and source_path.endswith(self.fail_on):
            raise RuntimeError("boom")
        self.started.append(source_path)
        return f"run-{len(self.started)}"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    landing, out = tmp_path / "landing", tmp_path / "out"
    landing.mkdir()
    return landing, out


def test_a_file_is_processed_once_complete_and_once_only(dirs) -> None:
    landing, out = dirs
    clock, launcher, lines = FakeClock(), RecordingLauncher(), []
    watcher = FolderWatcher(
        landing, out, launcher, settle_seconds=2, clock=clock, report=lines.append
    )
    growing = landing / "a.csv"
    growing.write_text(HEADER)
    assert watcher.scan() == []  # first sight
    clock.now = 1.5
    with growing.open("a") as handle:
        handle.write("1,p,c,5,2024-01-01,\n")  # still being written
    assert watcher.scan() == []
    clock.now = 3.0
    assert watcher.scan() == []  # changed 1.5 s ago: not settled
    clock.now = 4.0
    [record] = watcher.scan()
    assert (record.key, record.status, record.run_id) == ("a.csv", "succeeded", "run-1")
    clock.now = 10.0
    assert watcher.scan() == []
    assert launcher.started == [str(growing.resolve())]
    assert lines[0].startswith("succeeded a.csv  run run-1")

    # A restart reads the state from the output folder: nothing runs again.
    again = FolderWatcher(
        landing, out, launcher, settle_seconds=0, clock=clock, report=lines.append
    )
    again.scan()
    clock.now = 20.0
    assert again.scan() == []
    assert launcher.started == [str(growing.resolve())]
    assert state_of(out)["a.csv"].status == "succeeded"


def test_skips_and_failures_are_reported_and_the_watcher_goes_on(dirs) -> None:
    landing, out = dirs
    clock, lines = FakeClock(), []
    launcher = RecordingLauncher(fail_on="bad.csv")
    watcher = FolderWatcher(
        landing, out, launcher, settle_seconds=1, clock=clock, report=lines.append
    )
    (landing / "bad.csv").write_text(HEADER + "1,p,c,5,2024-01-01,\n")
    (landing / "notes.txt").write_text("not a csv")
    (landing / "empty.csv").write_text("")
    (landing / ".partial.csv").write_text(HEADER)  # hidden: an uploader's temporary
    (landing / "sub").mkdir()
    (landing / "sub" / "good.csv").write_text(HEADER + "1,p,c,5,2024-01-01,\n")
    watcher.scan()
    clock.now = 2.0
    got = {r.key: (r.status, r.detail) for r in watcher.scan()}
    assert got["bad.csv"] == ("failed", "RuntimeError: boom")
    assert got["notes.txt"][0] == "skipped"
    assert got["notes.txt"][1].startswith("suffix_not_allowed")
    assert got["empty.csv"][1].startswith("empty_object")
    assert got["sub/good.csv"][0] == "succeeded"
    assert ".partial.csv" not in got
    assert len(lines) == 4
    clock.now = 5.0
    assert watcher.scan() == []  # a failed file is not retried until it changes

    (landing / "bad.csv").write_text(HEADER + "2,p,c,4,2024-01-01,\n")  # a new version
    launcher.fail_on = None
    watcher.scan()
    clock.now = 7.0
    [retried] = watcher.scan()
    assert (retried.key, retried.status) == ("bad.csv", "succeeded")


def test_output_inside_landing_is_refused(dirs) -> None:
    landing, _ = dirs
    with pytest.raises(ValueError, match="must not lie inside"):
        FolderWatcher(landing, landing / "out", RecordingLauncher())
    with pytest.raises(NotADirectoryError):
        FolderWatcher(landing / "nope", landing.parent / "o", RecordingLauncher())


@pytest.mark.slow
def test_watch_runs_the_pipeline_for_two_files_one_written_slowly(spark, dirs) -> None:
    pytest.importorskip("pyspark")
    landing, out = dirs
    lines: list[str] = []
    watcher = FolderWatcher(
        landing, out, LocalLauncher(spark, 5, 0.25), settle_seconds=0.6, report=lines.append
    )
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, kwargs={"interval": 0.2, "stop": stop})
    thread.start()
    try:
        # Written elsewhere and renamed in: complete at once.
        staged = landing.parent / "fast.csv"
        staged.write_text(HEADER + "1,p1,c1,5,2024-01-01,\n2,p1,c2,4,2024-01-01,\n")
        staged.rename(landing / "fast.csv")
        # Written in place, slowly.
        with (landing / "slow.csv").open("w") as handle:
            handle.write(HEADER)
            for i in range(3, 8):
                handle.write(f"{i},p2,c3,3,2024-01-02,")
                handle.flush()
                time.sleep(0.3)
                handle.write("\n")
        deadline = time.monotonic() + 240
        while len(state_of(out)) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(1.5)  # a few more polls: nothing may run twice
    finally:
        stop.set()
        thread.join(timeout=240)
    state = state_of(out)
    assert {k: v.status for k, v in state.items()} == {
        "fast.csv": "succeeded",
        "slow.csv": "succeeded",
    }
    assert len(lines) == 2
    assert len(list((out / "_runs").glob("*.json"))) == 2
    slow_line = next(line for line in lines if "slow.csv" in line)
    assert "5 read, 5 accepted, 0 rejected" in slow_line
    rows = spark.read.parquet(str(out / "processed-data")).count()
    assert rows == 7


@pytest.mark.slow
def test_watch_command_once_processes_what_is_there_and_exits(spark, dirs, capsys) -> None:
    pytest.importorskip("pyspark")
    from reviews_etl.cli import main

    landing, out = dirs
    (landing / "a.csv").write_text(HEADER + "1,p1,c1,5,2024-01-01,\n")
    (landing / "b.tsv").write_text("x")
    argv = ["watch", str(landing), "--output", str(out), "--once", "--interval", "0.1"]
    assert main([*argv, "--settle", "0.3", "--suffix", ".csv", "--no-stop-spark"]) == 0
    printed = capsys.readouterr().out
    assert "succeeded a.csv" in printed
    assert "skipped   b.tsv  suffix_not_allowed" in printed
    assert main([*argv, "--no-stop-spark"]) == 0  # a restart: nothing new
    assert "a.csv" not in capsys.readouterr().out
    # A landing folder that does not exist is a usage error.
    assert main(["watch", str(landing / "nope"), "--output", str(out), "--once"]) == 2
