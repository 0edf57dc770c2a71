"""glue_entrypoint.py as Glue runs it: a batch over the quality gate must end the process
with a non-zero exit code (Glue then marks the run FAILED, which the stack's EventBridge rule
turns into an alert) and one ``reviews-etl: error:`` line naming the file and the gate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

pytest.importorskip("pyspark")

HEADER = "review_id,product_id,customer_id,rating,review_date,review_text\n"
GOOD_ROWS = [
    "r1,p-1,c-1,5,2025-01-02,Great\n",
    "r2,p-1,c-2,4,2025-01-03,Fine\n",
    "r3,p-2,c-1,3,2025-01-04,\n",
    "r4,p-2,c-3,1,2025-01-05,Broke\n",
]
# 2 of 5 rows rejected (40%): over the default gate of 0.25.
BAD_ROWS = ["r5,p-3,c-4,six,2025-01-06,Bad rating\n", "r6,p-3,c-4,2,2025-02-30,Bad date\n"]


def run_entrypoint(source: Path, output: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "glue_entrypoint.py"),
            "--JOB_NAME",
            "local",
            "--source_path",
            str(source),
            "--output_path",
            str(output),
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@pytest.mark.slow
def test_quality_gate_failure_fails_the_process_and_a_good_file_passes(tmp_path: Path) -> None:
    bad = tmp_path / "too many rejects.csv"
    bad.write_text(HEADER + "".join(GOOD_ROWS[:3] + BAD_ROWS), encoding="utf-8")
    failed = run_entrypoint(bad, tmp_path / "out-bad", tmp_path)

    assert failed.returncode != 0, failed.stdout[-2000:]
    errors = [line for line in failed.stderr.splitlines() if line.startswith("reviews-etl: error:")]
    assert len(errors) == 1, failed.stderr[-3000:]
    (error,) = errors
    assert str(bad) in error
    assert "2 of 5 rows rejected" in error
    assert "quality gate max_reject_ratio=0.25" in error

    good = tmp_path / "good.csv"
    good.write_text(HEADER + "".join(GOOD_ROWS), encoding="utf-8")
    passed = run_entrypoint(good, tmp_path / "out-good", tmp_path)

    assert passed.returncode == 0, passed.stderr[-3000:]
    assert "reviews-etl: error:" not in passed.stderr
    assert (tmp_path / "out-good" / "processed-data").is_dir()
