"""Unit tests of the pure transforms, on small DataFrames with explicit schemas."""

from __future__ import annotations

import datetime as dt

import pytest

pytest.importorskip("pyspark")

from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from reviews_etl import (
    add_lineage,
    clean_reviews,
    daily_review_counts,
    latest_per_review_id,
    quarantine_reviews,
    rating_distribution,
    top_customers,
    validate_reviews,
)
from reviews_etl.columns import RAW_COLUMNS, REJECT_REASON, ROW_NUMBER, RejectReason
from reviews_etl.job.schemas import (
    CLEAN_SCHEMA,
    DAILY_REVIEW_COUNTS_SCHEMA,
    RATING_DISTRIBUTION_SCHEMA,
    REJECTED_CORE_SCHEMA,
    TOP_CUSTOMERS_SCHEMA,
)
from reviews_etl.job.transforms import (
    _WHITESPACE,
    FIRST_ROW,
    duplicate_review_ids,
    label_first_failing_rule,
    mark_duplicate_review_ids,
    trim_whitespace,
)

RAW = T.StructType([T.StructField(name, T.StringType(), True) for name in RAW_COLUMNS])
GOOD = ("r1", "p-1", "c-1", "4", "2024-01-31", "fine")


def raw_df(spark: SparkSession, rows: list[tuple[str | None, ...]]):
    return spark.createDataFrame(rows, RAW)


def reasons(spark: SparkSession, rows: list[tuple[str | None, ...]]) -> list[str | None]:
    validated = raw_df(spark, rows).transform(validate_reviews)
    return [r[REJECT_REASON] for r in validated.orderBy("_row_number").collect()]


def with_field(index: int, value: str | None) -> tuple[str | None, ...]:
    row: list[str | None] = list(GOOD)
    row[index] = value
    return tuple(row)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (GOOD, None),
        (with_field(0, None), RejectReason.MISSING_REVIEW_ID),
        (with_field(0, " \t"), RejectReason.MISSING_REVIEW_ID),
        (with_field(0, "\u00a0"), RejectReason.MISSING_REVIEW_ID),
        (with_field(2, "\u3000\u2028"), RejectReason.MISSING_CUSTOMER_ID),
        (with_field(1, ""), RejectReason.MISSING_PRODUCT_ID),
        (with_field(2, None), RejectReason.MISSING_CUSTOMER_ID),
        (with_field(3, None), RejectReason.MISSING_RATING),
        (with_field(3, "  "), RejectReason.MISSING_RATING),
        (with_field(3, "five"), RejectReason.INVALID_RATING),
        (with_field(4, None), RejectReason.MISSING_REVIEW_DATE),
        (with_field(4, "2024-02-30"), RejectReason.INVALID_REVIEW_DATE),
        # First failing rule wins: missing product beats the invalid rating and date.
        (("r1", "", "c-1", "4.5", "nope", None), RejectReason.MISSING_PRODUCT_ID),
        (("r1", "p", "c", "0", "", None), RejectReason.INVALID_RATING),
    ],
)
def test_each_rule_names_its_reason(spark, row, expected) -> None:
    assert reasons(spark, [row]) == [expected]


# Every character Python's str.strip() removes, written out: what "trimmed" means.
UNICODE_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


def test_trimmed_means_pythons_str_strip() -> None:
    every = "".join(c for c in map(chr, range(0x110000)) if c.isspace())
    assert every == UNICODE_WHITESPACE
    assert sorted(_WHITESPACE) == sorted(every)
    assert len(set(_WHITESPACE)) == len(_WHITESPACE) == 29


def test_trim_whitespace_removes_all_unicode_whitespace_at_both_ends_only(spark) -> None:
    values = [f"{c}{c}a{c}b{c}" for c in UNICODE_WHITESPACE] + [UNICODE_WHITESPACE, "\u200bx"]
    df = spark.createDataFrame([(v,) for v in values], "v string")
    got = [r[0] for r in df.select(trim_whitespace(df.v)).collect()]
    # Zero-width space (U+200B) is not whitespace to str.strip(), nor here.
    assert got == [v.strip() for v in values]
    assert got[:3] == ["a\tb", "a\nb", "a\x0bb"]


@pytest.mark.parametrize("char", list(UNICODE_WHITESPACE))
def test_a_whitespace_only_field_is_missing(spark, char) -> None:
    assert reasons(spark, [with_field(0, char * 2)]) == [RejectReason.MISSING_REVIEW_ID]


@pytest.mark.parametrize("rating", ["4", " 4 ", "4.0", "04", "4.00", "\t4\n", "1", "5"])
def test_whole_ratings_pass(spark, rating) -> None:
    assert reasons(spark, [with_field(3, rating)]) == [None]


@pytest.mark.parametrize("rating", ["4.5", "0", "6", "five", "-1", "+4", "4.", "1e0", "10", "٤"])
def test_other_ratings_are_invalid(spark, rating) -> None:
    assert reasons(spark, [with_field(3, rating)]) == [RejectReason.INVALID_RATING]


@pytest.mark.parametrize("day", ["2024-02-29", "2000-02-29", " 2024-12-31 ", "0001-01-01"])
def test_real_dates_pass(spark, day) -> None:
    assert reasons(spark, [with_field(4, day)]) == [None]


@pytest.mark.parametrize(
    "day",
    [
        "2024-02-30",
        "2023-02-29",
        "1900-02-29",
        "2024-04-31",
        "2024-13-01",
        "2024-00-10",
        "2024-01-00",
        "2024-1-5",
        "2024/01/05",
        "05-01-2024",
        "2024-01-05T10:00",
        "0000-01-01",
    ],
)
def test_other_dates_are_invalid(spark, day) -> None:
    assert reasons(spark, [with_field(4, day)]) == [RejectReason.INVALID_REVIEW_DATE]


def test_duplicates_first_valid_occurrence_in_file_order_wins(spark) -> None:
    rows = [
        ("a", "p", "c", "9", "2024-01-01", "invalid first a"),
        ("a", "p", "c", "3", "2024-01-01", "first valid a"),
        (" a ", "p", "c", "4", "2024-01-02", "trimmed id equals a"),
        ("b", "p", "c", "5", "2024-01-03", None),
        ("b", "p", "c", "5", "2024-01-03", None),
    ]
    assert reasons(spark, rows) == [
        RejectReason.INVALID_RATING,
        None,
        RejectReason.DUPLICATE_REVIEW_ID,
        None,
        RejectReason.DUPLICATE_REVIEW_ID,
    ]


def labelled_with_duplicates(spark: SparkSession):
    """Rows 1-8 labelled, with explicit row numbers (not in file order of the DataFrame)."""
    schema = T.StructType([*RAW.fields, T.StructField(ROW_NUMBER, T.LongType(), True)])
    rows = [
        ("b", "p", "c", "5", "2024-01-03", None, 40),
        ("a", "p", "c", "9", "2024-01-01", "invalid, so not the first a", 10),
        ("a", "p", "c", "3", "2024-01-01", "first valid a", 20),
        (" a ", "p", "c", "4", "2024-01-02", "same id once trimmed", 30),
        ("b", "p", "c", "5", "2024-01-03", "first b", 35),
        ("a", "p", "c", "4", "2024-01-02", "third a", 50),
        ("once", "p", "c", "4", "2024-01-02", None, 60),
        (None, "p", "c", "4", "2024-01-02", "no id", 70),
        (None, "p", "c", "4", "2024-01-02", "no id again", 80),
    ]
    return spark.createDataFrame(rows, schema).transform(label_first_failing_rule)


def test_duplicate_review_ids_lists_each_repeated_id_with_its_first_row(spark) -> None:
    expected = spark.createDataFrame(
        [("a", 20), ("b", 35)],
        T.StructType(
            [
                T.StructField("clean_review_id", T.StringType(), True),
                T.StructField(FIRST_ROW, T.LongType(), True),
            ]
        ),
    )
    got = duplicate_review_ids(labelled_with_duplicates(spark))
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_broadcast_dedupe_marks_the_same_rows_as_the_window(spark) -> None:
    labelled = labelled_with_duplicates(spark)
    by_window = mark_duplicate_review_ids(labelled)
    by_broadcast = mark_duplicate_review_ids(labelled, duplicate_review_ids(labelled))
    assert by_broadcast.columns == by_window.columns == labelled.columns
    assert_df_equality(by_broadcast, by_window, ignore_row_order=True)
    got = {r[ROW_NUMBER]: r[REJECT_REASON] for r in by_broadcast.collect()}
    assert got == {
        10: RejectReason.INVALID_RATING,
        20: None,
        30: RejectReason.DUPLICATE_REVIEW_ID,
        35: None,
        40: RejectReason.DUPLICATE_REVIEW_ID,
        50: RejectReason.DUPLICATE_REVIEW_ID,
        60: None,
        70: RejectReason.MISSING_REVIEW_ID,
        80: RejectReason.MISSING_REVIEW_ID,
    }


def test_no_duplicates_marks_nothing(spark) -> None:
    labelled = raw_df(spark, [GOOD, with_field(0, "r2")]).transform(label_first_failing_rule)
    duplicates = duplicate_review_ids(labelled)
    assert duplicates.count() == 0
    marked = mark_duplicate_review_ids(labelled, duplicates)
    assert [r[REJECT_REASON] for r in marked.collect()] == [None, None]


def test_malformed_row_is_rule_one(spark) -> None:
    schema = T.StructType([*RAW.fields, T.StructField("_corrupt_record", T.StringType(), True)])
    df = spark.createDataFrame(
        [("auto_comment", *[None] * 5, "auto_comment"), (*GOOD, None)], schema
    )
    validated = df.transform(validate_reviews).orderBy("_row_number").collect()
    assert [r[REJECT_REASON] for r in validated] == [RejectReason.MALFORMED_ROW, None]
    assert validated[0]["raw_record"] == "auto_comment"


@pytest.mark.parametrize("ansi", ["true", "false"])
@pytest.mark.parametrize("policy", ["CORRECTED", "EXCEPTION", "LEGACY"])
def test_results_do_not_depend_on_ansi_or_time_parser_policy(spark, ansi, policy) -> None:
    rows = [with_field(4, "2024-02-30"), with_field(3, "five"), with_field(4, "2024-1-5"), GOOD]
    before = {
        k: spark.conf.get(k)
        for k in ("spark.sql.ansi.enabled", "spark.sql.legacy.timeParserPolicy")
    }
    spark.conf.set("spark.sql.ansi.enabled", ansi)
    spark.conf.set("spark.sql.legacy.timeParserPolicy", policy)
    try:
        got = reasons(spark, rows)
    finally:
        for key, value in before.items():
            spark.conf.set(key, value)
    assert got == [
        RejectReason.INVALID_REVIEW_DATE,
        RejectReason.INVALID_RATING,
        RejectReason.INVALID_REVIEW_DATE,
        None,
    ]


def test_clean_reviews_normalises_accepted_rows(spark) -> None:
    rows = [
        ("  r1 ", " p-abc ", " c-1 ", " 4 ", " 2024-02-29 ", '  Great,\n really "good"  '),
        ("r2", "P-Def", "c-2", "5.0", "2024-03-01", "   "),  # blank text becomes null
        ("r3", "p-x", "c-3", "1", "2024-03-02", None),
        ("r4", "p-x", "c-3", "six", "2024-03-02", None),  # rejected: not in the output
    ]
    expected = spark.createDataFrame(
        [
            ("r1", "P-ABC", "c-1", 4, dt.date(2024, 2, 29), 'Great,\n really "good"'),
            ("r2", "P-DEF", "c-2", 5, dt.date(2024, 3, 1), None),
            ("r3", "P-X", "c-3", 1, dt.date(2024, 3, 2), None),
        ],
        CLEAN_SCHEMA,
    )
    actual = raw_df(spark, rows).transform(clean_reviews)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_quarantine_keeps_raw_text_and_reason(spark) -> None:
    rows = [(" r1 ", "p", "c", " 4.5 ", "2024-01-01", None), GOOD]
    expected = spark.createDataFrame(
        [(" r1 ", "p", "c", " 4.5 ", "2024-01-01", None, None, RejectReason.INVALID_RATING)],
        REJECTED_CORE_SCHEMA,
    )
    actual = raw_df(spark, rows).transform(quarantine_reviews)
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_transforms_accept_input_without_review_text(spark) -> None:
    df = raw_df(spark, [GOOD]).drop("review_text")
    [row] = df.transform(clean_reviews).collect()
    assert row["review_text"] is None
    assert row["rating"] == 4


def test_add_lineage_appends_source_run_and_instant(spark) -> None:
    instant = dt.datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)
    df = raw_df(spark, [GOOD]).transform(clean_reviews)
    [row] = df.transform(add_lineage("s3://b/k.csv", "run-1", instant)).collect()
    assert (row["source_file"], row["run_id"]) == ("s3://b/k.csv", "run-1")
    # Session time zone is UTC, so the naive value Spark returns is the UTC wall clock.
    assert row["ingested_at"] == instant.replace(tzinfo=None)
    with pytest.raises(ValueError, match="timezone-aware"):
        add_lineage("x", "y", dt.datetime(2025, 1, 1))


CURATED_MINI = T.StructType(
    [
        T.StructField("review_id", T.StringType()),
        T.StructField("product_id", T.StringType()),
        T.StructField("customer_id", T.StringType()),
        T.StructField("rating", T.IntegerType()),
        T.StructField("review_date", T.DateType()),
        T.StructField("ingested_at", T.TimestampType()),
        T.StructField("source_id", T.StringType()),
    ]
)
D1, D2 = dt.date(2024, 1, 1), dt.date(2024, 1, 2)
T1, T2 = dt.datetime(2025, 1, 1), dt.datetime(2025, 6, 1)


def test_latest_per_review_id_keeps_the_most_recent_batch(spark) -> None:
    df = spark.createDataFrame(
        [
            ("r1", "P1", "c1", 1, D1, T1, "old"),
            ("r1", "P9", "c9", 5, D2, T2, "new"),
            ("r2", "P2", "c2", 3, D1, T1, "old"),
            ("r3", "P3", "c3", None, D1, T1, "old"),  # edge: null rating survives as is
        ],
        CURATED_MINI,
    )
    got = {r["review_id"]: tuple(r)[1:] for r in df.transform(latest_per_review_id).collect()}
    assert got == {
        "r1": ("P9", "c9", 5, D2),
        "r2": ("P2", "c2", 3, D1),
        "r3": ("P3", "c3", None, D1),
    }


ANALYSIS_INPUT = [
    ("r1", "P1", "c1", 5, D1, T1, "s"),
    ("r2", "P1", "c2", 2, D1, T1, "s"),
    ("r3", "P2", "c2", 4, D1, T1, "s"),
    ("r4", "P1", "c3", 3, D2, T1, "s"),
    ("r5", "P1", "c3", None, D2, T1, "s"),  # edge: a null rating counts as a review, not in avg
]


def test_daily_review_counts(spark) -> None:
    df = spark.createDataFrame(ANALYSIS_INPUT, CURATED_MINI)
    expected = spark.createDataFrame(
        [(D1, "P1", 2, 3.5), (D1, "P2", 1, 4.0), (D2, "P1", 2, 3.0)],
        DAILY_REVIEW_COUNTS_SCHEMA,
    )
    assert_df_equality(
        df.transform(daily_review_counts), expected, ignore_row_order=True, ignore_nullable=True
    )


def test_top_customers_ties_by_customer_id_and_n(spark) -> None:
    df = spark.createDataFrame(ANALYSIS_INPUT, CURATED_MINI)
    expected = spark.createDataFrame([(1, "c2", 2, 3.0), (2, "c3", 2, 3.0)], TOP_CUSTOMERS_SCHEMA)
    assert_df_equality(top_customers(df, n=2), expected, ignore_nullable=True)
    assert [r["customer_id"] for r in df.transform(top_customers).collect()] == ["c2", "c3", "c1"]
    with pytest.raises(ValueError, match="at least 1"):
        top_customers(df, n=0)


def test_rating_distribution_has_all_five_rows(spark) -> None:
    df = spark.createDataFrame(ANALYSIS_INPUT, CURATED_MINI)
    expected = spark.createDataFrame(
        [(1, 0, 0.0), (2, 1, 0.25), (3, 1, 0.25), (4, 1, 0.25), (5, 1, 0.25)],
        RATING_DISTRIBUTION_SCHEMA,
    )
    assert_df_equality(df.transform(rating_distribution), expected, ignore_nullable=True)


def test_analyses_of_no_reviews(spark) -> None:
    empty = spark.createDataFrame([], CURATED_MINI)
    assert [tuple(r) for r in empty.transform(rating_distribution).collect()] == [
        (rating, 0, 0.0) for rating in range(1, 6)
    ]
    assert empty.transform(daily_review_counts).count() == 0
    assert empty.transform(top_customers).count() == 0


def test_output_schemas_match_the_declared_ones(spark) -> None:
    def shape(schema: T.StructType) -> list[tuple[str, T.DataType]]:
        return [(f.name, f.dataType) for f in schema.fields]

    curated = spark.createDataFrame(ANALYSIS_INPUT, CURATED_MINI)
    raw = raw_df(spark, [GOOD])
    assert shape(raw.transform(clean_reviews).schema) == shape(CLEAN_SCHEMA)
    assert shape(raw.transform(quarantine_reviews).schema) == shape(REJECTED_CORE_SCHEMA)
    assert shape(curated.transform(daily_review_counts).schema) == shape(DAILY_REVIEW_COUNTS_SCHEMA)
    assert shape(curated.transform(top_customers).schema) == shape(TOP_CUSTOMERS_SCHEMA)
    assert shape(curated.transform(rating_distribution).schema) == shape(RATING_DISTRIBUTION_SCHEMA)
