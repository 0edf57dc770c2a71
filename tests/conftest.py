"""The suite's fixtures: one SparkSession for the whole suite, botocore's retry sleeps
recorded, CSV files written under tmp_path; and a skipped test fails the run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import botocore.endpoint
import pytest
from pyspark.sql import SparkSession

from tests.support import RecordedSleeps


@pytest.fixture(scope="session")
def spark_context_session() -> Iterator[SparkSession]:
    """One JVM for the suite, configured only as a machine needs it (2 cores, 1 GiB, local
    network, no UI): no SQL setting is pinned, as on a session Glue or a notebook hands over."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = (
        SparkSession.builder.appName("reviews-etl-tests")
        .master("local[2]")
        .config("spark.driver.memory", "1g")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def spark(spark_context_session: SparkSession) -> SparkSession:
    """A stock session per test (Spark's own SQL defaults: ANSI off on 3.5 and on on 4.x,
    timeParserPolicy EXCEPTION on 3.5): whatever the pipeline needs, it must set itself, and
    one test's settings never leak into the next."""
    return spark_context_session.newSession()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> RecordedSleeps:
    recorded = RecordedSleeps()
    monkeypatch.setattr(botocore.endpoint, "time", recorded)
    return recorded


@pytest.fixture
def write_csv(tmp_path: Path):
    """Write text (or bytes) to a file under tmp_path and return its path as str."""

    def _write(content: str | bytes, name: str = "reviews.csv") -> str:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
        return str(path)

    return _write


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test fails the run: a missing dependency must never pass CI unnoticed."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter.write_line(
            f"FAILED: {len(skipped)} test(s) skipped; every dependency of the suite must be "
            "installed (make test installs them)",
            red=True,
        )
