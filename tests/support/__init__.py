"""Helpers shared by the test modules (fixtures live in the conftest.py files).

Here: the checkout's paths, the trigger's environment variables, botocore's recorded sleeps.
The package's modules: ``awsserver`` (a moto server in its own process), ``blocking`` (a
Python that cannot import some packages), ``deploy`` (the deploy tests' region and account),
``docs_blocks`` (a Markdown page's code blocks), ``oracle`` (the data contract in plain
Python), ``outputs`` (a run's outputs read back with pyarrow), ``template`` (infra/template.yaml
as data), ``trigger`` (the trigger tests' settings, events and recording launcher),
``wheels`` (the checks every deterministic wheel passes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TESTS_DIR = REPO_ROOT / "tests"
DATA_DIR = TESTS_DIR / "data"
CLASS_REVIEWS = DATA_DIR / "class_reviews.csv"
# Lambda events as the trigger receives them.
EVENTS_DIR = TESTS_DIR / "events"
# The trigger's environment variables (docs/trigger.md), cleared around trigger tests.
TRIGGER_VARIABLES = (
    "GLUE_JOB_NAME",
    "LANDING_BUCKET",
    "LANDING_PREFIX",
    "ALLOWED_SUFFIXES",
    "OUTPUT_PATH",
    "MANIFEST_BUCKET",
    "MANIFEST_PREFIX",
    "MAX_START_ATTEMPTS",
    "RETRY_BASE_DELAY_SECONDS",
    "RETRY_MAX_DELAY_SECONDS",
    "LOG_LEVEL",
)


@dataclass
class RecordedSleeps:
    """Stands in for ``botocore.endpoint.time``: records botocore's retry delays, never sleeps."""

    delays: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
