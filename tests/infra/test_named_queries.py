"""The saved Athena queries (AWS::Athena::NamedQuery in infra/template.yaml) equal the job.

Each query's Athena SQL is translated to DuckDB with sqlglot and run over the local output
of three pipeline runs, through views named like the Athena tables (``reviews`` and
``rejected_reviews``, with ``source_id`` from the partition folder). The three analyses must
return exactly the rows the Spark job wrote to ``Athena Results/``; the rejects query must
return the counts of the rows quarantined from the CSV files written here.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlglot

from reviews_etl.config import DEFAULT_TOP_N
from tests.support.template import load_template

# Logical id -> the Athena Results/ folder whose rows it must return (None: checked against
# literal counts instead).
NAMED_QUERIES: dict[str, str | None] = {
    "DailyReviewCountsQuery": "daily_review_counts",
    "TopCustomersQuery": "top_5_customers",
    "RatingDistributionQuery": "rating_distribution",
    "RejectsBySourceFileQuery": None,
}
TOLERANCE = 1e-9

HEADER = "review_id,product_id,customer_id,rating,review_date,review_text\n"

# Three batches, each processed by its own run (so each has a later ingested_at). Later
# batches change the rating, customer, product or date of some ids: only the newest row of
# an id may count. Nobody ends up rating 2 (r07's 2 is replaced), and after the dedupe four
# customers tie on two reviews for places 4 and 5: the customer_id tie-break decides.
BATCH_1 = HEADER + (
    "r01,p-1,c-a,5,2024-01-01,great\n"
    "r02,p-1,c-b,4,2024-01-01,\n"
    "r03,p-2,c-c,3,2024-01-02,ok\n"
    "r04,p-2,c-a,4,2024-01-02,\n"
    "r05,p-3,c-d,5,2024-01-03,\n"
    "r06,p-3,c-e,3,2024-01-03,\n"
    "r07,p-1,c-f,2,2024-01-04,meh\n"
    "r08,p-1,c-c,six,2024-01-04,\n"  # invalid_rating
    "r24,p-1,c-k,4,2024-01-04,\n"
    "r25,p-1,c-k,4.5,2024-01-04,\n"  # invalid_rating
    "r16,p-2,,4,2024-01-02,\n"  # missing_customer_id
    "r17,p-3,c-e,4,2024-01-03,\n"
    "r18,p-3,c-c,1,2024-01-03,\n"
)
BATCH_2 = HEADER + (
    "r03,p-2,c-g,1,2024-01-02,changed my mind\n"  # new customer and rating
    "r07,p-4,c-b,4,2024-01-05,\n"  # new product, customer, rating and date
    "r09,p-1,c-g,5,2024-01-01,\n"
    "r09,p-1,c-g,1,2024-01-01,\n"  # duplicate_review_id
    "r10,p-4,c-h,3,2024-01-05,\n"
    "r11,p-2,c-e,4,2024-01-02,\n"
    "r12,p-1,c-d,1,2024-01-04,\n"
    ",p-1,c-d,1,2024-01-04,\n"  # missing_review_id
    "r13,p-1,c-d,4,2024-02-30,\n"  # invalid_review_date
    "r19,p-5,c-i,5,2024-01-06,\n"
    "r20,p-5,c-i,5,2024-01-06,\n"
    "r21,p-4,c-f,3,2024-01-05,\n"
    "r22,p-2,c-f,4,2024-01-02,\n"
    "r23,p-3,c-d,3,2024-01-03,\n"
)
BATCH_3 = HEADER + (
    "r01,p-1,c-a,5,2024-01-01,great\n"  # sent again unchanged
    "r05,p-3,c-h,4,2024-01-03,\n"  # new customer and rating
    "r14,p-5,c-h,3,2024-01-06,\n"
    "r15,p-5,c-b,5,2024-01-06,\n"
    "r23,p-3,c-j,3,2024-01-03,\n"  # new customer
)
# What the rejects query must return for the files above: (file, reason, rows).
EXPECTED_REJECTS = [
    ("batch_1.csv", "invalid_rating", 2),
    ("batch_1.csv", "missing_customer_id", 1),
    ("batch_2.csv", "duplicate_review_id", 1),
    ("batch_2.csv", "invalid_review_date", 1),
    ("batch_2.csv", "missing_review_id", 1),
]


def named_queries() -> dict[str, dict[str, Any]]:
    resources = load_template()["Resources"]
    return {
        name: resource
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Athena::NamedQuery"
    }


def athena_sql(resource: dict[str, Any]) -> str:
    """The query as Athena receives it: a !Sub gets the template's default parameters."""
    query = resource["Properties"]["QueryString"]
    if isinstance(query, dict):
        [(function, text)] = query.items()
        assert function == "Fn::Sub"
        assert isinstance(text, str)
        defaults = {k: v.get("Default") for k, v in load_template()["Parameters"].items()}
        for parameter, value in defaults.items():
            text = text.replace("${" + parameter + "}", str(value))
        query = text
    assert isinstance(query, str)
    assert "${" not in query, "a placeholder that is no template parameter"
    return query


def to_duckdb(sql: str) -> str:
    [statement] = sqlglot.transpile(sql, read="athena", write="duckdb")
    return statement


# --------------------------------------------------------------------------- static checks


def test_the_template_has_exactly_the_four_saved_queries() -> None:
    queries = named_queries()
    assert set(queries) == set(NAMED_QUERIES)
    names = [q["Properties"]["Name"] for q in queries.values()]
    assert len(set(names)) == len(names)
    for resource in queries.values():
        properties = resource["Properties"]
        assert properties["WorkGroup"] == {"Ref": "AthenaWorkGroup"}
        assert properties["Database"] == {"Ref": "GlueDatabase"}
        assert properties["Description"]


@pytest.mark.parametrize("logical_id", sorted(NAMED_QUERIES))
def test_each_query_is_one_athena_statement(logical_id: str) -> None:
    sql = athena_sql(named_queries()[logical_id])
    statements = sqlglot.parse(sql, read="athena")  # raises on a syntax error
    assert len(statements) == 1
    assert statements[0] is not None


def test_top_customers_uses_the_jobs_default_n() -> None:
    # The saved query takes N from the TopN parameter; its default is the job's default.
    assert load_template()["Parameters"]["TopN"]["Default"] == DEFAULT_TOP_N
    assert f"<= {DEFAULT_TOP_N}" in athena_sql(named_queries()["TopCustomersQuery"])


# --------------------------------------------------------------------------- multi-batch run


@dataclass(frozen=True)
class Outputs:
    root: Path
    inputs: Path


@pytest.fixture(scope="module")
def outputs(spark_context_session: Any, tmp_path_factory: pytest.TempPathFactory) -> Outputs:
    spark = spark_context_session.newSession()
    from reviews_etl import PipelineConfig, run_pipeline

    inputs = tmp_path_factory.mktemp("named-query-inputs")
    root = tmp_path_factory.mktemp("named-query-run") / "out"
    for name, content in (
        ("batch_1.csv", BATCH_1),
        ("batch_2.csv", BATCH_2),
        ("batch_3.csv", BATCH_3),
    ):
        source = inputs / name
        source.write_text(content, encoding="utf-8", newline="")
        # One run per batch: each batch gets its own, later ingested_at.
        run_pipeline(spark, PipelineConfig(sources=[str(source)], output_root=str(root)))
    return Outputs(root=root, inputs=inputs)


def _sql_string(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _results(outputs: Outputs, folder: str) -> str:
    """What the job wrote to Athena Results/<folder>, as a DuckDB table expression."""
    return f"read_parquet({_sql_string(outputs.root / 'Athena Results' / folder / '*.parquet')})"


@pytest.fixture
def con(outputs: Outputs) -> Iterator[Any]:
    """DuckDB with the Athena tables as views: partitioned by source_id, a string."""
    connection = duckdb.connect()
    for table, folder in (("reviews", "processed-data"), ("rejected_reviews", "rejected")):
        connection.execute(
            f"""
            CREATE VIEW {table} AS
            SELECT * FROM read_parquet(
                {_sql_string(outputs.root / folder / "*" / "*.parquet")},
                hive_partitioning = true,
                hive_types = {{'source_id': VARCHAR}}
            )
            """
        )
    yield connection
    connection.close()


def _columns(con: Any, query: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in con.execute(f"DESCRIBE {query}").fetchall()]


def _sort_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(round(v, 6) if isinstance(v, float) else v for v in row)


def assert_same_rows(actual: list[tuple[Any, ...]], expected: list[tuple[Any, ...]]) -> None:
    """Equal as multisets of rows; doubles within TOLERANCE."""
    assert len(actual) == len(expected), (actual, expected)
    for got, want in zip(
        sorted(actual, key=_sort_key), sorted(expected, key=_sort_key), strict=True
    ):
        assert len(got) == len(want)
        for a, b in zip(got, want, strict=True):
            if isinstance(b, float):
                assert isinstance(a, float), (got, want)
                assert math.isclose(a, b, rel_tol=0.0, abs_tol=TOLERANCE), (got, want)
            else:
                assert type(a) is type(b), (got, want)
                assert a == b, (got, want)


def test_the_views_look_like_the_athena_tables(con: Any) -> None:
    reviews = dict(_columns(con, "SELECT * FROM reviews"))
    assert reviews["source_id"] == "VARCHAR"
    assert reviews["rating"] == "INTEGER"
    assert reviews["review_date"] == "DATE"
    assert reviews["ingested_at"].startswith("TIMESTAMP")
    rejected = dict(_columns(con, "SELECT * FROM rejected_reviews"))
    assert rejected["source_id"] == "VARCHAR"
    assert rejected["reject_reason"] == "VARCHAR"
    # Three batches, three partitions; ids repeat across them, so the dedupe matters.
    assert con.execute("SELECT count(DISTINCT source_id) FROM reviews").fetchone() == (3,)
    total, distinct = con.execute(
        "SELECT count(*), count(DISTINCT review_id) FROM reviews"
    ).fetchone()
    assert total > distinct


def test_the_runs_cover_the_interesting_cases(outputs: Outputs, con: Any) -> None:
    # Guards the fixture, on what the job wrote: 21 reviews after the dedupe, nobody rated 2
    # (only an older row of r07 did), and c-a, c-f, c-g and c-i tie on 2 reviews for
    # places 4 and 5.
    ratings = con.execute(
        f"SELECT rating, review_count FROM {_results(outputs, 'rating_distribution')}"
    ).fetchall()
    assert sorted(ratings) == [(1, 3), (2, 0), (3, 5), (4, 8), (5, 5)]
    top = con.execute(
        f"SELECT rank, customer_id, review_count FROM {_results(outputs, 'top_5_customers')}"
    ).fetchall()
    assert sorted(top) == [
        (1, "c-b", 3),
        (2, "c-e", 3),
        (3, "c-h", 3),
        (4, "c-a", 2),
        (5, "c-f", 2),
    ]


@pytest.mark.parametrize(
    "logical_id", [name for name, folder in NAMED_QUERIES.items() if folder is not None]
)
def test_saved_query_returns_the_jobs_rows(logical_id: str, outputs: Outputs, con: Any) -> None:
    folder = NAMED_QUERIES[logical_id]
    assert folder is not None
    saved = to_duckdb(athena_sql(named_queries()[logical_id]))
    written = f"SELECT * FROM {_results(outputs, folder)}"

    # Same column names, order and types (rank int, review_count bigint, doubles).
    assert _columns(con, saved) == _columns(con, written)
    assert_same_rows(con.execute(saved).fetchall(), con.execute(written).fetchall())


def test_rejects_by_reason_and_source_file(outputs: Outputs, con: Any) -> None:
    saved = to_duckdb(athena_sql(named_queries()["RejectsBySourceFileQuery"]))
    assert _columns(con, saved) == [
        ("source_file", "VARCHAR"),
        ("reject_reason", "VARCHAR"),
        ("rejected_rows", "BIGINT"),
    ]
    expected = [
        (str(outputs.inputs / file), reason, rows) for file, reason, rows in EXPECTED_REJECTS
    ]
    assert_same_rows(con.execute(saved).fetchall(), expected)
