"""Where a local CSV file whose quoted fields hold line breaks can be cut into pieces that Spark's
one-stream (``multiLine``) parser reads exactly as it reads the whole file. No Spark.

A cut is made just after a line break that lies outside every quoted field. Counting quotes
tells where those are, but only if every quote in the file is one RFC 4180 allows: one that
opens a field (after a comma, a line break or at the start of the file), closes one (before a
comma, a line break or at the end of the file), or is half of a doubled quote. The parser
reads a quote anywhere else (``5" screen``, ``"a"b``) as text, and from there on counting
would disagree with it, so such a file gets no cuts, nor does one holding a carriage return
(the parser detects the line separator per stream, and a piece could detect another one).

The scan maps the file and looks at each chunk on its own thread (numpy releases the GIL), so
it runs on every core.
"""

from __future__ import annotations

import functools
import itertools
import mmap
import os
import shutil
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

CHUNK_BYTES = 32 << 20
SCAN_THREADS = 4
_QUOTE, _NEWLINE = ord('"'), ord("\n")
# The bytes a quote may follow when it opens a field or precede when it closes one (a quote
# stands for the other half of a doubled quote).
_NEIGHBOURS = np.zeros(256, dtype=bool)
_NEIGHBOURS[[ord(","), _NEWLINE, _QUOTE]] = True


@dataclass(frozen=True)
class _Chunk:
    """What one chunk contributes, for each parity of the quotes before it (0: even)."""

    quotes: int
    irregular: tuple[bool, bool]  # a quote RFC 4180 does not allow, or a carriage return
    # Per multiple of the piece size in the chunk: the cut (just after the first line break
    # outside quotes at or after it), or None if there is none before the chunk's end.
    cuts: tuple[tuple[int | None, ...], tuple[int | None, ...]]
    first_cut: tuple[int | None, int | None]  # the first such cut from the chunk's start


def record_cuts(path: str | os.PathLike[str], pieces: int) -> list[int] | None:
    """Offsets (after 0) at which the file may be cut into about ``pieces`` pieces of whole
    records, or None when it cannot be cut safely: a carriage return, a quote RFC 4180 does
    not allow, or fewer than two pieces found (one record longer than the rest of the file).
    """
    size = os.path.getsize(path)
    if pieces < 2 or size == 0:
        return None
    piece_bytes = -(-size // pieces)
    with open(path, "rb") as stream, mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        chunks = _scan_all(mm, piece_bytes)
    return _combine(chunks, size)


def _scan_all(mm: mmap.mmap, piece_bytes: int) -> list[_Chunk]:
    data = np.frombuffer(mm, dtype=np.uint8)
    try:
        scan = functools.partial(_scan, mm, data, piece_bytes=piece_bytes)
        with ThreadPoolExecutor(max_workers=SCAN_THREADS) as pool:
            return list(pool.map(scan, range(0, len(data), CHUNK_BYTES)))
    finally:
        del data  # the map cannot close while an array still points into it


def _scan(mm: mmap.mmap, data: npt.NDArray[np.uint8], start: int, *, piece_bytes: int) -> _Chunk:
    size = len(data)
    end = min(start + CHUNK_BYTES, size)
    quotes = np.flatnonzero(data[start:end] == _QUOTE) + start
    before = np.ones(len(quotes), dtype=bool)
    inner = quotes > 0
    before[inner] = _NEIGHBOURS[data[quotes[inner] - 1]]
    after = np.ones(len(quotes), dtype=bool)
    inner = quotes < size - 1
    after[inner] = _NEIGHBOURS[data[quotes[inner] + 1]]
    carriage_return = mm.find(b"\r", start, end) >= 0
    # With an even number of quotes before the chunk, its 1st, 3rd, ... quotes open a field.
    irregular = (
        carriage_return or not (before[0::2].all() and after[1::2].all()),
        carriage_return or not (before[1::2].all() and after[0::2].all()),
    )
    first_target = max(-(-start // piece_bytes), 1) * piece_bytes  # never a cut at 0
    targets = range(first_target, end, piece_bytes)
    cuts = tuple(tuple(_cut(mm, quotes, t, end, parity) for t in targets) for parity in (0, 1))
    first_cut = (_cut(mm, quotes, start, end, 0), _cut(mm, quotes, start, end, 1))
    # Drop the chunk's pages from this process (the page cache keeps them): otherwise its
    # resident memory grows by the size of the file.
    aligned = start - start % mmap.PAGESIZE
    mm.madvise(mmap.MADV_DONTNEED, aligned, end - aligned)
    return _Chunk(len(quotes), irregular, (cuts[0], cuts[1]), first_cut)


def _cut(
    mm: mmap.mmap, quotes: npt.NDArray[np.intp], offset: int, end: int, parity: int
) -> int | None:
    """Just after the first line break in [offset, end) with an even number of quotes before
    it, given ``parity`` for the quotes before the chunk."""
    while (newline := mm.find(b"\n", offset, end)) >= 0:
        if (parity + int(np.searchsorted(quotes, newline))) % 2 == 0:
            return newline + 1
        offset = newline + 1
    return None


def _combine(chunks: Sequence[_Chunk], size: int) -> list[int] | None:
    cuts: list[int] = []
    parity, waiting = 0, False  # waiting: a piece's end not found in the chunk it falls in
    for chunk in chunks:
        if chunk.irregular[parity]:
            return None
        found = list(chunk.cuts[parity])
        if waiting:
            found.insert(0, chunk.first_cut[parity])
        for cut in found:
            waiting = cut is None
            if cut is not None and 0 < cut < size and (not cuts or cut > cuts[-1]):
                cuts.append(cut)
        parity = (parity + chunk.quotes) % 2
    return cuts or None


@dataclass(frozen=True)
class Pieces:
    """Folders of a file's pieces, each named by its order in the file (``000000.csv``, ...):
    the first piece, which holds the header, alone in ``head``, the others in ``rest``."""

    head: Path
    rest: Path


def write_pieces(source: str | os.PathLike[str], cuts: Sequence[int], folder: Path) -> Pieces:
    """Copy the pieces of ``source`` between ``cuts`` into ``folder`` (the kernel copies the
    bytes where it can)."""
    size = os.path.getsize(source)
    bounds = [0, *cuts, size]
    pieces = Pieces(head=folder / "head", rest=folder / "rest")
    pieces.head.mkdir(parents=True)
    pieces.rest.mkdir(parents=True)
    with open(source, "rb") as src:
        for ordinal, (start, end) in enumerate(itertools.pairwise(bounds)):
            piece = (pieces.rest if ordinal else pieces.head) / f"{ordinal:06d}.csv"
            with open(piece, "wb") as dst:
                _copy_range(src, dst, start, end - start)
    return pieces


def _copy_range(src: BinaryIO, dst: BinaryIO, offset: int, length: int) -> None:
    try:
        while length > 0:
            copied = os.copy_file_range(src.fileno(), dst.fileno(), length, offset)
            if copied == 0:
                raise OSError("copy_file_range copied nothing")
            offset, length = offset + copied, length - copied
    except (AttributeError, OSError):  # not Linux, or a file system that refuses it
        src.seek(offset)
        while length > 0:
            block = src.read(min(length, 8 << 20))
            if not block:
                raise EOFError(f"the file ended {length} bytes early") from None
            dst.write(block)
            length -= len(block)


def has_room(folder: Path, needed: int) -> bool:
    """Whether ``folder``'s file system can take ``needed`` bytes with a tenth to spare."""
    return shutil.disk_usage(folder).free > needed + needed // 10
