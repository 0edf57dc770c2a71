"""The pytest plugin for users (reviews_etl.testing): run as a user's test run runs it, from
the installed entry point, and its ``reviews_df`` factory tested directly."""

from __future__ import annotations

import importlib.metadata
import re

import pyspark
import pytest

from reviews_etl import read_reviews_csv, validate_reviews
from reviews_etl.testing import (
    REVIEW_DEFAULTS,
    REVIEWS_DF_SCHEMA,
    make_reviews_df,
    review_id_for,
    reviews_records,
    spark_line,
)
from tests.support import REPO_ROOT

pytest_plugins = ["pytester"]

DOC = REPO_ROOT / "docs" / "testing-your-transforms.md"

# Beside the docs example in the user's project: what the plugin promises besides it, and a
# test that fails. Runs first (file order): the JVM must not have started before a test asks
# for `spark`.
PLUGIN_CHECKS = """
from pyspark import SparkContext

from reviews_etl.job.session import PIPELINE_HADOOP_SETTINGS, PIPELINE_SETTINGS
from reviews_etl.testing import assert_reviews_equal
from reviews_etl import clean_reviews


def test_no_jvm_before_a_test_asks_for_spark():
    assert SparkContext._gateway is None


def test_spark_is_set_up_as_the_pipeline_sets_glue(spark):
    assert spark.sparkContext.master == "local[1]"
    for key, value in PIPELINE_SETTINGS.items():
        assert spark.conf.get(key) == value, key
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in PIPELINE_HADOOP_SETTINGS.items():
        assert hadoop.get(key) == value, key
    assert spark.sparkContext.getConf().get("spark.ui.enabled") == "false"


def test_a_wrong_expectation_fails_with_chispas_table(spark, reviews_df):
    got = reviews_df([{"product_id": "p-9"}]).transform(clean_reviews).select("product_id")
    assert_reviews_equal(got, spark.createDataFrame([("p-9",)], "product_id string"))
"""


def docs_example() -> str:
    """The first Python block of the docs page: the user's test file it shows."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert blocks, f"no python block in {DOC}"
    return blocks[0]


def test_plugin_is_registered_through_the_pytest11_entry_point(
    pytestconfig: pytest.Config,
) -> None:
    points = importlib.metadata.entry_points(group="pytest11")
    assert [point.value for point in points if point.name == "reviews_etl"] == [
        "reviews_etl.testing.plugin"
    ]
    assert pytestconfig.pluginmanager.hasplugin("reviews_etl")


@pytest.mark.slow
def test_a_users_test_run_with_the_installed_plugin(pytester: pytest.Pytester) -> None:
    """The docs example, as a user's project runs it: a fresh pytest process that finds the
    plugin through its entry point (no conftest of this repository), with both options."""
    pytester.makepyfile(test_a_plugin_checks=PLUGIN_CHECKS, test_my_transforms=docs_example())
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--reviews-etl-master",
        "local[1]",
        "--reviews-etl-spark-line",
        spark_line(pyspark.__version__),
        timeout=600,
    )
    output = result.stdout.str()
    result.assert_outcomes(passed=5, failed=1)
    assert "FAILED test_a_plugin_checks.py::test_a_wrong_expectation_fails_with_chispas_table" in (
        output
    )
    assert "DataFramesNotEqualError" in output
    # chispa's table: the upper-cased actual row beside the expected one.
    assert re.search(r"product_id='P-9'.*product_id='p-9'", output), output


def other_line() -> str:
    return "4.1" if spark_line(pyspark.__version__) == "3.5" else "3.5"


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        (["--reviews-etl-spark-line", "<other>"], None, "pytest cannot switch it"),
        ([], "<other>", "pytest cannot switch it"),
        (["--reviews-etl-spark-line", "4"], None, "expected a Spark line such as 3.5 or 4.1"),
    ],
    ids=["command-line", "ini", "malformed"],
)
def test_another_spark_line_stops_the_run_before_any_test(
    pytester: pytest.Pytester, args: list[str], ini: str | None, message: str
) -> None:
    """In-process (no JVM): the check is a hook that runs before collection."""
    args = [other_line() if arg == "<other>" else arg for arg in args]
    if ini is not None:
        pytester.makeini(f"[pytest]\nreviews_etl_spark_line = {other_line()}\n")
    pytester.makepyfile(test_never_runs="def test_never_runs():\n    raise AssertionError\n")
    result = pytester.runpytest("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_reviews_df_has_the_columns_read_reviews_csv_returns(spark, write_csv) -> None:
    path = write_csv(
        "review_id,product_id,customer_id,rating,review_date,review_text\nr1,P1,c1,5,2024-01-01,ok\n"
    )
    read = read_reviews_csv(spark, path)
    made = make_reviews_df(spark, [{}])
    assert made.schema == REVIEWS_DF_SCHEMA == read.schema


def test_reviews_df_fills_in_keeps_none_and_numbers_rows(spark, reviews_df) -> None:
    rows = [
        {},
        {"review_id": review_id_for(2)},  # taken: the fill-ins skip it
        {"review_text": None, "rating": None},
        {},
        {"review_id": "dup"},
        {"review_id": "dup"},
        {"_corrupt_record": "r9,P1"},
    ]
    df = reviews_df(rows)
    got = [row.asDict() for row in df.transform(validate_reviews).orderBy("_row_number").collect()]
    assert [row["review_id"] for row in got] == [
        "r-000001",
        "r-000002",
        "r-000003",
        "r-000004",
        "dup",
        "dup",
        "r-000005",
    ]
    assert [row["_row_number"] for row in got] == list(range(len(rows)))
    assert [row["reject_reason"] for row in got] == [
        None,
        None,
        "missing_rating",
        None,
        None,
        "duplicate_review_id",
        "malformed_row",
    ]
    first = got[0]
    assert {key: first[key] for key in REVIEW_DEFAULTS if key != "_corrupt_record"} == {
        key: value for key, value in REVIEW_DEFAULTS.items() if key != "_corrupt_record"
    }
    assert first["raw_record"] is None
    assert got[2]["review_text"] is None
    assert got[2]["rating"] is None
    assert got[2]["product_id"] == "P-1"


def test_reviews_df_ids_are_distinct_whatever_the_rows_give() -> None:
    """No Spark: the records are made in Python (make_reviews_df hands them to Spark)."""
    rows: list[dict[str, str | None]] = [{} for _ in range(50)]
    rows[10] = {"review_id": review_id_for(1)}
    rows[20] = {"review_id": review_id_for(30)}
    rows[30] = {"review_id": None}
    ids = [record[0] for record in reviews_records(rows)]
    given = [rows[i]["review_id"] for i in (10, 20, 30)]
    filled = [value for i, value in enumerate(ids) if i not in (10, 20, 30)]
    assert len(set(filled)) == len(filled)
    assert not set(filled) & set(given)
    assert [ids[i] for i in (10, 20, 30)] == given


def test_reviews_df_refuses_unknown_keys_and_values_that_are_not_text(reviews_df) -> None:
    with pytest.raises(ValueError, match=r"row 1 has unknown column\(s\) 'ratng', 'stars'"):
        reviews_df([{}, {"ratng": "5", "stars": "4"}])
    with pytest.raises(ValueError, match=r"unknown column.*'_row_number'"):
        reviews_df([{"_row_number": "0"}])
    with pytest.raises(TypeError, match=r"column 'rating' is int 5; raw columns are text"):
        reviews_df([{"rating": 5}])


BLOCK_CHISPA = """
import importlib.abc, sys
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "chispa" or name.startswith("chispa."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _Block())
"""


def test_without_the_testing_extra_pytest_still_starts(pytester: pytest.Pytester) -> None:
    # Entry points are registered whatever extras were installed: a plain install must not
    # break pytest, only the plugin's fixtures say what to install.
    pytester.makepyfile(sitecustomize=BLOCK_CHISPA)
    pytester.makepyfile(
        test_user="""
        def test_unrelated():
            assert True

        def test_wants_spark(spark):
            pass
        """
    )
    # pytester puts its folder on PYTHONPATH: the sitecustomize there hides chispa.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.re_match_lines(
        [r".*reviews-etl pytest plugin needs chispa: pip install 'reviews-etl\[testing\]'"]
    )
