"""Helpers for testing your own transforms: raw reviews DataFrames and a chispa comparison.

Public through :mod:`reviews_etl.testing`; they need pyspark and chispa, not pytest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import chispa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from reviews_etl.columns import (
    CORRUPT_RECORD,
    CUSTOMER_ID,
    PRODUCT_ID,
    RATING,
    RAW_COLUMNS,
    REVIEW_DATE,
    REVIEW_ID,
    REVIEW_TEXT,
    ROW_NUMBER,
)
from reviews_etl.job.schemas import RAW_SCHEMA

__all__ = [
    "DEFAULT_MASTER",
    "REVIEWS_DF_SCHEMA",
    "REVIEW_DEFAULTS",
    "ReviewsFactory",
    "assert_reviews_equal",
    "make_reviews_df",
    "review_id_for",
    "reviews_records",
    "spark_line",
]

DEFAULT_MASTER = "local[2]"

# What read_reviews_csv returns: every raw field as text, the text of a record that did not
# parse, and the record's position in its file.
REVIEWS_DF_SCHEMA = T.StructType(
    [*RAW_SCHEMA.fields, T.StructField(ROW_NUMBER, T.LongType(), False)]
)

# The value of each column a row passed to make_reviews_df leaves out (review_id aside).
REVIEW_DEFAULTS: Mapping[str, str | None] = {
    PRODUCT_ID: "P-1",
    CUSTOMER_ID: "C-1",
    RATING: "5",
    REVIEW_DATE: "2024-01-01",
    REVIEW_TEXT: "ok",
    CORRUPT_RECORD: None,
}
_ROW_KEYS = (*RAW_COLUMNS, CORRUPT_RECORD)


def review_id_for(n: int) -> str:
    """The ``n``-th review_id :func:`make_reviews_df` fills in: ``r-000001`` for 1."""
    return f"r-{n:06d}"


class ReviewsFactory(Protocol):
    """The ``reviews_df`` fixture: ``reviews_df(rows)`` is :func:`make_reviews_df` on the
    test's ``spark``."""

    def __call__(self, rows: Sequence[Mapping[str, str | None]]) -> DataFrame: ...


def make_reviews_df(spark: SparkSession, rows: Sequence[Mapping[str, str | None]]) -> DataFrame:
    """A raw reviews DataFrame, as :func:`reviews_etl.read_reviews_csv` returns it.

    Each row is a dict of text values by column (``review_id``, ``product_id``,
    ``customer_id``, ``rating``, ``review_date``, ``review_text``, and ``_corrupt_record``
    to stand for a record that did not parse). A key a row leaves out gets a valid value
    (:data:`REVIEW_DEFAULTS`; ``_corrupt_record`` stays null); an explicit ``None`` stays
    null. A row without ``review_id`` gets the next of ``r-000001``, ``r-000002``, ... that
    no row gives, so filled-in ids are distinct from each other and from the given ones.

    The columns and their order are those of :data:`REVIEWS_DF_SCHEMA`; ``_row_number`` is
    the row's position in ``rows`` (from 0), the file order rule 9 (duplicate ids) goes by.

    Raises :class:`ValueError` for a key that is no column (naming it) and
    :class:`TypeError` for a value that is not text or ``None``.
    """
    return spark.createDataFrame(reviews_records(rows), REVIEWS_DF_SCHEMA)


def reviews_records(
    rows: Sequence[Mapping[str, str | None]],
) -> list[tuple[str | int | None, ...]]:
    """The records :func:`make_reviews_df` makes of ``rows``: tuples in the order of
    :data:`REVIEWS_DF_SCHEMA`, every rule of it applied (no Spark needed)."""
    given_ids = {row[REVIEW_ID] for row in rows if REVIEW_ID in row}
    counter = 0
    records: list[tuple[str | int | None, ...]] = []
    for position, row in enumerate(rows):
        _check_row(position, row)
        values = {**REVIEW_DEFAULTS, **row}
        if REVIEW_ID not in row:
            counter += 1
            while review_id_for(counter) in given_ids:
                counter += 1
            values[REVIEW_ID] = review_id_for(counter)
        records.append((*(values[key] for key in _ROW_KEYS), position))
    return records


def _check_row(position: int, row: Mapping[str, str | None]) -> None:
    unknown = sorted(key for key in row if key not in _ROW_KEYS)
    if unknown:
        raise ValueError(
            f"reviews_df: row {position} has unknown column(s) {', '.join(map(repr, unknown))}; "
            f"a row may give {', '.join(_ROW_KEYS)}"
        )
    for key, value in row.items():
        if value is not None and not isinstance(value, str):
            raise TypeError(
                f"reviews_df: row {position} column {key!r} is {type(value).__name__} "
                f"{value!r}; raw columns are text: write {str(value)!r} (or None for null)"
            )


def assert_reviews_equal(
    actual: DataFrame,
    expected: DataFrame,
    *,
    ignore_row_order: bool = True,
    ignore_column_order: bool = False,
    ignore_nullable: bool = True,
    ignore_columns: Sequence[str] | None = None,
    precision: float | None = None,
    allow_nan_equality: bool = False,
) -> None:
    """Assert two DataFrames hold the same schema and rows; on a difference, fail with
    chispa's table of both.

    Any two DataFrames (reviews, rejects, analysis outputs). By default row order and
    nullability do not count: transforms promise neither. With ``precision``, floating-point
    values may differ by up to that much (:func:`chispa.assert_approx_df_equality`);
    otherwise they must be equal (:func:`chispa.assert_df_equality`).
    """
    ignored = list(ignore_columns) if ignore_columns is not None else None
    if precision is None:
        chispa.assert_df_equality(
            actual,
            expected,
            ignore_nullable=ignore_nullable,
            allow_nan_equality=allow_nan_equality,
            ignore_column_order=ignore_column_order,
            ignore_row_order=ignore_row_order,
            ignore_columns=ignored,
        )
    else:
        chispa.assert_approx_df_equality(
            actual,
            expected,
            precision,
            ignore_nullable=ignore_nullable,
            allow_nan_equality=allow_nan_equality,
            ignore_column_order=ignore_column_order,
            ignore_row_order=ignore_row_order,
            ignore_columns=ignored,
        )


def spark_line(version: str) -> str:
    """The Spark line (major.minor) of a version string: ``"3.5"`` for ``"3.5.6"``."""
    return ".".join(version.split(".")[:2])
