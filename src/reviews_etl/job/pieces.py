"""Cutting a large local file into pieces parsed at once: how many partitions a file gets, the
scratch folder the pieces go to, and the cut and copy (the scan itself is
:mod:`reviews_etl.job.record_cuts`, which needs no Spark)."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pyspark import SparkFiles

from reviews_etl.errors import SourceNotFoundError
from reviews_etl.job.read_errors import GONE
from reviews_etl.logs import get_logger, log_event

if TYPE_CHECKING:
    from reviews_etl.job.record_cuts import Pieces

logger = get_logger(__name__)

# Parsed records are spread over one partition per this many bytes of CSV (and at least one
# per core once the file is large enough to be worth it). Small enough for a 2 GiB driver heap
# to label, cache and aggregate a partition on every core (the sizes tried: docs/performance.md).
PARTITION_BYTES = 16 << 20
MIN_BYTES_PER_CORE = 8 << 20


def partitions_for(source_bytes: int, cores: int, partition_bytes: int | None = None) -> int:
    """How many partitions the records of a ``source_bytes`` file are spread over.

    One per ``partition_bytes`` (default :data:`PARTITION_BYTES`), and at least one per core
    when each core then gets :data:`MIN_BYTES_PER_CORE`: small files stay one partition (and
    one output file).
    """
    by_size = -(-source_bytes // (partition_bytes or PARTITION_BYTES))
    worth_spreading = source_bytes // MIN_BYTES_PER_CORE
    return max(1, by_size, min(cores, worth_spreading))


def cut_into_pieces(
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
    :func:`~reviews_etl.job.reader.read_reviews_csv`), removed after it: use it up before the
    block ends."""
    root = Path(_session_scratch())
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=root))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
