"""Local event-driven mode: complete files only, exactly once, every complete file of a poll in
one run (oldest first, at most ``max_files``), failures do not stop it.

The watcher is driven by a fake clock and explicit ``scan()`` calls: no sleeps, no threads.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reviews_etl.watch import FolderWatcher, LocalLauncher, state_of

HEADER = "review_id,product_id,customer_id,rating,review_date,review_text\n"
ROW = "1,p,c,5,2024-01-01,\n"
# A fixed base for modification times (2024-05-01T00:00:00Z), in nanoseconds.
T0 = 1_714_521_600 * 1_000_000_000


class RecordingLauncher:
    """A JobLauncher that records the sources of each run; a run with a source ending in
    ``fail_on`` raises."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.runs: list[list[str]] = []
        self.arguments: list[dict[str, str]] = []
        self.fail_on = fail_on

    def start(self, sources: list[str], arguments: dict[str, str]) -> str:
        if self.fail_on and any(s.endswith(self.fail_on) for s in sources):
            raise RuntimeError("boom")
        self.runs.append(list(sources))
        self.arguments.append(arguments)
        return f"run-{len(self.runs)}"

    @property
    def started(self) -> list[str]:
        return [source for run in self.runs for source in run]


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


def write(path: Path, text: str = HEADER + ROW, *, mtime_s: int | None = None) -> Path:
    """Write a file; with ``mtime_s``, set its modification time to T0 + that many seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime_s is not None:
        stamp = T0 + mtime_s * 1_000_000_000
        os.utime(path, ns=(stamp, stamp))
    return path


def settle(watcher: FolderWatcher, clock: FakeClock, seconds: float = 5.0) -> list:
    """Two polls, ``seconds`` apart: first sight, then what is complete."""
    first = watcher.scan()
    clock.now += seconds
    return first + watcher.scan()


def resolved(landing: Path, *names: str) -> list[str]:
    return [str((landing / name).resolve()) for name in names]


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
        handle.write(ROW)  # still being written
    assert watcher.scan() == []
    clock.now = 3.0
    assert watcher.scan() == []  # changed 1.5 s ago: not settled
    clock.now = 4.0
    [record] = watcher.scan()
    assert (record.key, record.status, record.run_id) == ("a.csv", "succeeded", "run-1")
    clock.now = 10.0
    assert watcher.scan() == []
    assert launcher.runs == [[str(growing.resolve())]]
    assert launcher.arguments == [{"output_path": str(out.resolve())}]
    assert lines[0].startswith("succeeded a.csv  run run-1")

    # A restart reads the state from the output folder: nothing runs again.
    again = FolderWatcher(
        landing, out, launcher, settle_seconds=0, clock=clock, report=lines.append
    )
    again.scan()
    clock.now = 20.0
    assert again.scan() == []
    assert launcher.runs == [[str(growing.resolve())]]
    assert state_of(out)["a.csv"].status == "succeeded"


def test_the_files_of_one_poll_make_one_run_ordered_by_mtime_then_name(dirs) -> None:
    landing, out = dirs
    clock, launcher, lines = FakeClock(), RecordingLauncher(), []
    watcher = FolderWatcher(
        landing, out, launcher, settle_seconds=1, clock=clock, report=lines.append
    )
    write(landing / "a_newest.csv", mtime_s=30)
    write(landing / "z_oldest.csv", mtime_s=10)
    write(landing / "sub" / "c_same.csv", mtime_s=20)
    write(landing / "b_same.csv", mtime_s=20)  # same mtime as sub/c_same.csv: name decides

    records = settle(watcher, clock)

    order = ["z_oldest.csv", "b_same.csv", "sub/c_same.csv", "a_newest.csv"]
    assert launcher.runs == [resolved(landing, *order)]
    assert [(r.key, r.status, r.run_id) for r in records] == [
        (key, "succeeded", "run-1") for key in order
    ]
    assert [line.split()[1] for line in lines] == order
    state = state_of(out)
    expected = dict.fromkeys(order, ("succeeded", "run-1"))
    assert {key: (r.status, r.run_id) for key, r in state.items()} == expected


def test_files_completing_in_later_polls_make_later_runs(dirs) -> None:
    landing, out = dirs
    clock, launcher = FakeClock(), RecordingLauncher()
    watcher = FolderWatcher(landing, out, launcher, settle_seconds=1, clock=clock, report=print)
    write(landing / "first.csv", mtime_s=1)
    write(landing / "second.csv", mtime_s=2)
    settle(watcher, clock)
    write(landing / "third.csv", mtime_s=3)
    settle(watcher, clock)

    assert launcher.runs == [
        resolved(landing, "first.csv", "second.csv"),
        resolved(landing, "third.csv"),
    ]


def test_max_files_caps_the_files_per_run(dirs) -> None:
    landing, out = dirs
    clock, launcher = FakeClock(), RecordingLauncher()
    watcher = FolderWatcher(
        landing, out, launcher, settle_seconds=1, max_files=2, clock=clock, report=print
    )
    names = [f"{i}.csv" for i in "edcba"]  # mtimes 0..4 s: e is the oldest
    for seconds, name in enumerate(names):
        write(landing / name, mtime_s=seconds)
    write(landing / "notes.txt", mtime_s=1)  # skipped: takes no place in a run

    records = settle(watcher, clock)

    assert launcher.runs == [
        resolved(landing, "e.csv", "d.csv"),
        resolved(landing, "c.csv", "b.csv"),
        resolved(landing, "a.csv"),
    ]
    got = {r.key: (r.status, r.run_id) for r in records}
    assert got == {
        "e.csv": ("succeeded", "run-1"),
        "d.csv": ("succeeded", "run-1"),
        "notes.txt": ("skipped", None),
        "c.csv": ("succeeded", "run-2"),
        "b.csv": ("succeeded", "run-2"),
        "a.csv": ("succeeded", "run-3"),
    }
    assert {k: (v.status, v.run_id) for k, v in state_of(out).items()} == got

    with pytest.raises(ValueError, match="max_files must be at least 1"):
        FolderWatcher(landing, out, launcher, max_files=0)


def test_a_restart_processes_nothing_again_and_picks_up_what_was_pending(dirs) -> None:
    landing, out = dirs
    clock, launcher = FakeClock(), RecordingLauncher()
    watcher = FolderWatcher(
        landing, out, launcher, settle_seconds=1, max_files=2, clock=clock, report=print
    )
    for seconds, name in enumerate(["a.csv", "b.csv", "c.csv"]):
        write(landing / name, mtime_s=seconds)
    settle(watcher, clock)
    write(landing / "late.csv", mtime_s=10)
    watcher.scan()  # seen, not yet complete, when the watcher stops
    assert launcher.runs == [resolved(landing, "a.csv", "b.csv"), resolved(landing, "c.csv")]

    clock2 = FakeClock()
    again = FolderWatcher(
        landing, out, launcher, settle_seconds=1, max_files=2, clock=clock2, report=print
    )
    records = settle(again, clock2) + settle(again, clock2)

    assert [r.key for r in records] == ["late.csv"]
    assert launcher.runs[2:] == [resolved(landing, "late.csv")]
    assert set(state_of(out)) == {"a.csv", "b.csv", "c.csv", "late.csv"}


def test_a_failed_run_marks_each_of_its_files_failed_and_the_watcher_goes_on(dirs) -> None:
    landing, out = dirs
    clock, lines = FakeClock(), []
    launcher = RecordingLauncher(fail_on="bad.csv")
    watcher = FolderWatcher(
        landing, out, launcher, settle_seconds=1, clock=clock, report=lines.append
    )
    write(landing / "bad.csv", mtime_s=1)
    write(landing / "sub" / "good.csv", mtime_s=2)
    write(landing / "notes.txt", mtime_s=3)
    write(landing / "empty.csv", "", mtime_s=4)
    write(landing / ".partial.csv", HEADER)  # hidden: an uploader's temporary

    got = {r.key: (r.status, r.run_id, r.detail) for r in settle(watcher, clock)}

    assert got["bad.csv"] == ("failed", None, "RuntimeError: boom")
    assert got["sub/good.csv"] == ("failed", None, "RuntimeError: boom")  # same run
    assert got["notes.txt"][0] == "skipped"
    assert got["notes.txt"][2].startswith("suffix_not_allowed")
    assert got["empty.csv"][2].startswith("empty_object")
    assert ".partial.csv" not in got
    assert len(lines) == 4
    assert {k: v.status for k, v in state_of(out).items()} == {
        "bad.csv": "failed",
        "sub/good.csv": "failed",
        "notes.txt": "skipped",
        "empty.csv": "skipped",
    }
    clock.now += 5
    assert watcher.scan() == []  # a failed file is not retried until it changes
    assert launcher.runs == []

    write(landing / "bad.csv", HEADER + "2,p,c,4,2024-01-01,\n", mtime_s=5)  # a new version
    launcher.fail_on = None
    [retried] = settle(watcher, clock)
    assert (retried.key, retried.status, retried.run_id) == ("bad.csv", "succeeded", "run-1")
    assert launcher.runs == [resolved(landing, "bad.csv")]


def test_output_inside_landing_is_refused(dirs) -> None:
    landing, _ = dirs
    with pytest.raises(ValueError, match="must not lie inside"):
        FolderWatcher(landing, landing / "out", RecordingLauncher())
    with pytest.raises(NotADirectoryError):
        FolderWatcher(landing / "nope", landing.parent / "o", RecordingLauncher())


@pytest.mark.slow
def test_one_poll_runs_the_pipeline_once_over_every_complete_file(spark, dirs) -> None:
    pytest.importorskip("pyspark")
    landing, out = dirs
    clock, lines = FakeClock(), []
    watcher = FolderWatcher(
        landing,
        out,
        LocalLauncher(spark, 5, 0.25),
        settle_seconds=1,
        clock=clock,
        report=lines.append,
    )
    write(
        landing / "later.csv",
        HEADER + "".join(f"{i},p2,c3,3,2024-01-02,\n" for i in range(3, 8)),
        mtime_s=2,
    )
    write(
        landing / "early.csv", HEADER + "1,p1,c1,5,2024-01-01,\n2,p1,c2,4,2024-01-01,\n", mtime_s=1
    )

    records = settle(watcher, clock)

    assert [(r.key, r.status) for r in records] == [
        ("early.csv", "succeeded"),
        ("later.csv", "succeeded"),
    ]
    assert records[0].run_id == records[1].run_id
    [manifest] = list((out / "_runs").glob("*.json"))
    assert manifest.stem == records[0].run_id
    assert "2 read, 2 accepted, 0 rejected" in lines[0]
    assert "5 read, 5 accepted, 0 rejected" in lines[1]
    assert spark.read.parquet(str(out / "processed-data")).count() == 7
    clock.now += 5
    assert watcher.scan() == []


@pytest.mark.slow
def test_watch_command_once_processes_what_is_there_and_exits(spark, dirs, capsys) -> None:
    pytest.importorskip("pyspark")
    from reviews_etl.cli import main

    landing, out = dirs
    write(landing / "a.csv", HEADER + "1,p1,c1,5,2024-01-01,\n", mtime_s=1)
    write(landing / "c.csv", HEADER + "2,p2,c2,4,2024-01-01,\n", mtime_s=2)
    (landing / "b.tsv").write_text("x")
    argv = ["watch", str(landing), "--output", str(out), "--once", "--interval", "0.1"]
    options = ["--settle", "0.3", "--suffix", ".csv", "--max-files", "1", "--no-stop-spark"]
    assert main([*argv, *options]) == 0
    printed = capsys.readouterr().out
    assert "succeeded a.csv" in printed
    assert "succeeded c.csv" in printed
    assert "skipped   b.tsv  suffix_not_allowed" in printed
    state = state_of(out)
    assert state["a.csv"].run_id != state["c.csv"].run_id  # --max-files 1: a run each
    assert len(list((out / "_runs").glob("*.json"))) == 2
    assert main([*argv, "--no-stop-spark"]) == 0  # a restart: nothing new
    assert "a.csv" not in capsys.readouterr().out
    # A landing folder that does not exist is a usage error.
    assert main(["watch", str(landing / "nope"), "--output", str(out), "--once"]) == 2
    # --max-files must be positive.
    with pytest.raises(SystemExit):
        main([*argv, "--max-files", "0"])


@pytest.mark.slow
def test_watch_once_exits_1_when_a_file_failed(spark, dirs, capsys) -> None:
    from reviews_etl.cli import main

    landing, out = dirs
    (landing / "no-rating.csv").write_text("review_id,product_id\nr1,p1\n")
    argv = ["watch", str(landing), "--output", str(out), "--once", "--settle", "0"]
    assert main([*argv, "--interval", "0.01", "--no-stop-spark"]) == 1
    captured = capsys.readouterr()
    assert "failed    no-rating.csv" in captured.out
    [line] = captured.err.strip().splitlines()
    assert line == "reviews-etl: error: 1 of 1 file(s) failed: no-rating.csv"
