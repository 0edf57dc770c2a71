"""The checks of a source before any Spark job: it exists, holds UTF-8 text (compressed or
not) and a header with every required column, once each."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from dataclasses import dataclass

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from reviews_etl.columns import COLUMN_ALIASES, CORRUPT_RECORD, RAW_COLUMNS, REQUIRED_COLUMNS
from reviews_etl.errors import (
    EmptySourceError,
    InvalidHeaderError,
    MissingColumnsError,
    SourceNotFoundError,
    UnreadableSourceError,
    first_line,
)
from reviews_etl.job.storage import HadoopFS

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
                source,
                f"damaged {compression} data ({first_line(exc, limit=200) or type(exc).__name__})",
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
