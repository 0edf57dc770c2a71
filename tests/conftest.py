"""One SparkSession for the whole suite, plus small helpers shared by the Spark tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(__file__).resolve().parent / "data"
CLASS_REVIEWS = DATA_DIR / "class_reviews.csv"


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    from reviews_etl.session import build_spark_session

    session = build_spark_session(
        app_name="reviews-etl-tests",
        master="local[2]",
        shuffle_partitions=2,
        extra_conf={
            # Explicit, even though build_spark_session sets them too: the suite's contract.
            "spark.ui.enabled": "false",
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.ansi.enabled": "true",
            "spark.sql.legacy.timeParserPolicy": "CORRECTED",
            "spark.driver.memory": "1g",
        },
    )
    yield session
    session.stop()


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
