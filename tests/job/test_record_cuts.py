"""Cutting a CSV file with quoted line breaks into pieces of whole records (no Spark).

The oracle is Python's ``csv`` module: the pieces, each parsed alone, must give the records of
the whole file in order; and a plain loop over the bytes says where the record boundaries are.
"""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviews_etl.job import record_cuts as rc

HEADER = ["review_id", "product_id", "customer_id", "rating", "review_date", "review_text"]


def csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def boundaries(data: bytes) -> list[int]:
    """Offsets just after a line break outside quotes: a byte loop, independent of numpy."""
    inside, found = False, []
    for offset, byte in enumerate(data):
        if byte == ord('"'):
            inside = not inside
        elif byte == ord("\n") and not inside:
            found.append(offset + 1)
    return found


def records(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(), newline="")))


def check_cuts(data: bytes, cuts: list[int], pieces: int) -> None:
    """Cuts are record boundaries, the first at or after each multiple of the piece size,
    and the pieces parsed alone give the file's records."""
    size = len(data)
    piece = -(-size // pieces)
    allowed = [b for b in boundaries(data) if 0 < b < size]
    # The first boundary after a line break at or after each multiple of the piece size.
    targets = range(piece, size, piece)
    expected = sorted({next((b for b in allowed if b > t), size) for t in targets})
    assert cuts == [c for c in expected if c < size]
    bounds = [0, *cuts, size]
    parsed = [row for a, b in itertools.pairwise(bounds) for row in records(data[a:b])]
    assert parsed == records(data)


def test_cuts_fall_after_line_breaks_outside_quoted_fields(tmp_path: Path) -> None:
    text = 'line one, "{}"\nline two\n\nfour'
    rows = [[f"r{i}", "p", "c", "5", "2024-01-01", text.format(i)] for i in range(60)]
    data = csv_bytes(rows)
    path = tmp_path / "a.csv"
    path.write_bytes(data)
    cuts = rc.record_cuts(path, 7)
    assert cuts is not None
    assert len(cuts) == 6
    check_cuts(data, cuts, 7)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('r1,p,c,5,2024-01-01,"two\r\nlines"\n', "a carriage return"),
        ('r1,p,c,5,2024-01-01,a 5" screen\nr2,p,c,5,2024-01-01,"x\ny"\n', "a quote inside a field"),
        ('r1,p,c,5,2024-01-01,"a"b\nr2,p,c,5,2024-01-01,"x\ny"\n', "text after a closing quote"),
        ('r1,p,c,5,2024-01-01, "x\ny"\n', "a quote after a space"),
    ],
)
def test_a_file_whose_quotes_counting_cannot_follow_is_not_cut(
    tmp_path: Path, text: str, why: str
) -> None:
    body = "".join(f'r{i},p,c,5,2024-01-01,"a\nb"\n' for i in range(50))
    path = tmp_path / "a.csv"
    path.write_bytes((",".join(HEADER) + "\n" + body + text + body).encode())
    assert rc.record_cuts(path, 4) is None, why


def test_one_record_longer_than_the_rest_gives_no_cut(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(csv_bytes([["r1", "p", "c", "5", "2024-01-01", "x\n" * 500]]))
    assert rc.record_cuts(path, 4) is None
    assert rc.record_cuts(path, 1) is None  # nothing to cut into


def test_an_unterminated_quote_runs_to_the_end_of_the_file(tmp_path: Path) -> None:
    rows = "".join(f'r{i},p,c,5,2024-01-01,"a\nb"\n' for i in range(40))
    tail = 'r40,p,c,5,2024-01-01,"never\nclosed\n' + "more text\n" * 40
    data = (",".join(HEADER) + "\n" + rows + tail).encode()
    path = tmp_path / "a.csv"
    path.write_bytes(data)
    cuts = rc.record_cuts(path, 8)
    assert cuts is not None
    opened = data.index(b'"never')  # the parser reads from there to the end as one field
    assert cuts
    assert all(cut < opened for cut in cuts)


def test_the_pieces_are_written_in_order_with_the_header_alone(tmp_path: Path) -> None:
    data = csv_bytes([[f"r{i}", "p", "c", "5", "2024-01-01", "a\nb"] for i in range(30)])
    source = tmp_path / "a.csv"
    source.write_bytes(data)
    cuts = rc.record_cuts(source, 3)
    assert cuts is not None
    pieces = rc.write_pieces(source, cuts, tmp_path / "pieces")
    assert [p.name for p in pieces.head.iterdir()] == ["000000.csv"]
    rest = sorted(pieces.rest.iterdir())
    assert [p.name for p in rest] == [f"{i:06d}.csv" for i in range(1, len(cuts) + 1)]
    assert b"".join(p.read_bytes() for p in [*pieces.head.iterdir(), *rest]) == data


FIELD = st.text(alphabet=st.sampled_from('ab ,"\n\u00e9'), max_size=12)
ROWS = st.lists(st.lists(FIELD, min_size=1, max_size=6), min_size=1, max_size=40)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=ROWS, pieces=st.integers(2, 12), chunk=st.integers(1, 64))
def test_any_valid_csv_is_cut_at_record_boundaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: list[list[str]], pieces: int, chunk: int
) -> None:
    # Tiny chunks: quotes, line breaks and piece ends fall on every side of a chunk's edge.
    monkeypatch.setattr(rc, "CHUNK_BYTES", chunk)
    data = csv_bytes(rows)
    path = tmp_path / "p.csv"
    path.write_bytes(data)
    cuts = rc.record_cuts(path, pieces)
    if cuts is None:  # only when no boundary lies past the first piece size
        piece = -(-len(data) // pieces)
        assert not [b for b in boundaries(data) if piece < b < len(data)]
    else:
        check_cuts(data, cuts, pieces)
