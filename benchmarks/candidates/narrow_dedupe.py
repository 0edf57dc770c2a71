"""Candidate change (measured, not merged; see docs/performance.md): rule 9 without shuffling
and sorting whole rows.

``validate_reviews`` finds the first occurrence of each ``review_id`` with
``min(_row_number) OVER (PARTITION BY clean_review_id)``: every row, with all its columns
(the review text twice, raw and clean), is shuffled and sorted. Here rules 1-8 are labelled
and persisted as before, then

1. ``(clean_review_id, min(_row_number), count(*))`` over the rows passing rules 1-8: a hash
   aggregate of two narrow columns, keeping only ids seen more than once (duplicates are
   rare), persisted;
2. if that set is small (``BROADCAST_LIMIT``) it is broadcast and left-joined to the labelled
   rows to mark later occurrences ``duplicate_review_id``; otherwise the window runs as today.

Same output as ``validate_reviews`` (the benchmark checks it against the DuckDB oracle). The
pipeline is patched at two points: ``validate_reviews`` (rules 1-8 below are a copy of its
body at commit c84430c, without rule 9) and the ``persist`` of what it returns (a no-op here:
the labelled rows are already cached and the join over them is cheap to recompute; the
``unpersist`` at the end of the batch releases both caches). Run it as a benchmark variant::

    python benchmarks/run.py --rows 200000 --variant narrow=benchmarks/candidates/narrow_dedupe.py
"""

from __future__ import annotations

import sys
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from reviews_etl.columns import (
    CORRUPT_RECORD,
    CUSTOMER_ID,
    PRODUCT_ID,
    RATING,
    RAW_COLUMNS,
    RAW_RECORD,
    REJECT_REASON,
    REVIEW_DATE,
    REVIEW_ID,
    REVIEW_TEXT,
    ROW_NUMBER,
    RejectReason,
)
from reviews_etl.transforms import (
    _DATE_SHAPE,
    _DATE_VALUE,
    _DAY,
    _MONTH,
    _RATING_PATTERN,
    _RATING_VALUE,
    _TRIMMED,
    _YEAR,
    _blank,
    _clean,
    _real_date,
    _trimmed,
    trim_whitespace,
)

CLEAN_REVIEW_ID = _clean(REVIEW_ID)
FIRST_ROW, OCCURRENCES = "_first_row", "_occurrences"
# Duplicated ids are broadcast up to this many; above it the window runs as today.
BROADCAST_LIMIT = 1_000_000


def label_rules_1_to_8(df: DataFrame) -> DataFrame:
    """``validate_reviews`` without rule 9 (copy of its body at commit c84430c)."""
    if REVIEW_TEXT not in df.columns:
        df = df.withColumn(REVIEW_TEXT, F.lit(None).cast("string"))
    if CORRUPT_RECORD not in df.columns:
        df = df.withColumn(CORRUPT_RECORD, F.lit(None).cast("string"))
    if ROW_NUMBER not in df.columns:
        df = df.withColumn(ROW_NUMBER, F.monotonically_increasing_id())

    # Staged projections, so each field is trimmed and parsed once per row: Spark does not
    # share sub-expressions across CASE WHEN branches, and inlining these into the rules
    # below ran the same functions dozens of times per row (2x slower end to end at 1M rows).
    # Catalyst keeps the stages apart because merging them would duplicate the work.
    trimmed = df.select(
        *RAW_COLUMNS,
        CORRUPT_RECORD,
        ROW_NUMBER,
        *(trim_whitespace(F.col(name)).alias(_TRIMMED + name) for name in RAW_COLUMNS),
    )
    rating_text, date_text = _trimmed(RATING), _trimmed(REVIEW_DATE)
    shaped = date_text.rlike(_DATE_SHAPE)
    # Every cast below sees only digits or null, so none can fail under ANSI mode.
    parsed = trimmed.select(
        "*",
        F.when(
            rating_text.rlike(_RATING_PATTERN), F.regexp_extract(rating_text, _RATING_PATTERN, 1)
        )
        .cast("int")
        .alias(_RATING_VALUE),
        F.when(shaped, F.substring(date_text, 1, 4)).cast("int").alias(_YEAR),
        F.when(shaped, F.substring(date_text, 6, 2)).cast("int").alias(_MONTH),
        F.when(shaped, F.substring(date_text, 9, 2)).cast("int").alias(_DAY),
    )
    dated = parsed.select(
        "*", _real_date(F.col(_YEAR), F.col(_MONTH), F.col(_DAY)).alias(_DATE_VALUE)
    )

    rules: list[tuple[Column, str]] = [
        (F.col(CORRUPT_RECORD).isNotNull(), RejectReason.MALFORMED_ROW),
        (_blank(_trimmed(REVIEW_ID)), RejectReason.MISSING_REVIEW_ID),
        (_blank(_trimmed(PRODUCT_ID)), RejectReason.MISSING_PRODUCT_ID),
        (_blank(_trimmed(CUSTOMER_ID)), RejectReason.MISSING_CUSTOMER_ID),
        (_blank(rating_text), RejectReason.MISSING_RATING),
        (F.col(_RATING_VALUE).isNull(), RejectReason.INVALID_RATING),
        (_blank(date_text), RejectReason.MISSING_REVIEW_DATE),
        (F.col(_DATE_VALUE).isNull(), RejectReason.INVALID_REVIEW_DATE),
    ]
    first_failure = F.when(rules[0][0], F.lit(rules[0][1]))
    for failed, reason in rules[1:]:
        first_failure = first_failure.when(failed, F.lit(reason))
    review_text = _trimmed(REVIEW_TEXT)
    return dated.select(
        *RAW_COLUMNS,
        F.col(CORRUPT_RECORD).alias(RAW_RECORD),
        ROW_NUMBER,
        _trimmed(REVIEW_ID).alias(_clean(REVIEW_ID)),
        F.upper(_trimmed(PRODUCT_ID)).alias(_clean(PRODUCT_ID)),
        _trimmed(CUSTOMER_ID).alias(_clean(CUSTOMER_ID)),
        F.col(_RATING_VALUE).alias(_clean(RATING)),
        F.col(_DATE_VALUE).alias(_clean(REVIEW_DATE)),
        F.when(~_blank(review_text), review_text).alias(_clean(REVIEW_TEXT)),
        first_failure.alias(REJECT_REASON),
    )


def duplicated_ids(labelled: DataFrame) -> DataFrame:
    """(clean_review_id, first row) of the ids held by several rows passing rules 1-8."""
    return (
        labelled.where(F.col(REJECT_REASON).isNull())
        .groupBy(CLEAN_REVIEW_ID)
        .agg(F.min(ROW_NUMBER).alias(FIRST_ROW), F.count(F.lit(1)).alias(OCCURRENCES))
        .where(F.col(OCCURRENCES) > 1)
        .select(CLEAN_REVIEW_ID, FIRST_ROW)
    )


def mark_duplicates(labelled: DataFrame, duplicates: DataFrame, broadcast: bool) -> DataFrame:
    """Rule 9 over labelled rows, with a broadcast join of the duplicated ids or a window."""
    passes = F.col(REJECT_REASON).isNull()
    if broadcast:
        joined = labelled.join(F.broadcast(duplicates), on=CLEAN_REVIEW_ID, how="left")
        first_row = F.col(FIRST_ROW)
        later = passes & first_row.isNotNull() & (F.col(ROW_NUMBER) != first_row)
    else:
        joined = labelled
        first_row = F.min(F.when(passes, F.col(ROW_NUMBER))).over(
            Window.partitionBy(CLEAN_REVIEW_ID)
        )
        later = passes & (F.col(ROW_NUMBER) != first_row)
    reason = F.when(later, F.lit(RejectReason.DUPLICATE_REVIEW_ID)).otherwise(F.col(REJECT_REASON))
    return joined.select(
        *(reason.alias(c) if c == REJECT_REASON else F.col(c) for c in labelled.columns)
    )


class _Validated(DataFrame):
    """What the patched validate returns: persisting it is a no-op, unpersisting it releases
    the labelled rows and the duplicated ids it was built from."""

    cached: tuple[DataFrame, ...] = ()

    def persist(self, *args: Any, **kwargs: Any) -> _Validated:
        return self

    def unpersist(self, blocking: bool = False) -> _Validated:
        for df in self.cached:
            df.unpersist(blocking)
        return self


def validate_narrow(df: DataFrame) -> DataFrame:
    labelled = label_rules_1_to_8(df).persist(StorageLevel.MEMORY_AND_DISK)
    duplicates = duplicated_ids(labelled).persist(StorageLevel.MEMORY_AND_DISK)
    small = duplicates.count() <= BROADCAST_LIMIT
    marked = mark_duplicates(labelled, duplicates, broadcast=small)
    result = _Validated(marked._jdf, marked.sparkSession)
    result.cached = (labelled, duplicates)
    return result


def main() -> int:
    import reviews_etl.pipeline
    from reviews_etl.cli import main as cli_main

    reviews_etl.pipeline.validate_reviews = validate_narrow  # type: ignore[attr-defined]
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
