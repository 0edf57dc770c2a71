"""Reading a review CSV per the input contract: header check first, then every field as text."""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from reviews_etl.columns import (
    COLUMN_ALIASES,
    CORRUPT_RECORD,
    RAW_COLUMNS,
    REQUIRED_COLUMNS,
    ROW_NUMBER,
)
from reviews_etl.errors import (
    EmptySourceError,
    InvalidHeaderError,
    MissingColumnsError,
    SourceNotFoundError,
)
from reviews_etl.storage import HadoopFS

UTF8_BOM = "\ufeff"
# A header row longer than this is not a review CSV.
HEADER_READ_LIMIT = 1 << 20
# Parsed records are spread over one partition per this many bytes of CSV (and at least one
# per core once the file is large enough to be worth it). With 64 MiB a 20M-row file (1.48 GB)
# died of OOM in a 2 GiB driver heap while labelling, caching and aggregating a partition;
# 16 MiB ran it through (the 5M-row timings: docs/performance.md).
PARTITION_BYTES = 16 << 20
MIN_BYTES_PER_CORE = 8 << 20


@dataclass(frozen=True)
class HeaderMapping:
    """Where each contract column sits in a file's header."""

    names: tuple[str, ...]  # the header as written (BOM removed)
    positions: dict[str, int]  # canonical column -> position
    source_bytes: int | None = None  # size of the file, when read from storage

    def read_schema(self) -> T.StructType:
        """All-text schema in file order; unknown columns get placeholder names."""
        by_position = {pos: name for name, pos in self.positions.items()}
        fields = [
            T.StructField(by_position.get(i, f"_ignored_{i}"), T.StringType(), True)
            for i in range(len(self.names))
        ]
        return T.StructType([*fields, T.StructField(CORRUPT_RECORD, T.StringType(), True)])


def parse_header(source: str, head: str) -> HeaderMapping:
    """Map a header line onto the contract: trimmed, case-insensitive, ``star_rating`` alias.

    Raises :class:`MissingColumnsError` naming every missing required column.
    """
    text = head.removeprefix(UTF8_BOM)
    rows = csv.reader(io.StringIO(text))
    header = next((row for row in rows if row), None)
    if header is None:
        raise EmptySourceError(source, "no header row (the file holds only blank lines)")
    names = tuple(name.strip() for name in header)
    positions: dict[str, int] = {}
    for position, name in enumerate(names):
        key = name.lower()
        canonical = COLUMN_ALIASES.get(key, key)
        if canonical not in RAW_COLUMNS:
            continue
        if canonical in positions:
            first = names[positions[canonical]]
            raise InvalidHeaderError(
                source, f"column {canonical!r} appears twice in the header ({first!r} and {name!r})"
            )
        positions[canonical] = position
    missing = [column for column in REQUIRED_COLUMNS if column not in positions]
    if missing:
        raise MissingColumnsError(source, missing, list(names))
    return HeaderMapping(names=names, positions=positions)


def inspect_source(spark: SparkSession, source: str) -> HeaderMapping:
    """Check that ``source`` exists, is not empty and has the required columns.

    Runs before anything is written, without a Spark job.
    """
    fs = HadoopFS(spark)
    info = fs.info(source)
    if not info.exists:
        raise SourceNotFoundError(source, "file not found")
    if not info.is_file:
        raise SourceNotFoundError(source, "is a directory, not a file")
    if info.size == 0:
        raise EmptySourceError(source, "zero-byte file (not even a header row)")
    head = fs.read_head(source, min(info.size, HEADER_READ_LIMIT))
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A cut in the middle of a multi-byte character at the read limit is fine.
        if exc.start < len(head) - 4:
            raise InvalidHeaderError(source, f"not UTF-8 text (byte {exc.start})") from exc
        text = head[: exc.start].decode("utf-8")
    return dataclasses.replace(parse_header(source, text), source_bytes=info.size)


def partitions_for(source_bytes: int, cores: int, partition_bytes: int | None = None) -> int:
    """How many partitions the records of a ``source_bytes`` file are spread over.

    One per ``partition_bytes`` (default :data:`PARTITION_BYTES`), and at least one per core
    when each core then gets :data:`MIN_BYTES_PER_CORE`: small files stay one partition (and
    one output file).
    """
    by_size = -(-source_bytes // (partition_bytes or PARTITION_BYTES))
    worth_spreading = source_bytes // MIN_BYTES_PER_CORE
    return max(1, by_size, min(cores, worth_spreading))


def read_reviews_csv(
    spark: SparkSession,
    source: str,
    header: HeaderMapping | None = None,
    partitions: int | None = None,
) -> DataFrame:
    """Read one review CSV as :data:`reviews_etl.schemas.RAW_SCHEMA` plus a file-order row number.

    Every field is text (cast later, explicitly, by the cleaning transform). Quoted fields may
    hold commas, doubled quotes and newlines. A record that does not parse into the header's
    number of fields keeps its text in ``_corrupt_record``.

    Quoted newlines force Spark to parse a file as one unsplittable partition, so the parsed
    records are then spread over ``partitions`` (default :func:`partitions_for` the file's
    size and the cores) by a hash of the row number: whatever follows runs on every core.
    """
    mapping = header if header is not None else inspect_source(spark, source)
    if partitions is None:
        partitions = partitions_for(
            mapping.source_bytes or 0, spark.sparkContext.defaultParallelism
        )
    if partitions < 1:
        raise ValueError(f"partitions must be at least 1, got {partitions}")
    parsed = (
        spark.read.schema(mapping.read_schema())
        .option("header", True)
        .option("enforceSchema", True)
        .option("multiLine", True)
        .option("quote", '"')
        .option("escape", '"')
        .option("encoding", "UTF-8")
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT_RECORD)
        .option("ignoreLeadingWhiteSpace", False)
        .option("ignoreTrailingWhiteSpace", False)
        .csv(source)
    )
    present = [F.col(name) for name in RAW_COLUMNS if name in mapping.positions]
    absent = [
        F.lit(None).cast("string").alias(name)
        for name in RAW_COLUMNS
        if name not in mapping.positions
    ]
    # multiLine makes a file one partition, so this id follows file order. It is taken in the
    # same projection that references _corrupt_record and every field, which also keeps
    # Spark's CSV column pruning from hiding malformed records.
    numbered = parsed.select(
        *present,
        *absent,
        F.col(CORRUPT_RECORD),
        F.monotonically_increasing_id().alias(ROW_NUMBER),
    )
    if partitions > 1:
        numbered = numbered.repartition(partitions, F.col(ROW_NUMBER))
    return numbered.select(*RAW_COLUMNS, CORRUPT_RECORD, ROW_NUMBER)
