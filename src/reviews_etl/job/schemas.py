"""One ``StructType`` per dataset. Column names come from :mod:`reviews_etl.columns`."""

from __future__ import annotations

from pyspark.sql import types as T

from reviews_etl.columns import (
    AVG_RATING,
    CORRUPT_RECORD,
    CUSTOMER_ID,
    INGESTED_AT,
    PRODUCT_ID,
    RANK,
    RATING,
    RAW_COLUMNS,
    RAW_RECORD,
    REJECT_REASON,
    REVIEW_COUNT,
    REVIEW_DATE,
    REVIEW_ID,
    REVIEW_TEXT,
    RUN_ID,
    SHARE,
    SOURCE_FILE,
    SOURCE_ID,
)


def _strings(*names: str, nullable: bool = True) -> list[T.StructField]:
    return [T.StructField(name, T.StringType(), nullable) for name in names]


# What the reader hands to the cleaning transform: every field as text, plus the text of
# any record that did not parse into the header's number of fields.
RAW_SCHEMA = T.StructType([*_strings(*RAW_COLUMNS), *_strings(CORRUPT_RECORD)])

# Accepted rows after normalisation, without lineage.
CLEAN_SCHEMA = T.StructType(
    [
        T.StructField(REVIEW_ID, T.StringType(), False),
        T.StructField(PRODUCT_ID, T.StringType(), False),
        T.StructField(CUSTOMER_ID, T.StringType(), False),
        T.StructField(RATING, T.IntegerType(), False),
        T.StructField(REVIEW_DATE, T.DateType(), False),
        T.StructField(REVIEW_TEXT, T.StringType(), True),
    ]
)

LINEAGE_FIELDS = [
    T.StructField(SOURCE_FILE, T.StringType(), False),
    T.StructField(RUN_ID, T.StringType(), False),
    T.StructField(INGESTED_AT, T.TimestampType(), False),
]

# processed-data/: what is written per batch (the folder adds the partition column source_id).
CURATED_SCHEMA = T.StructType([*CLEAN_SCHEMA.fields, *LINEAGE_FIELDS])
# processed-data/ as read back: the partition column is part of the dataset.
CURATED_STORED_SCHEMA = T.StructType(
    [*CURATED_SCHEMA.fields, T.StructField(SOURCE_ID, T.StringType(), True)]
)

# Rejected rows: raw text as read, why, and where from.
REJECTED_CORE_SCHEMA = T.StructType(
    [
        *_strings(*RAW_COLUMNS),
        *_strings(RAW_RECORD),
        T.StructField(REJECT_REASON, T.StringType(), False),
    ]
)
QUARANTINE_SCHEMA = T.StructType([*REJECTED_CORE_SCHEMA.fields, *LINEAGE_FIELDS])

DAILY_REVIEW_COUNTS_SCHEMA = T.StructType(
    [
        T.StructField(REVIEW_DATE, T.DateType(), True),
        T.StructField(PRODUCT_ID, T.StringType(), True),
        T.StructField(REVIEW_COUNT, T.LongType(), False),
        T.StructField(AVG_RATING, T.DoubleType(), True),
    ]
)

TOP_CUSTOMERS_SCHEMA = T.StructType(
    [
        T.StructField(RANK, T.IntegerType(), False),
        T.StructField(CUSTOMER_ID, T.StringType(), True),
        T.StructField(REVIEW_COUNT, T.LongType(), False),
        T.StructField(AVG_RATING, T.DoubleType(), True),
    ]
)

RATING_DISTRIBUTION_SCHEMA = T.StructType(
    [
        T.StructField(RATING, T.IntegerType(), False),
        T.StructField(REVIEW_COUNT, T.LongType(), False),
        T.StructField(SHARE, T.DoubleType(), False),
    ]
)
