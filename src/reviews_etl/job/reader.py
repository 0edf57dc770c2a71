"""Reading a review CSV per the input contract: header check first, then every field as text."""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pyspark import SparkFiles
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from reviews_etl.columns import (
    BATCH,
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
    UnreadableSourceError,
)
from reviews_etl.job.read_errors import GONE, MAX_FIELD_CHARS, MAX_FIELDS, source_read_errors
from reviews_etl.job.storage import HadoopFS, literal_read_options
from reviews_etl.logs import get_logger, log_event
from reviews_etl.paths import absolute_local, is_local

if TYPE_CHECKING:
    from reviews_etl.job.record_cuts import Pieces

logger = get_logger(__name__)

UTF8_BOM = "\ufeff"
# A header row longer than this is not a review CSV. The encoding check covers these first
# bytes (of the decompressed text); an invalid byte further on is read by Spark as U+FFFD.
HEADER_READ_LIMIT = 1 << 20
# Byte-order marks of encodings other than UTF-8, longest first (UTF-32 LE starts like UTF-16 LE).
FOREIGN_BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32 BE"),
    (b"\xff\xfe\x00\x00", "UTF-32 LE"),
    (b"\xfe\xff", "UTF-16 BE"),
    (b"\xff\xfe", "UTF-16 LE"),
)
# Compressed data under a name without the compression's extension (Spark would read it as
# text): the magic number, what it is, the extension that makes it readable.
COMPRESSED_MAGIC = (
    (rb"\x1f\x8b", "gzip-compressed data", "rename it to end in .gz"),
    (rb"BZh[1-9]1AY&SY", "bzip2-compressed data", "rename it to end in .bz2"),
    (rb"PK\x03\x04", "a zip archive", "unzip it (one CSV file per source)"),
)
# Partition sizing of a compressed file other than gzip (whose trailer holds the text size):
# its text is taken to be this many times the compressed size.
COMPRESSION_RATIO_GUESS = 4
# Parsed records are spread over one partition per this many bytes of CSV (and at least one
# per core once the file is large enough to be worth it). With 64 MiB a 20M-row file (1.48 GB)
# died of OOM in a 2 GiB driver heap while labelling, caching and aggregating a partition;
# 16 MiB ran it through (the 5M-row timings: docs/performance.md).
PARTITION_BYTES = 16 << 20
# The low 33 bits of monotonically_increasing_id: a row's index within its partition.
_ROW_INDEX_MASK = (1 << 33) - 1
PIECE_NAME_DIGITS = 6  # pieces are 000000.csv, 000001.csv, ... (record_cuts.write_pieces)
_CSV_PRUNING = "spark.sql.csv.parser.columnPruning.enabled"
MIN_BYTES_PER_CORE = 8 << 20


@dataclass(frozen=True)
class HeaderMapping:
    """Where each contract column sits in a file's header."""

    names: tuple[str, ...]  # the header as written (BOM removed)
    positions: dict[str, int]  # canonical column -> position
    # Size of the CSV text, when read from storage (of a compressed file: an estimate of the
    # decompressed size); what partitions are sized by.
    source_bytes: int | None = None
    stored_bytes: int | None = None  # size of the file as stored
    compression: str | None = None  # "gzip", "bzip2", ... (by extension), None for plain text

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
    """Check that ``source`` exists, is not empty, is UTF-8 text and has the required columns.

    Runs before anything is written, without a Spark job. A compressed file (``.gz`` and the
    other extensions Hadoop knows, as Spark's reader) is checked on its decompressed text.
    """
    fs = HadoopFS(spark)
    info = fs.info(source)
    if not info.exists:
        raise SourceNotFoundError(source, "file not found")
    if not info.is_file:
        raise SourceNotFoundError(source, "is a directory, not a file")
    if info.size == 0:
        raise EmptySourceError(source, "zero-byte file (not even a header row)")
    compression = fs.compression(source)
    if compression is None:
        head = fs.read_head(source, min(info.size, HEADER_READ_LIMIT))
        _refuse_compressed_data(source, head)
    else:
        try:
            head = fs.read_head(source, HEADER_READ_LIMIT, decompress=True)
        except Exception as exc:  # py4j: the codec's IOException
            raise UnreadableSourceError(
                source, f"damaged {compression} data ({_first_line(exc)})"
            ) from None
        if not head:
            raise EmptySourceError(source, f"{compression} file of no text (not even a header)")
    # Whole when shorter than asked for, or when it is the whole (uncompressed) file.
    whole = len(head) < HEADER_READ_LIMIT or (compression is None and len(head) == info.size)
    text = decode_head(source, head, complete=whole)
    return dataclasses.replace(
        parse_header(source, text),
        source_bytes=_text_bytes(fs, source, info.size, compression),
        stored_bytes=info.size,
        compression=compression,
    )


def decode_head(source: str, head: bytes, *, complete: bool = True) -> str:
    """The first bytes of a file as UTF-8 text, or :class:`UnreadableSourceError` naming the
    encoding its byte-order mark shows, or the offset of the first byte that is not UTF-8.

    ``complete`` is False when ``head`` was cut at a read limit: a multi-byte character cut
    there is fine.
    """
    for bom, encoding in FOREIGN_BOMS:
        if head.startswith(bom):
            raise UnreadableSourceError(
                source,
                f"{encoding} text (byte-order mark {bom.hex(' ')}), not UTF-8: "
                "save the file as UTF-8",
            )
    nul = head.split(b"\n", 1)[0].find(b"\x00")
    if nul >= 0:
        raise UnreadableSourceError(
            source,
            f"NUL byte at byte offset {nul} of the header row: "
            "UTF-16 or UTF-32 text without a byte-order mark, or binary data, not UTF-8",
        )
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not complete and exc.start >= len(head) - 3 and exc.reason == "unexpected end of data":
            return head[: exc.start].decode("utf-8")
        raise UnreadableSourceError(
            source,
            f"not UTF-8 text: byte 0x{head[exc.start]:02x} at byte offset {exc.start} "
            f"({exc.reason})",
        ) from None


def _refuse_compressed_data(source: str, head: bytes) -> None:
    for magic, what, fix in COMPRESSED_MAGIC:
        if re.match(magic, head):
            raise UnreadableSourceError(
                source, f"{what} in a file whose name has no such extension: {fix}"
            )


def _text_bytes(fs: HadoopFS, source: str, stored: int, compression: str | None) -> int:
    """Size of the CSV text: the file's, or an estimate for a compressed one (partition sizing
    only). gzip ends with the text size modulo 2**32 (of its last member)."""
    if compression is None:
        return stored
    if compression != "gzip" or stored < 18:
        return stored * COMPRESSION_RATIO_GUESS
    size = int.from_bytes(fs.read_tail(source, 4), "little")
    # Text over 4 GiB wrapped around: gzip never shrinks text below ~99% of its size.
    while size < stored - stored // 100 - 64:
        size += 1 << 32
    return max(size, stored)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


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
    :func:`partitions_for` the file's size and the cores), copied into ``scratch`` (default: a
    folder of the session's temporary folder, removed when the session stops), and the pieces
    are parsed at once on every core (:mod:`reviews_etl.job.record_cuts` says when a file cannot be
    cut). Otherwise the one stream's records are spread over ``partitions`` by a hash of the
    row number, so that whatever follows runs on every core.
    """
    mapping = header if header is not None else inspect_source(spark, source)
    if partitions is None:
        partitions = partitions_for(
            mapping.source_bytes or 0, spark.sparkContext.defaultParallelism
        )
    if partitions < 1:
        raise ValueError(f"partitions must be at least 1, got {partitions}")
    location = absolute_local(source)
    options = literal_read_options(location)
    # A plain file whose every line holds an even number of quotes has no record that goes
    # on past a line end: Spark may split it and parse the pieces on every core. Otherwise
    # (and for compressed data, which cannot be split) it is parsed as one multi-line stream.
    multi_line = (
        mapping.compression is not None
        # Split, a short record would pass as whole if a query pruned the CSV columns.
        or str(spark.conf.get(_CSV_PRUNING, "true")).lower() != "false"
        or _records_span_lines(spark, source, location, mapping, options)
    )
    # One call with every option: each call crosses py4j, which counts in a burst of files.
    reader = spark.read.schema(mapping.read_schema()).options(
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
    pieces = None
    if multi_line and partitions > 1 and mapping.compression is None and is_local(location):
        pieces = _cut_into_pieces(source, location, partitions, scratch)
    fields = [
        F.col(name) if name in mapping.positions else F.lit(None).cast("string").alias(name)
        for name in RAW_COLUMNS
    ]
    tag = [] if batch is None else [F.lit(batch).alias(BATCH)]

    def numbered(parsed: DataFrame, row_number: Column) -> DataFrame:
        # File order, taken in the same projection that references _corrupt_record and every
        # field (which also keeps Spark's CSV column pruning from hiding malformed records).
        return parsed.select(*fields, F.col(CORRUPT_RECORD), row_number.alias(ROW_NUMBER), *tag)

    index = F.monotonically_increasing_id()
    with source_read_errors(source):  # the file may be gone since inspect_source
        if pieces is not None:
            # A piece's rows: its order in the file in the high bits, then the row's index in
            # its partition (where Spark may pack several pieces, the index runs on).
            ordinal = F.substring(F.col("_metadata.file_name"), 1, PIECE_NAME_DIGITS)
            row_number = F.shiftleft(ordinal.cast("long"), 33) + index.bitwiseAND(
                F.lit(_ROW_INDEX_MASK)
            )
            head = numbered(reader.csv(str(pieces.head)), row_number)
            # The header is the first record of the first piece only.
            rest = numbered(reader.options(header=False).csv(str(pieces.rest)), row_number)
            return head.union(rest)
        if not multi_line:
            # Each partition is one piece of the file: its start offset plus the row's index
            # within it (the id's low 33 bits) grows with the file and never reaches the next
            # piece's start.
            split = F.input_file_block_start() + index.bitwiseAND(F.lit(_ROW_INDEX_MASK))
            return numbered(reader.csv(location), split)
        # One stream is one partition, so the id follows the file.
        stream = numbered(reader.csv(location), index)
    return stream.repartition(partitions, F.col(ROW_NUMBER)) if partitions > 1 else stream


def _cut_into_pieces(
    source: str, location: str, partitions: int, scratch: str | os.PathLike[str] | None
) -> Pieces | None:
    """The pieces of a local file with records across lines, copied into a new folder under
    ``scratch``; None when it cannot be cut, or cannot be copied there (no room, a file
    system error: logged), and it is then parsed as one stream."""
    try:
        # numpy comes with the spark extra; a bare install on a Spark of its own may lack it.
        from reviews_etl.job.record_cuts import has_room, record_cuts, write_pieces
    except ImportError as exc:
        reason = f"{exc} (pip install numpy)"
        log_event(logger, "source_not_cut", level=logging.WARNING, source=source, reason=reason)
        return None
    path = location.removeprefix("file:").removeprefix("//")
    root = Path(scratch if scratch is not None else _session_scratch())
    folder: Path | None = None
    try:
        size = os.path.getsize(path)
        root.mkdir(parents=True, exist_ok=True)
        if not has_room(root, size):
            log_event(logger, "source_not_cut", source=source, reason=f"no room in {root}")
            return None
        cuts = record_cuts(path, partitions)
        if cuts is None:
            return None
        folder = Path(tempfile.mkdtemp(prefix="pieces-", dir=root))
        return write_pieces(path, cuts, folder)
    except FileNotFoundError as exc:
        if exc.filename is not None and os.path.abspath(exc.filename) == os.path.abspath(path):
            raise SourceNotFoundError(source, GONE) from None
        reason = f"{type(exc).__name__}: {exc}"
    except OSError as exc:
        reason = f"{type(exc).__name__}: {exc}"
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
    log_event(logger, "source_not_cut", level=logging.WARNING, source=source, reason=reason)
    return None


def _session_scratch() -> str:
    """A folder of the session's temporary folder, which Spark removes when it stops."""
    return os.path.join(SparkFiles.getRootDirectory(), "reviews-etl-pieces")


@contextmanager
def scratch_folder() -> Iterator[Path]:
    """A folder for the pieces of the files read in the block (``scratch`` of
    :func:`read_reviews_csv`), removed after it: use it up before the block ends."""
    root = Path(_session_scratch())
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=root))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _records_span_lines(
    spark: SparkSession,
    source: str,
    location: str,
    mapping: HeaderMapping,
    options: dict[str, str],
) -> bool:
    """Whether a record may go on past a line end: a line with an odd number of quotes (a
    quoted field with a line break, or an unbalanced quote) or a second copy of the header
    line (which Spark's split reader would drop as a header). Stops at the first such line.

    A local file is scanned in this process, a chunk at a time, so a line of any length
    costs no JVM memory; a remote one by one parallel Spark pass over its lines.
    """
    header = ",".join(mapping.names)
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
