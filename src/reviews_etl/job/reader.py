"""Reading a review CSV per the input contract: header check first, then every field as text."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame, DataFrameReader, SparkSession
from pyspark.sql import functions as F

from reviews_etl.columns import BATCH, CORRUPT_RECORD, RAW_COLUMNS, ROW_NUMBER
from reviews_etl.errors import SourceNotFoundError
from reviews_etl.job.headers import HeaderMapping, inspect_source
from reviews_etl.job.pieces import cut_into_pieces, partitions_for
from reviews_etl.job.read_errors import GONE, MAX_FIELD_CHARS, MAX_FIELDS, source_read_errors
from reviews_etl.job.storage import literal_read_options
from reviews_etl.paths import absolute_local, is_local

if TYPE_CHECKING:
    from reviews_etl.job.record_cuts import Pieces

# The low 33 bits of monotonically_increasing_id: a row's index within its partition.
_ROW_INDEX_MASK = (1 << 33) - 1
PIECE_NAME_DIGITS = 6  # pieces are 000000.csv, 000001.csv, ... (record_cuts.write_pieces)
_CSV_PRUNING = "spark.sql.csv.parser.columnPruning.enabled"


def read_reviews_csv(
    spark: SparkSession,
    source: str,
    header: HeaderMapping | None = None,
    partitions: int | None = None,
    *,
    batch: int | None = None,
    scratch: str | os.PathLike[str] | None = None,
) -> DataFrame:
    """Read one review CSV as :data:`reviews_etl.job.schemas.RAW_SCHEMA` plus a file-order row
    number (and ``_batch`` = ``batch`` when given, for a union with other sources of one pass).

    Every field is text (cast later, explicitly, by the cleaning transform). Quoted fields may
    hold commas, doubled quotes and newlines. A record that does not parse into the header's
    number of fields keeps its text in ``_corrupt_record``.

    A plain file with no record across lines is parsed in pieces on every core (pieces of
    ``spark.sql.files.maxPartitionBytes``, which the pipeline sets to 16 MiB), on a session
    with CSV column pruning off (:func:`~reviews_etl.job.session.apply_pipeline_settings`). Quoted
    newlines force Spark's one-stream parse, which cannot be split. A local plain file is then
    cut at line breaks outside quoted fields into ``partitions`` pieces (default
    :func:`~reviews_etl.job.pieces.partitions_for` the file's size and the cores), copied into
    ``scratch`` (default: a folder of the session's temporary folder, removed when the session
    stops), and the pieces are parsed at once on every core (:mod:`reviews_etl.job.record_cuts`
    says when a file cannot be cut). Otherwise the one stream's records are spread over
    ``partitions`` by a hash of the row number, so that whatever follows runs on every core.
    """
    mapping = header if header is not None else inspect_source(spark, source)
    partitions = _partition_count(spark, mapping, partitions)
    location = absolute_local(source)
    options = literal_read_options(location)
    multi_line = _parsed_as_one_stream(spark, source, location, mapping, options)
    reader = _csv_reader(spark, mapping, multi_line, options)
    pieces = None
    if multi_line and partitions > 1 and mapping.compression is None and is_local(location):
        pieces = cut_into_pieces(source, location, partitions, scratch)
    numbered = _numbering(mapping, batch)
    index = F.monotonically_increasing_id()
    with source_read_errors(source):  # the file may be gone since inspect_source
        if pieces is not None:
            return _read_pieces(reader, pieces, numbered, index)
        if not multi_line:
            # Each partition is one piece of the file: its start offset plus the row's index
            # within it (the id's low 33 bits) grows with the file and never reaches the next
            # piece's start.
            split = F.input_file_block_start() + index.bitwiseAND(F.lit(_ROW_INDEX_MASK))
            return numbered(reader.csv(location), split)
        # One stream is one partition, so the id follows the file.
        stream = numbered(reader.csv(location), index)
    return stream.repartition(partitions, F.col(ROW_NUMBER)) if partitions > 1 else stream


def _partition_count(spark: SparkSession, mapping: HeaderMapping, partitions: int | None) -> int:
    """``partitions``, by default :func:`partitions_for` the file's size and the cores."""
    if partitions is None:
        partitions = partitions_for(
            mapping.source_bytes or 0, spark.sparkContext.defaultParallelism
        )
    if partitions < 1:
        raise ValueError(f"partitions must be at least 1, got {partitions}")
    return partitions


def _parsed_as_one_stream(
    spark: SparkSession,
    source: str,
    location: str,
    mapping: HeaderMapping,
    options: dict[str, str],
) -> bool:
    """Whether the file must be parsed as one multi-line stream (``multiLine``).

    A plain file whose every line holds an even number of quotes has no record that goes on
    past a line end: Spark may split it and parse the pieces on every core. Otherwise (and for
    compressed data, which cannot be split) it is parsed as one multi-line stream.
    """
    return (
        mapping.compression is not None
        # Split, a short record would pass as whole if a query pruned the CSV columns.
        or str(spark.conf.get(_CSV_PRUNING, "true")).lower() != "false"
        or _records_span_lines(spark, source, location, ",".join(mapping.names), options)
    )


def _csv_reader(
    spark: SparkSession, mapping: HeaderMapping, multi_line: bool, options: dict[str, str]
) -> DataFrameReader:
    """Spark's CSV reader for the file: every field as text, malformed records kept."""
    # One call with every option: each call crosses py4j, which counts in a burst of files.
    return spark.read.schema(mapping.read_schema()).options(
        header=True,
        enforceSchema=True,
        multiLine=multi_line,
        quote='"',
        escape='"',
        encoding="UTF-8",
        mode="PERMISSIVE",
        columnNameOfCorruptRecord=CORRUPT_RECORD,
        ignoreLeadingWhiteSpace=False,
        ignoreTrailingWhiteSpace=False,
        maxCharsPerColumn=MAX_FIELD_CHARS,
        maxColumns=MAX_FIELDS,
        **options,
    )


def _numbering(
    mapping: HeaderMapping, batch: int | None
) -> Callable[[DataFrame, Column], DataFrame]:
    """What turns a parse into the raw contract: every column in contract order (null when
    the file lacks it), ``_corrupt_record``, the given row number and the batch tag."""
    fields = [
        F.col(name) if name in mapping.positions else F.lit(None).cast("string").alias(name)
        for name in RAW_COLUMNS
    ]
    tag = [] if batch is None else [F.lit(batch).alias(BATCH)]

    def numbered(parsed: DataFrame, row_number: Column) -> DataFrame:
        # File order, taken in the same projection that references _corrupt_record and every
        # field (which also keeps Spark's CSV column pruning from hiding malformed records).
        return parsed.select(*fields, F.col(CORRUPT_RECORD), row_number.alias(ROW_NUMBER), *tag)

    return numbered


def _read_pieces(
    reader: DataFrameReader,
    pieces: Pieces,
    numbered: Callable[[DataFrame, Column], DataFrame],
    index: Column,
) -> DataFrame:
    """The records of a file's pieces, numbered in file order."""
    # A piece's rows: its order in the file in the high bits, then the row's index in its
    # partition (where Spark may pack several pieces, the index runs on).
    ordinal = F.substring(F.col("_metadata.file_name"), 1, PIECE_NAME_DIGITS)
    row_number = F.shiftleft(ordinal.cast("long"), 33) + index.bitwiseAND(F.lit(_ROW_INDEX_MASK))
    head = numbered(reader.csv(str(pieces.head)), row_number)
    # The header is the first record of the first piece only.
    rest = numbered(reader.options(header=False).csv(str(pieces.rest)), row_number)
    return head.union(rest)


def _records_span_lines(
    spark: SparkSession, source: str, location: str, header: str, options: dict[str, str]
) -> bool:
    """Whether a record may go on past a line end: a line with an odd number of quotes (a
    quoted field with a line break, or an unbalanced quote) or a second copy of the ``header``
    line (which Spark's split reader would drop as a header). Stops at the first such line.

    A local file is scanned in this process, a chunk at a time, so a line of any length
    costs no JVM memory; a remote one by one parallel Spark pass over its lines.
    """
    if is_local(location):
        try:
            return _local_records_span_lines(location.removeprefix("file:"), header.encode())
        except FileNotFoundError:
            raise SourceNotFoundError(source, GONE) from None
    line = F.col("value")
    quotes = F.length(line) - F.length(F.regexp_replace(line, '"', ""))
    header_again = (F.monotonically_increasing_id() > 0) & (F.rtrim(line) == F.lit(header))
    too_long = F.length(line) > F.lit(MAX_FIELD_CHARS)  # the stream parser refuses those
    with source_read_errors(source):
        lines = spark.read.options(**options).text(location)
        spanning = lines.filter((quotes % 2 == 1) | header_again | too_long)
        return len(spanning.limit(1).collect()) > 0


def _local_records_span_lines(path: str, header: bytes, chunk_bytes: int = 8 << 20) -> bool:
    """:func:`_records_span_lines` for a local file; a line longer than a field may be also
    counts, so that the one-stream parser refuses it as it refuses any over-long field."""
    quotes = length = 0  # of the line read so far
    start = b""  # its first bytes, enough to tell a repeated header
    first_line = True
    with open(path.removeprefix("//"), "rb") as stream:
        while chunk := stream.read(chunk_bytes):
            *complete, rest = chunk.split(b"\n")
            for piece in complete:
                if (quotes + piece.count(b'"')) % 2 or length + len(piece) > MAX_FIELD_CHARS:
                    return True
                line = (start + piece[: len(header) + 2]).rstrip(b"\r")
                if not first_line and line == header:
                    return True
                quotes, length, start, first_line = 0, 0, b"", False
            quotes += rest.count(b'"')
            length += len(rest)
            start = (start + rest)[: len(header) + 2]
    return quotes % 2 == 1 or length > MAX_FIELD_CHARS
