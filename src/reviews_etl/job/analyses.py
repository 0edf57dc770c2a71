"""The three analyses and the newest-batch dedupe they run on: pure ``DataFrame -> DataFrame``.

They take curated reviews (``review_id``, ``product_id``, ``customer_id``, ``rating``,
``review_date``; ``ingested_at`` and ``source_id`` for the dedupe) and return the exact
columns of their ``Athena Results/`` folder.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from reviews_etl.columns import (
    AVG_RATING,
    CUSTOMER_ID,
    INGESTED_AT,
    PRODUCT_ID,
    RANK,
    RATING,
    RATINGS,
    REVIEW_COUNT,
    REVIEW_DATE,
    REVIEW_ID,
    SHARE,
    SOURCE_ID,
)
from reviews_etl.config import DEFAULT_TOP_N
from reviews_etl.job.schemas import (
    DAILY_REVIEW_COUNTS_SCHEMA,
    RATING_DISTRIBUTION_SCHEMA,
    TOP_CUSTOMERS_SCHEMA,
)


def latest_per_review_id(df: DataFrame) -> DataFrame:
    """One row per ``review_id``: the one from the most recently ingested batch.

    Ties on ``ingested_at`` (one run holding the id in two sources) go to the later source in
    the run, then the greater ``source_id``. Needs ``review_id`` and ``ingested_at``; keeps
    the analysis columns. One ``max(struct)`` per id over the narrow analysis columns; a
    struct with strings is no fixed-width aggregation buffer, so Spark plans a sort aggregate.
    """
    tie_breakers = [F.col(INGESTED_AT)]
    if SOURCE_ID in df.columns:
        tie_breakers.append(F.col(SOURCE_ID))
    kept = [PRODUCT_ID, CUSTOMER_ID, RATING, REVIEW_DATE]
    newest = F.max(F.struct(*tie_breakers, *(F.col(name) for name in kept))).alias("newest")
    return (
        df.groupBy(REVIEW_ID)
        .agg(newest)
        .select(REVIEW_ID, *(F.col(f"newest.{name}").alias(name) for name in kept))
    )


def daily_review_counts(df: DataFrame) -> DataFrame:
    """One row per (``review_date``, ``product_id``) with at least one review."""
    return (
        df.groupBy(REVIEW_DATE, PRODUCT_ID)
        .agg(
            F.count(F.lit(1)).alias(REVIEW_COUNT),
            F.avg(F.col(RATING).cast("double")).alias(AVG_RATING),
        )
        .select(*(field.name for field in DAILY_REVIEW_COUNTS_SCHEMA.fields))
    )


def top_customers(df: DataFrame, n: int = DEFAULT_TOP_N) -> DataFrame:
    """The ``n`` customers with most reviews; ties broken by ``customer_id`` ascending."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    order = [F.col(REVIEW_COUNT).desc(), F.col(CUSTOMER_ID).asc_nulls_last()]
    leaders = (
        df.groupBy(CUSTOMER_ID)
        .agg(
            F.count(F.lit(1)).alias(REVIEW_COUNT),
            F.avg(F.col(RATING).cast("double")).alias(AVG_RATING),
        )
        .orderBy(*order)
        .limit(n)
    )
    # The window sees at most n rows: ranking them in one partition is free.
    ranked = leaders.withColumn(RANK, F.row_number().over(Window.orderBy(*order)))
    return ranked.orderBy(RANK).select(*(field.name for field in TOP_CUSTOMERS_SCHEMA.fields))


def rating_distribution(df: DataFrame) -> DataFrame:
    """Five rows, ratings 1..5 with zero counts included; ``share`` is 0 when there are none.

    One pass: counts per rating are columns of a single aggregate row, then unpivoted.
    Ratings outside 1..5 are not counted.
    """
    counts = df.agg(
        *(
            F.count(F.when(F.col(RATING) == F.lit(rating), F.lit(1))).alias(f"n{rating}")
            for rating in RATINGS
        )
    )
    total = sum((F.col(f"n{rating}") for rating in RATINGS), F.lit(0).cast("long"))
    rows = F.array(
        *(
            F.struct(
                F.lit(rating).cast("int").alias(RATING),
                F.col(f"n{rating}").alias(REVIEW_COUNT),
                total.alias("total"),
            )
            for rating in RATINGS
        )
    )
    share = F.when(
        F.col("total") > 0, F.col(REVIEW_COUNT).cast("double") / F.col("total").cast("double")
    ).otherwise(F.lit(0.0))
    return (
        counts.select(F.inline(rows))
        .withColumn(SHARE, share)
        .select(*(field.name for field in RATING_DISTRIBUTION_SCHEMA.fields))
    )
