"""A run killed (SIGKILL, the JVM included) inside any stage, then run again, gives the outputs
of a clean run; what a killed run leaves behind never reaches later results."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from reviews_etl import PipelineConfig, run_pipeline
from reviews_etl.sample import write_sample_file
from tests.support.outputs import outputs

HEADER = "review_id,product_id,customer_id,rating,review_date,review_text\n"
# (event logged by the run, which occurrence, seconds to wait before the kill). The sources
# are a, b, a: a and b are read in one pass (a group), the second a in a group of its own,
# so the 1st clean and writes fall in the partitioned writes of a group of two, the 2nd in
# a run that has already published a group.
KILL_POINTS = {
    "read": ("stage_started", "read", 1, 0.0),
    "clean": ("stage_started", "clean", 1, 0.2),
    "write_rejected": ("stage_started", "write_rejected", 1, 0.2),
    "write_curated": ("stage_started", "write_curated", 1, 0.3),
    "clean-2": ("stage_started", "clean", 2, 0.2),
    "write_rejected-2": ("stage_started", "write_rejected", 2, 0.2),
    "write_curated-2": ("stage_started", "write_curated", 2, 0.3),
    "analyses": ("stage_started", "analyses", 1, 0.3),
    "write_analyses": ("stage_started", "write_analyses", 1, 0.1),
    "manifest": ("manifest_writing", None, 1, 0.0),
}


def temporary_leftovers(root: Path) -> list[Path]:
    """Spark's _temporary folders, but in the hidden staging folder a killed run may leave
    (``_staging-<run_id>/``, documented as safe to delete)."""
    return [
        p
        for p in root.rglob("_temporary")
        if p.is_dir() and not p.relative_to(root).parts[0].startswith("_staging-")
    ]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    folder = tmp_path_factory.mktemp("sources")
    a = str(write_sample_file(folder / "a.csv", 4000, seed=1, dirty_share=0.05))
    b = str(write_sample_file(folder / "b.csv", 4000, seed=2, dirty_share=0.05))
    return [a, b, a]


@pytest.fixture(scope="module")
def clean_outputs(spark_context_session, sources, tmp_path_factory) -> dict[str, list[str]]:
    out = tmp_path_factory.mktemp("clean")
    run_pipeline(
        spark_context_session.newSession(), PipelineConfig(sources=sources, output_root=str(out))
    )
    return outputs(out)


def kill_run_at(sources: list[str], out: Path, point: tuple[str, str | None, int, float]) -> None:
    event, stage, occurrence, delay = point
    process = subprocess.Popen(
        [sys.executable, "-m", "reviews_etl.cli", "run", *sources, "--output", str(out), "-v"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the kill takes the JVM too
    )
    seen = 0
    assert process.stderr is not None
    try:
        for line in process.stderr:  # ends when the process does: no timeout race
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("event") == event and (stage is None or record.get("stage") == stage):
                seen += 1
                if seen == occurrence:
                    time.sleep(delay)  # land inside the stage, not at its door
                    os.killpg(process.pid, signal.SIGKILL)
                    break
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    assert seen == occurrence, f"the run ended before {event} {stage} #{occurrence}"
    assert process.returncode == -signal.SIGKILL


@pytest.mark.slow
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_killed_run_run_again_converges_to_the_clean_outputs(
    spark, sources, clean_outputs, tmp_path, point
) -> None:
    out = tmp_path / "out"
    kill_run_at(sources, out, KILL_POINTS[point])
    run_pipeline(spark, PipelineConfig(sources=sources, output_root=str(out)))
    assert outputs(out) == clean_outputs
    assert temporary_leftovers(out) == []


def test_a_half_written_batch_folder_never_reaches_the_analyses(spark, tmp_path, write_csv) -> None:
    # Curated Parquet of a review that only the killed run saw (r7, rating 1).
    scratch = tmp_path / "scratch"
    killed = write_csv(HEADER + "r7,p9,c9,1,2024-01-07,lost\n", "killed.csv")
    run_pipeline(spark, PipelineConfig(sources=[killed], output_root=str(scratch)))
    part = next((scratch / "processed-data").glob("source_id=*/*.parquet"))

    out = tmp_path / "out"
    first = write_csv(HEADER + "r1,p1,c1,5,2024-01-01,a\n", "first.csv")
    run_pipeline(spark, PipelineConfig(sources=[first], output_root=str(out)))
    # What a run killed while writing leaves: committed-looking files without _SUCCESS, and
    # task output under _temporary/.
    half = out / "processed-data" / "source_id=0000deadbeef0000"
    (half / "_temporary" / "0").mkdir(parents=True)
    (half / "part-00000-killed.snappy.parquet").write_bytes(part.read_bytes())
    (half / "_temporary" / "0" / "part-00001.snappy.parquet").write_bytes(part.read_bytes())

    second = write_csv(HEADER + "r2,p1,c2,3,2024-01-02,b\n", "second.csv")
    run_pipeline(spark, PipelineConfig(sources=[second], output_root=str(out)))
    ratings = pq.read_table(next((out / "Athena Results/rating_distribution").glob("*.parquet")))
    counts = dict(
        zip(ratings["rating"].to_pylist(), ratings["review_count"].to_pylist(), strict=True)
    )
    assert counts == {1: 0, 2: 0, 3: 1, 4: 0, 5: 1}  # r1 and r2; r7 of the killed run is not read


def java_children(pid: int) -> list[int]:
    """The java processes started by ``pid`` (Spark's JVM is a child of the Python driver)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if Path(f"/proc/{child}/exe").resolve().name == "java":
                found.append(int(child))
    return found


@pytest.mark.slow
def test_a_jvm_that_dies_mid_run_gives_one_line_and_exit_1(sources, tmp_path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "reviews_etl.cli", "run", *sources, "--output", str(tmp_path), "-v"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    lines = []
    for line in process.stderr:
        lines.append(line)
        if '"stage_started"' in line and '"clean"' in line:
            for java in java_children(process.pid):
                os.kill(java, signal.SIGKILL)
            break
    lines += process.stderr.readlines()
    assert process.wait(timeout=120) == 1
    text = [line for line in lines if not line.startswith("{")]  # -v: JSON decision lines
    errors = [line for line in text if line.startswith("reviews-etl: error: ")]
    assert len(errors) == 1, "".join(text)
    assert "Spark's JVM stopped" in errors[0]
    assert not any("Traceback" in line for line in text), "".join(text)
