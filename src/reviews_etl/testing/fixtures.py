"""The pytest side of :mod:`reviews_etl.testing`: the plugin's options, its Spark-line check
and the ``spark`` and ``reviews_df`` fixtures. Loaded by :mod:`reviews_etl.testing.plugin`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence

import pyspark
import pytest
from pyspark.sql import DataFrame, SparkSession

from reviews_etl.job.session import apply_pipeline_settings, build_spark_session
from reviews_etl.testing.helpers import DEFAULT_MASTER, ReviewsFactory, make_reviews_df, spark_line

__all__ = ["pytest_addoption", "pytest_configure", "reviews_df", "spark"]

MASTER_OPTION = "reviews_etl_master"
SPARK_LINE_OPTION = "reviews_etl_spark_line"
_LINE_PATTERN = re.compile(r"^(\d+)\.(\d+)$")


def _option(config: pytest.Config, name: str) -> str | None:
    """A plugin option: the command line's if given, else the ini file's, else None."""
    value = config.getoption(name)
    if value is None:
        value = config.getini(name)
    return str(value) if value else None


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's options, on the command line and in the ini file."""
    group = parser.getgroup("reviews-etl", "reviews-etl Spark fixtures")
    master_help = f"Spark master of the reviews-etl 'spark' fixture (default {DEFAULT_MASTER})."
    group.addoption("--reviews-etl-master", dest=MASTER_OPTION, default=None, help=master_help)
    parser.addini(MASTER_OPTION, master_help, default="")
    line_help = (
        "Spark line this run must be on, e.g. 3.5 (Glue 5.x) or 4.1 (Glue 6.0): the run "
        "stops if the installed pyspark is another line. A check only: pyspark cannot be "
        "switched at run time, install the line you want (pip install 'pyspark==4.1.*')."
    )
    group.addoption(
        "--reviews-etl-spark-line", dest=SPARK_LINE_OPTION, default=None, help=line_help
    )
    parser.addini(SPARK_LINE_OPTION, line_help, default="")


def pytest_configure(config: pytest.Config) -> None:
    """Check the Spark line the run asks for (no JVM: the installed version is a string)."""
    wanted = _option(config, SPARK_LINE_OPTION)
    if wanted is None:
        return
    if not _LINE_PATTERN.match(wanted):
        raise pytest.UsageError(
            f"--reviews-etl-spark-line {wanted!r}: expected a Spark line such as 3.5 or 4.1"
        )
    installed = pyspark.__version__
    if spark_line(installed) != wanted:
        raise pytest.UsageError(
            f"--reviews-etl-spark-line {wanted}: the installed pyspark is {installed} "
            f"(line {spark_line(installed)}); pytest cannot switch it, install the line the "
            f"run needs in this environment (pip install 'pyspark=={wanted}.*')"
        )


@pytest.fixture(scope="session")
def spark(pytestconfig: pytest.Config) -> Iterator[SparkSession]:
    """One local SparkSession for the test run, set up as the pipeline sets Glue's:
    :data:`~reviews_etl.job.session.PIPELINE_SETTINGS` (UTC, ANSI on, ...), quiet logs, no UI.

    Shared by every test: a test that changes a SQL setting should use
    ``spark.newSession()``. Stopped at the end of the run.
    """
    master = _option(pytestconfig, MASTER_OPTION) or DEFAULT_MASTER
    session = build_spark_session(
        app_name="reviews-etl-pytest",
        master=master,
        extra_conf={"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false"},
        log_level="ERROR",
    )
    apply_pipeline_settings(session)
    yield session
    session.stop()


@pytest.fixture
def reviews_df(spark: SparkSession) -> ReviewsFactory:
    """``reviews_df(rows)``: a raw reviews DataFrame of ``rows`` (see :func:`make_reviews_df`).

    ``reviews_df([{}, {"rating": "six"}, {"review_id": None}])`` is three rows: a valid
    one, one with an invalid rating and one without a review_id.
    """

    def factory(rows: Sequence[Mapping[str, str | None]]) -> DataFrame:
        return make_reviews_df(spark, rows)

    return factory
