"""Cost of the trigger (the Lambda side): cold import of ``lambda_handler`` and time per event.

* Cold import: ``python -X importtime -c "import lambda_handler"`` run from the repository
  root in a fresh interpreter, ``repeats`` times; the figure is the *cumulative* time of the
  top-level ``lambda_handler`` import (everything it pulls in: boto3, pydantic, the library),
  as ``-X importtime`` reports it. Also reports whether pyspark was imported (it must not be).
* Decision time: :func:`reviews_etl.trigger.handle_event` on typical events, with a real
  boto3 Glue client whose calls are answered by botocore's ``Stubber`` (no network), logging
  at INFO to a null stream (so JSON formatting of the decision lines is included). The first
  event of each kind is reported separately (lazy initialisation) from the warm median.

The cold import reports ``"n/a"`` (with the reason) when ``--repo`` has no ``lambda_handler.py``.

Usage: ``python benchmarks/trigger_cost.py [--repo DIR] [--events 500]``; prints JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.stub import ANY, Stubber

from reviews_etl.trigger import GlueJobLauncher, TriggerSettings, handle_event

REPO = Path(__file__).resolve().parent.parent
BUCKET = "reviews-landing"
JOB = "reviews-etl-job"


def import_cost(repo: Path, repeats: int = 5, python: str = sys.executable) -> dict[str, Any]:
    """Cumulative ``-X importtime`` microseconds of ``import lambda_handler`` (fresh process)."""
    if not (repo / "lambda_handler.py").exists():
        return {"status": "n/a", "reason": f"{repo / 'lambda_handler.py'} does not exist"}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo), str(repo / "src")])}
    # Settings are read on the first invocation, not at import; set them anyway.
    env.update({"GLUE_JOB_NAME": JOB, "LANDING_BUCKET": BUCKET, "AWS_DEFAULT_REGION": "us-east-1"})
    cumulative_us: list[int] = []
    wall: list[float] = []
    pyspark_imported = False
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(
            [python, "-X", "importtime", "-c", "import lambda_handler"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall.append(time.perf_counter() - start)
        if done.returncode != 0:
            return {"status": "error", "reason": done.stderr.strip().splitlines()[-1:]}
        top = None
        for line in done.stderr.splitlines():
            if not line.startswith("import time:"):
                continue
            parts = [p.strip() for p in line.split(":", 1)[1].split("|")]
            if len(parts) != 3 or not parts[0].isdigit():
                continue
            name = line.rsplit("|", 1)[1]
            if name.strip() == "pyspark" or name.strip().startswith("pyspark."):
                pyspark_imported = True
            if name == " lambda_handler":  # top level: no extra indentation
                top = int(parts[1])
        if top is None:
            return {"status": "error", "reason": "no lambda_handler line in -X importtime output"}
        cumulative_us.append(top)
    return {
        "status": "ok",
        "repeats": repeats,
        "import_ms_median": round(statistics.median(cumulative_us) / 1000, 1),
        "import_ms_min": round(min(cumulative_us) / 1000, 1),
        "import_ms_max": round(max(cumulative_us) / 1000, 1),
        "process_wall_ms_median": round(statistics.median(wall) * 1000, 1),
        "imports_pyspark": pyspark_imported,
    }


def _s3_event(key: str, size: int = 1024) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2024-05-01T12:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"},
                    "object": {"key": key, "size": size, "sequencer": "0055AED6DCD90281E5"},
                },
            }
        ]
    }


def _events() -> dict[str, tuple[dict[str, Any], bool]]:
    """Event kind -> (event, starts a run)."""
    s3 = _s3_event("landing/2024/05/reviews+may.csv")
    return {
        "s3_put_csv": (s3, True),
        "s3_put_other_suffix": (_s3_event("landing/readme.txt"), False),
        "sqs_wrapped_s3": ({"Records": [{"eventSource": "aws:sqs", "body": json.dumps(s3)}]}, True),
        "eventbridge_object_created": (
            {
                "version": "0",
                "detail-type": "Object Created",
                "source": "aws.s3",
                "region": "us-east-1",
                "detail": {
                    "bucket": {"name": BUCKET},
                    "object": {"key": "landing/eb/reviews.csv", "size": 2048},
                    "reason": "PutObject",
                },
            },
            True,
        ),
    }


def decision_cost(events_per_kind: int = 500) -> dict[str, Any]:
    """Milliseconds per ``handle_event`` call with a stubbed Glue client."""
    settings = TriggerSettings(landing_bucket=BUCKET, landing_prefix="landing/", glue_job_name=JOB)
    glue = boto3.client(
        "glue",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # a Stubber never sends a request
    )
    stubber = Stubber(glue)
    launcher = GlueJobLauncher(glue, settings.glue_job_name)
    logger = logging.getLogger("reviews_etl.benchmark")
    logger.handlers[:] = [logging.StreamHandler(open(os.devnull, "w", encoding="utf-8"))]  # noqa: SIM115
    logger.setLevel(logging.INFO)
    logger.propagate = False

    def one(event: dict[str, Any], starts: bool) -> float:
        if starts:
            stubber.add_response(
                "start_job_run",
                {"JobRunId": "jr_0123456789abcdef"},
                {"JobName": JOB, "Arguments": ANY},
            )
        start = time.perf_counter()
        summary = handle_event(event, settings, launcher, logger=logger)
        elapsed = time.perf_counter() - start
        if len(summary.started) != int(starts):
            raise AssertionError(f"unexpected decision: {summary}")
        return elapsed

    results: dict[str, Any] = {"status": "ok", "events_per_kind": events_per_kind, "kinds": {}}
    with stubber:
        for kind, (event, starts) in _events().items():
            first = one(event, starts)
            warm = [one(event, starts) for _ in range(events_per_kind)]
            results["kinds"][kind] = {
                "starts_run": starts,
                "first_ms": round(first * 1000, 3),
                "warm_median_ms": round(statistics.median(warm) * 1000, 3),
                "warm_p95_ms": round(sorted(warm)[int(0.95 * (len(warm) - 1))] * 1000, 3),
            }
        stubber.assert_no_pending_responses()
    return results


def measure(
    repo: Path = REPO, import_repeats: int = 5, events_per_kind: int = 500
) -> dict[str, Any]:
    return {
        "import": import_cost(repo, import_repeats),
        "decision": _in_subprocess(repo, events_per_kind),
    }


def _in_subprocess(repo: Path, events_per_kind: int) -> dict[str, Any]:
    """Run :func:`decision_cost` in a fresh interpreter (first-event figures stay honest)."""
    done = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--decision-only",
            "--events",
            str(events_per_kind),
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return {"status": "error", "reason": done.stderr.strip().splitlines()[-3:]}
    parsed: dict[str, Any] = json.loads(done.stdout)
    return parsed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="trigger cost: cold import and per-event time")
    parser.add_argument("--repo", type=Path, default=REPO)
    parser.add_argument("--repeats", type=int, default=5, help="fresh-process imports")
    parser.add_argument("--events", type=int, default=500, help="warm events per kind")
    parser.add_argument("--decision-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.decision_only:
        result = decision_cost(args.events)
    else:
        result = measure(args.repo, args.repeats, args.events)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
