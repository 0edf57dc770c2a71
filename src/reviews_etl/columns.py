"""Column names of every dataset: the one place they are spelled. Importable without pyspark."""

from __future__ import annotations

from typing import Final

# Input (raw) columns, canonical names.
REVIEW_ID: Final = "review_id"
PRODUCT_ID: Final = "product_id"
CUSTOMER_ID: Final = "customer_id"
RATING: Final = "rating"
REVIEW_DATE: Final = "review_date"
REVIEW_TEXT: Final = "review_text"

REQUIRED_COLUMNS: Final = (REVIEW_ID, PRODUCT_ID, CUSTOMER_ID, RATING, REVIEW_DATE)
OPTIONAL_COLUMNS: Final = (REVIEW_TEXT,)
RAW_COLUMNS: Final = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
# Header aliases (lower-case) accepted for canonical names.
COLUMN_ALIASES: Final = {"star_rating": RATING}

# Spark's permissive-mode column holding the text of a record that did not parse.
CORRUPT_RECORD: Final = "_corrupt_record"
# Position of the record in its file, used for "first occurrence wins".
ROW_NUMBER: Final = "_row_number"
# Which source of a run a row came from, when several sources are read in one pass: rule 9
# ("first occurrence wins") holds within each source, and the transforms carry it through.
BATCH: Final = "_batch"

# Lineage.
SOURCE_FILE: Final = "source_file"
SOURCE_ID: Final = "source_id"
RUN_ID: Final = "run_id"
INGESTED_AT: Final = "ingested_at"

# Quarantine.
REJECT_REASON: Final = "reject_reason"
RAW_RECORD: Final = "raw_record"

# Analyses.
REVIEW_COUNT: Final = "review_count"
AVG_RATING: Final = "avg_rating"
RANK: Final = "rank"
SHARE: Final = "share"

RATINGS: Final = (1, 2, 3, 4, 5)


class RejectReason:
    """Reject reasons in rule order: the first failing rule names the reason."""

    MALFORMED_ROW: Final = "malformed_row"
    MISSING_REVIEW_ID: Final = "missing_review_id"
    MISSING_PRODUCT_ID: Final = "missing_product_id"
    MISSING_CUSTOMER_ID: Final = "missing_customer_id"
    MISSING_RATING: Final = "missing_rating"
    INVALID_RATING: Final = "invalid_rating"
    MISSING_REVIEW_DATE: Final = "missing_review_date"
    INVALID_REVIEW_DATE: Final = "invalid_review_date"
    DUPLICATE_REVIEW_ID: Final = "duplicate_review_id"


REJECT_REASONS: Final = (
    RejectReason.MALFORMED_ROW,
    RejectReason.MISSING_REVIEW_ID,
    RejectReason.MISSING_PRODUCT_ID,
    RejectReason.MISSING_CUSTOMER_ID,
    RejectReason.MISSING_RATING,
    RejectReason.INVALID_RATING,
    RejectReason.MISSING_REVIEW_DATE,
    RejectReason.INVALID_REVIEW_DATE,
    RejectReason.DUPLICATE_REVIEW_ID,
)
