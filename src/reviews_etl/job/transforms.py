"""Pure DataFrame transforms: rules 1-9, cleaning, quarantine, lineage (analyses: :mod:`.analyses`).

Every function takes and returns a DataFrame (or returns such a function), so they chain with
``df.transform(...)`` and work on any DataFrame with the documented columns. No Python UDFs;
no casts that can fail, so results are the same with ANSI mode on or off and under any
``timeParserPolicy``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from reviews_etl.columns import (
    BATCH,
    CORRUPT_RECORD,
    CUSTOMER_ID,
    INGESTED_AT,
    PRODUCT_ID,
    RATING,
    RAW_COLUMNS,
    RAW_RECORD,
    REJECT_REASON,
    REVIEW_DATE,
    REVIEW_ID,
    REVIEW_TEXT,
    ROW_NUMBER,
    RUN_ID,
    SOURCE_FILE,
    SOURCE_ID,
    RejectReason,
)
from reviews_etl.job.schemas import (
    CLEAN_SCHEMA,
    CURATED_SCHEMA,
    QUARANTINE_SCHEMA,
    REJECTED_CORE_SCHEMA,
)

Transform = Callable[[DataFrame], DataFrame]

# Prefix of the normalised copies that validate_reviews adds beside the raw text.
CLEAN_PREFIX = "clean_"

# "4", " 4 ", "04", "4.0", "4.00" are the whole number 4; "4.5", "0", "6", "five" are not.
_RATING_PATTERN = r"^0*([1-5])(\.0+)?$"
_DATE_SHAPE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
# What "trimmed" means for every field: every character Python's str.strip() removes, i.e.
# all Unicode whitespace (Java's \s is only the first six). Listed literally; a test compares
# it with ``c.isspace()`` over all code points.
_WHITESPACE = (
    "\t\n\u000b\u000c\r"  # tab, line feed, vertical tab, form feed, carriage return
    "\u001c\u001d\u001e\u001f"  # file, group, record and unit separators
    " \u0085\u00a0"  # space, next line, no-break space
    "\u1680"  # ogham space mark
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"  # en quad..hair space
    "\u2028\u2029"  # line and paragraph separators
    "\u202f\u205f\u3000"  # narrow no-break, medium mathematical and ideographic spaces
)
# Working columns of validate_reviews; dropped by its final projection.
_TRIMMED = "_trimmed_"
_RATING_VALUE, _YEAR, _MONTH, _DAY, _DATE_VALUE = "_rating", "_year", "_month", "_day", "_date"
# Output of duplicate_review_ids beside clean_review_id: the row number of the first occurrence.
FIRST_ROW = "_first_row"


def _clean(name: str) -> str:
    return CLEAN_PREFIX + name


def _trimmed(name: str) -> Column:
    return F.col(_TRIMMED + name)


def trim_whitespace(column: Column) -> Column:
    """Trim all Unicode whitespace at both ends, as Python's ``str.strip()``.

    ``btrim`` compares whole characters, multi-byte ones included, and stops at the first
    character not in the set: linear, unlike a regular expression anchored at the end
    (quadratic on a long run of inner whitespace). ``F.trim`` removes only spaces.
    """
    return F.btrim(column, F.lit(_WHITESPACE))


def _carried(df: DataFrame) -> list[str]:
    """``_batch`` when the rows carry it (several sources read in one pass): every transform
    keeps it, and rule 9 holds within each batch."""
    return [BATCH] if BATCH in df.columns else []


def _blank(column: Column) -> Column:
    return column.isNull() | (column == F.lit(""))


def _real_date(year: Column, month: Column, day: Column) -> Column:
    """The date, or null unless year/month/day name a real calendar day.

    Arithmetic rather than ``to_date``, whose handling of ``2024-02-30`` depends on
    ``timeParserPolicy`` and whose failures raise under ANSI mode.
    """
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    days_in_month = (
        F.when(month == 2, F.when(leap, F.lit(29)).otherwise(F.lit(28)))
        .when(month.isin(4, 6, 9, 11), F.lit(30))
        .otherwise(F.lit(31))
    )
    real = (year >= 1) & month.between(1, 12) & (day >= 1) & (day <= days_in_month)
    return F.when(real, F.make_date(year, month, day))


def validate_reviews(df: DataFrame) -> DataFrame:
    """Label every row with the first cleaning rule it fails (``reject_reason``, null if none).

    Input: the raw text columns (``review_text``, ``_corrupt_record`` and ``_row_number`` are
    optional; without ``_row_number`` the DataFrame's own order decides which duplicate is
    first). Output: the raw columns as given, ``raw_record``, ``_row_number``, the normalised
    ``clean_*`` columns and ``reject_reason``. Feed it to :func:`clean_reviews` and
    :func:`quarantine_reviews`, or use those directly on raw data.
    """
    return validate_in_stages(df)


def _as_is(df: DataFrame) -> DataFrame:
    return df


def validate_in_stages(
    df: DataFrame, *, keep: Transform = _as_is, broadcast: Callable[[DataFrame], bool] | None = None
) -> DataFrame:
    """:func:`validate_reviews` with a say in how its stages are computed: the one chain of
    rules 1-9, for the public transform and the pipeline alike.

    ``keep`` receives each stage a caller may reuse (to cache it) and returns what the next
    stage reads: rules 1-8 in their compact form (:func:`rule_labels`), the duplicated ids,
    and rule 9's result when it runs as a window. With ``broadcast``, rule 9 joins the ids
    :func:`duplicate_review_ids` finds instead when ``broadcast(duplicates)`` is true. The
    defaults keep nothing and use the window: :func:`validate_reviews`.
    """
    labelled = label_first_failing_rule(df, keep=keep)
    if broadcast is not None:
        duplicates = keep(duplicate_review_ids(labelled))
        if broadcast(duplicates):
            return mark_duplicate_review_ids(labelled, duplicates)
    return keep(mark_duplicate_review_ids(labelled))


def label_first_failing_rule(df: DataFrame, *, keep: Transform = _as_is) -> DataFrame:
    """Rules 1-8 of :func:`validate_reviews` (everything but the duplicate check); ``keep``
    receives their compact form, :func:`rule_labels`."""
    return keep(df.transform(rule_labels)).transform(add_normalised_text)


def _with_optional_columns(df: DataFrame) -> DataFrame:
    """The columns :func:`validate_reviews` may go without: a null ``review_text`` and
    ``_corrupt_record``, and a ``_row_number`` in the DataFrame's own order."""
    if REVIEW_TEXT not in df.columns:
        df = df.withColumn(REVIEW_TEXT, F.lit(None).cast("string"))
    if CORRUPT_RECORD not in df.columns:
        df = df.withColumn(CORRUPT_RECORD, F.lit(None).cast("string"))
    if ROW_NUMBER not in df.columns:
        df = df.withColumn(ROW_NUMBER, F.monotonically_increasing_id())
    return df


def _parsed_fields(df: DataFrame) -> DataFrame:
    """``df`` plus each raw field trimmed, the rating as a number and the review date as a
    date (null when not one), in the working columns the rules read."""
    # Staged projections, so each field is trimmed and parsed once per row: Spark does not
    # share sub-expressions across CASE WHEN branches, and inlining these into the rules
    # would run the same functions dozens of times per row. Catalyst keeps the stages
    # apart because merging them would duplicate the work.
    trimmed = df.select(
        *RAW_COLUMNS,
        CORRUPT_RECORD,
        ROW_NUMBER,
        *_carried(df),
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
    return parsed.select(
        "*", _real_date(F.col(_YEAR), F.col(_MONTH), F.col(_DAY)).alias(_DATE_VALUE)
    )


def _first_failing_rule() -> Column:
    """Rules 1-8, in order, over the columns of :func:`_parsed_fields`: the reason of the
    first rule a row fails, or null."""
    rules: list[tuple[Column, str]] = [
        (F.col(CORRUPT_RECORD).isNotNull(), RejectReason.MALFORMED_ROW),
        (_blank(_trimmed(REVIEW_ID)), RejectReason.MISSING_REVIEW_ID),
        (_blank(_trimmed(PRODUCT_ID)), RejectReason.MISSING_PRODUCT_ID),
        (_blank(_trimmed(CUSTOMER_ID)), RejectReason.MISSING_CUSTOMER_ID),
        (_blank(_trimmed(RATING)), RejectReason.MISSING_RATING),
        (F.col(_RATING_VALUE).isNull(), RejectReason.INVALID_RATING),
        (_blank(_trimmed(REVIEW_DATE)), RejectReason.MISSING_REVIEW_DATE),
        (F.col(_DATE_VALUE).isNull(), RejectReason.INVALID_REVIEW_DATE),
    ]
    first_failure = F.when(rules[0][0], F.lit(rules[0][1]))
    for failed, reason in rules[1:]:
        first_failure = first_failure.when(failed, F.lit(reason))
    return first_failure


def rule_labels(df: DataFrame) -> DataFrame:
    """Rules 1-8 without the normalised text: the raw columns, ``raw_record``,
    ``_row_number``, ``clean_rating``, ``clean_review_date`` and ``reject_reason``.

    The compact form of :func:`label_first_failing_rule` (whose text columns
    :func:`add_normalised_text` derives cheaply from the raw ones), for caching: the
    normalised copies of the ids and the review text would double the strings held.
    """
    parsed = df.transform(_with_optional_columns).transform(_parsed_fields)
    return parsed.select(
        *RAW_COLUMNS,
        F.col(CORRUPT_RECORD).alias(RAW_RECORD),
        ROW_NUMBER,
        *_carried(df),
        F.col(_RATING_VALUE).alias(_clean(RATING)),
        F.col(_DATE_VALUE).alias(_clean(REVIEW_DATE)),
        _first_failing_rule().alias(REJECT_REASON),
    )


def add_normalised_text(df: DataFrame) -> DataFrame:
    """Complete the output of :func:`rule_labels` into that of
    :func:`label_first_failing_rule`: ``clean_review_id``, ``clean_product_id``,
    ``clean_customer_id`` and ``clean_review_text``, trimmed from the raw columns."""
    review_text = trim_whitespace(F.col(REVIEW_TEXT))
    return df.select(
        *RAW_COLUMNS,
        RAW_RECORD,
        ROW_NUMBER,
        *_carried(df),
        trim_whitespace(F.col(REVIEW_ID)).alias(_clean(REVIEW_ID)),
        F.upper(trim_whitespace(F.col(PRODUCT_ID))).alias(_clean(PRODUCT_ID)),
        trim_whitespace(F.col(CUSTOMER_ID)).alias(_clean(CUSTOMER_ID)),
        _clean(RATING),
        _clean(REVIEW_DATE),
        F.when(~_blank(review_text), review_text).alias(_clean(REVIEW_TEXT)),
        REJECT_REASON,
    )


def _kept_row_number() -> Column:
    """Rule 9's choice among rows that pass rules 1-8 and share a review id: the row number
    of the first in file order, aggregated over a window or a group of such rows."""
    return F.min(F.when(F.col(REJECT_REASON).isNull(), F.col(ROW_NUMBER)))


def duplicate_review_ids(labelled: DataFrame) -> DataFrame:
    """The ``clean_review_id`` values held by more than one row passing rules 1-8, each with
    the ``_first_row`` that rule 9 keeps. Input: the output of :func:`label_first_failing_rule`.
    A hash aggregate of two narrow columns; duplicates are usually rare, so the result is
    small enough to broadcast to :func:`mark_duplicate_review_ids`.
    """
    keys = [*_carried(labelled), _clean(REVIEW_ID)]
    return (
        labelled.where(F.col(REJECT_REASON).isNull())
        .groupBy(*keys)
        .agg(_kept_row_number().alias(FIRST_ROW), F.count(F.lit(1)).alias("_occurrences"))
        .where(F.col("_occurrences") > 1)
        .select(*keys, FIRST_ROW)
    )


def mark_duplicate_review_ids(
    labelled: DataFrame, duplicates: DataFrame | None = None
) -> DataFrame:
    """Rule 9: among rows that pass rules 1-8, the first in file order keeps its review_id.

    Without ``duplicates`` a window over ``review_id`` finds each id's first row, which
    shuffles and sorts every row with all its columns. With ``duplicates`` (the output of
    :func:`duplicate_review_ids` for the same ``labelled``), that set is broadcast and joined
    instead: no shuffle of the rows. Same result; pass it when it fits in memory.
    """
    passes = F.col(REJECT_REASON).isNull()
    keys = [*_carried(labelled), _clean(REVIEW_ID)]
    if duplicates is None:
        scope = labelled
        first_row = _kept_row_number().over(Window.partitionBy(*keys))
    else:
        scope = labelled.join(F.broadcast(duplicates), on=keys, how="left")
        # Ids missing from the broadcast set occur once: nothing to mark.
        first_row = F.coalesce(F.col(FIRST_ROW), F.col(ROW_NUMBER))
    reason = F.when(
        passes & (F.col(ROW_NUMBER) != first_row), F.lit(RejectReason.DUPLICATE_REVIEW_ID)
    ).otherwise(F.col(REJECT_REASON))
    return scope.select(
        *(reason.alias(name) if name == REJECT_REASON else F.col(name) for name in labelled.columns)
    )


def _ensure_validated(df: DataFrame) -> DataFrame:
    return df if REJECT_REASON in df.columns else validate_reviews(df)


def clean_reviews(df: DataFrame) -> DataFrame:
    """Accepted rows, normalised (:data:`~reviews_etl.job.schemas.CLEAN_SCHEMA`).

    Takes raw text columns or the output of :func:`validate_reviews`.
    """
    validated = _ensure_validated(df)
    return validated.where(F.col(REJECT_REASON).isNull()).select(
        *(F.col(_clean(field.name)).alias(field.name) for field in CLEAN_SCHEMA.fields),
        *_carried(validated),
    )


def quarantine_reviews(df: DataFrame) -> DataFrame:
    """Rejected rows as text with their ``reject_reason`` (:data:`REJECTED_CORE_SCHEMA`).

    Takes raw text columns or the output of :func:`validate_reviews`.
    """
    validated = _ensure_validated(df)
    return validated.where(F.col(REJECT_REASON).isNotNull()).select(
        *(field.name for field in REJECTED_CORE_SCHEMA.fields), *_carried(validated)
    )


def _instant(ingested_at: dt.datetime) -> Column:
    if ingested_at.tzinfo is None:
        raise ValueError("ingested_at must be timezone-aware (UTC)")
    # Whole microseconds since the epoch: the instant, whatever the session time zone.
    micros = (ingested_at - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
    return F.timestamp_micros(F.lit(micros))


def add_lineage(source_file: str, run_id: str, ingested_at: dt.datetime) -> Transform:
    """Append ``source_file``, ``run_id`` and ``ingested_at`` (a UTC instant) to every row."""
    instant = _instant(ingested_at)

    def transform(df: DataFrame) -> DataFrame:
        return df.select(
            "*",
            F.lit(source_file).alias(SOURCE_FILE),
            F.lit(run_id).alias(RUN_ID),
            instant.alias(INGESTED_AT),
        )

    return transform


@dataclass(frozen=True)
class BatchLineage:
    """Where the rows of one ``_batch`` value came from, for :func:`add_batch_lineage`."""

    source_file: str
    source_id: str
    ingested_at: dt.datetime


def add_batch_lineage(batches: Sequence[BatchLineage], run_id: str) -> Transform:
    """:func:`add_lineage` for rows of several sources read in one pass, plus ``source_id``:
    the values of ``batches[_batch]``."""
    position = F.col(BATCH) + F.lit(1)

    def pick(values: list[Column]) -> Column:
        return F.element_at(F.array(*values), position)

    source_file = pick([F.lit(batch.source_file) for batch in batches])
    source_id = pick([F.lit(batch.source_id) for batch in batches])
    ingested_at = pick([_instant(batch.ingested_at) for batch in batches])

    def transform(df: DataFrame) -> DataFrame:
        return df.select(
            "*",
            source_file.alias(SOURCE_FILE),
            F.lit(run_id).alias(RUN_ID),
            ingested_at.alias(INGESTED_AT),
            source_id.alias(SOURCE_ID),
        )

    return transform


def to_curated(df: DataFrame) -> DataFrame:
    """Schema contract of ``processed-data/`` (without its partition column)."""
    return df.select(*(field.name for field in CURATED_SCHEMA.fields))


def to_quarantine(df: DataFrame) -> DataFrame:
    """Schema contract of ``rejected/`` (without its partition column)."""
    return df.select(*(field.name for field in QUARANTINE_SCHEMA.fields))
