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
pipeline is patched at two points: ``validate_reviews`` (rules 1-8 come from the library's
``label_first_failing_rule``) and the ``persist`` of what it returns (a no-op here:
the labelled rows are already cached and the join over them is cheap to recompute; the
``unpersist`` at the end of the batch releases both caches). Run it as a benchmark variant::

    python benchmarks/run.py --rows 200000 --variant narrow=benchmarks/candidates/narrow_dedupe.py
"""

from __future__ import annotations

import sys
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from reviews_etl.columns import (
    REJECT_REASON,
    REVIEW_ID,
    ROW_NUMBER,
    RejectReason,
)
from reviews_etl.transforms import _clean, label_first_failing_rule

CLEAN_REVIEW_ID = _clean(REVIEW_ID)
FIRST_ROW, OCCURRENCES = "_first_row", "_occurrences"
# Duplicated ids are broadcast up to this many; above it the window runs as today.
BROADCAST_LIMIT = 1_000_000


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
    labelled = label_first_failing_rule(df).persist(StorageLevel.MEMORY_AND_DISK)
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
