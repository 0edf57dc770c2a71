"""Spark failing to read a source, told as one line naming the file: the file vanished, a
field or record over the reader's limits, damaged compressed data. Spark reads lazily, so
the failure surfaces in whatever action runs first; no Java trace reaches the user."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from reviews_etl.errors import ReviewsEtlError, SourceNotFoundError, UnreadableSourceError
from reviews_etl.paths import absolute_local

# Limits of Spark's CSV parser, explicit (reviews_etl.job.reader passes them on). A longer field
# or a record with more fields fails the read, which :func:`source_read_errors` turns into an
# UnreadableSourceError; without the field limit one huge field runs the driver out of memory
# (docs/data-contract.md). 20480 fields is Spark's own default: a higher limit is allocated up
# front for every file read.
MAX_FIELD_CHARS = 1 << 24
MAX_FIELDS = 20480
GONE = "no longer exists: deleted or replaced after the run started"


@contextmanager
def source_read_errors(*sources: str) -> Iterator[None]:
    """Turn Spark failing to read one of ``sources`` into a one-line error naming the file
    (of several read in one pass: the one Spark's message names, else the first).

    Spark reads lazily: wrap every action over a DataFrame of :func:`read_reviews_csv` (the
    pipeline wraps a whole batch). Translated, with the Java trace dropped:

    - the file is gone (deleted or replaced since the run started):
      :class:`~reviews_etl.errors.SourceNotFoundError`;
    - a field over :data:`MAX_FIELD_CHARS` characters, a record over :data:`MAX_FIELDS`
      fields, damaged compressed data: :class:`~reviews_etl.errors.UnreadableSourceError`.

    Anything else propagates unchanged.
    """
    try:
        yield
    except ReviewsEtlError:
        raise
    except Exception as exc:
        translated = read_error_for(_culprit(sources, exc), exc)
        if translated is None:
            raise
        raise translated from None


def _culprit(sources: tuple[str, ...], exc: BaseException) -> str:
    text = "\n".join(_java_messages(exc))
    named = [source for source in sources if _location(source) in text]
    return (named or list(sources))[0]


def _location(source: str) -> str:
    return absolute_local(source).split("://", 1)[-1].removeprefix("file:")


def read_error_for(source: str, exc: BaseException) -> ReviewsEtlError | None:
    """The error :func:`source_read_errors` raises for ``exc``, or None if it is not one."""
    text = "\n".join(_java_messages(exc))
    if "TextParsingException" in text:
        if "exceeds the maximum number of characters" in text:
            return UnreadableSourceError(
                source,
                f"a field longer than {MAX_FIELD_CHARS:,} characters (the reader's limit): "
                "the file is refused",
            )
        if "ArrayIndexOutOfBounds" in text or "exceeded limit" in text:
            return UnreadableSourceError(
                source,
                f"a record of more than {MAX_FIELDS:,} fields (the reader's limit): "
                "the file is refused",
            )
    if any(marker in text for marker in _COMPRESSED_DAMAGE):
        return UnreadableSourceError(source, "damaged or truncated compressed data")
    if _location(source) in text and any(marker in text for marker in _NOT_FOUND):
        return SourceNotFoundError(source, GONE)
    return None


_NOT_FOUND = (
    "FileNotFoundException",
    "PATH_NOT_FOUND",
    "FILE_NOT_EXIST",
    "does not exist",
    "No such file or directory",
)
_COMPRESSED_DAMAGE = (
    "Unexpected end of input stream",
    "Not in GZIP format",
    "invalid block type",
    "invalid stored block lengths",
    "incorrect header check",
)


def _java_messages(exc: BaseException) -> list[str]:
    """The Python message of ``exc`` and the messages of its Java exception and causes."""
    messages = [str(exc)]
    throwable = getattr(exc, "java_exception", None) or getattr(exc, "_origin", None)
    for _ in range(20):
        if throwable is None:
            break
        try:
            messages.append(str(throwable.toString()))
            throwable = throwable.getCause()
        except Exception:  # a py4j failure: keep what was read
            break
    return messages
