"""The input contract: header rules, quoting, BOM, malformed records, refused files."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pyspark")

from pyspark.sql import functions as F

from reviews_etl import read_reviews_csv, validate_reviews
from reviews_etl.errors import (
    EmptySourceError,
    InvalidHeaderError,
    MissingColumnsError,
    SourceNotFoundError,
    UnreadableSourceError,
)
from reviews_etl.job.headers import decode_head, inspect_source, parse_header
from reviews_etl.job.pieces import partitions_for
from reviews_etl.job.session import apply_pipeline_settings

HEADER = "review_id,product_id,customer_id,rating,review_date,review_text\n"


def rows_of(spark, path):
    return [r.asDict() for r in read_reviews_csv(spark, path).orderBy("_row_number").collect()]


def records(rows):
    """Rows without their row number, which only orders them (its values differ between a
    one-stream parse and pieces)."""
    return [{k: v for k, v in row.items() if k != "_row_number"} for row in rows]


def test_quoted_fields_hold_commas_doubled_quotes_and_newlines(spark, write_csv) -> None:
    path = write_csv(HEADER + '1,p,c,5,2024-01-01,"Great, really ""great""\nsecond line"\n')
    [row] = rows_of(spark, path)
    assert row["review_text"] == 'Great, really "great"\nsecond line'
    assert row["_corrupt_record"] is None


def test_bom_header_case_alias_and_extra_columns(spark, write_csv) -> None:
    content = (
        "\ufeff Review_ID ,PRODUCT_ID,extra,Customer_Id,Star_Rating,Review_Date\n"
        "1,p,x,c,4,2024-01-01\n"
    )
    path = write_csv(content.encode("utf-8"))
    [row] = rows_of(spark, path)
    assert (row["review_id"], row["customer_id"], row["rating"]) == ("1", "c", "4")
    assert row["review_text"] is None  # optional column absent
    assert "extra" not in row


def test_crlf_line_endings_and_blank_lines_are_not_records(spark, write_csv) -> None:
    path = write_csv(
        HEADER.replace("\n", "\r\n") + "1,p,c,5,2024-01-01,a\r\n\r\n\r\n2,p,c,4,2024-01-02,b\r\n"
    )
    got = rows_of(spark, path)
    assert [(r["review_id"], r["review_text"]) for r in got] == [("1", "a"), ("2", "b")]


def test_wrong_field_counts_are_captured_as_malformed(spark, write_csv) -> None:
    path = write_csv(HEADER + "auto_comment\n1,p,c,5,2024-01-01,a,surplus\n2,p,c,4,2024-01-02,b\n")
    got = rows_of(spark, path)
    assert [r["_corrupt_record"] for r in got] == [
        "auto_comment",
        "1,p,c,5,2024-01-01,a,surplus",
        None,
    ]


def test_malformed_rows_are_counted_even_when_a_query_needs_few_columns(spark, write_csv) -> None:
    """Spark's CSV column pruning must not let a short record pass as whole."""
    path = write_csv(HEADER + "auto_comment\n1,p,c,5,2024-01-01,a\nx,y\n")
    validated = read_reviews_csv(spark, path).transform(validate_reviews)
    counts = {r[0]: r[1] for r in validated.groupBy("reject_reason").count().collect()}
    assert counts == {"malformed_row": 2, None: 1}
    assert (
        validated.where(F.col("reject_reason") == "malformed_row").select("review_id").count() == 2
    )


def test_missing_columns_are_named(spark, write_csv) -> None:
    path = write_csv("review_id,product,customer_id,review_date\n1,p,c,2024-01-01\n")
    with pytest.raises(MissingColumnsError) as info:
        inspect_source(spark, path)
    assert info.value.missing == ["product_id", "rating"]
    assert path in str(info.value)
    assert "product_id, rating" in str(info.value)


def test_a_column_given_twice_is_refused(spark, write_csv) -> None:
    path = write_csv("review_id,product_id,customer_id,rating,star_rating,review_date\n")
    with pytest.raises(InvalidHeaderError, match="appears twice"):
        inspect_source(spark, path)


def test_zero_byte_and_missing_files_are_refused(spark, write_csv, tmp_path) -> None:
    with pytest.raises(EmptySourceError, match="zero-byte"):
        inspect_source(spark, write_csv(b""))
    with pytest.raises(SourceNotFoundError, match="file not found"):
        inspect_source(spark, str(tmp_path / "nope.csv"))
    with pytest.raises(SourceNotFoundError, match="directory"):
        inspect_source(spark, str(tmp_path))
    with pytest.raises(EmptySourceError, match="blank lines"):
        inspect_source(spark, write_csv("\n\n", name="blank.csv"))


def test_header_only_file_is_an_empty_batch(spark, write_csv) -> None:
    assert rows_of(spark, write_csv(HEADER)) == []


def test_parse_header_handles_quoted_names() -> None:
    mapping = parse_header(
        "f.csv", '"review_id","product_id","customer_id","rating","review_date"\n'
    )
    assert mapping.positions == {
        "review_id": 0,
        "product_id": 1,
        "customer_id": 2,
        "rating": 3,
        "review_date": 4,
    }


def test_records_are_spread_over_partitions_keeping_file_order(spark, write_csv) -> None:
    lines = [f'{i},p,c,5,2024-01-01,"line one\nline two of {i}"\n' for i in range(40)]
    path = write_csv(HEADER + "".join(lines) + "1,p,c,4,2024-01-02,a repeated id\n")
    one = read_reviews_csv(spark, path, partitions=1)
    spread = read_reviews_csv(spark, path, partitions=3)
    assert (one.rdd.getNumPartitions(), spread.rdd.getNumPartitions()) == (1, 3)
    ordered = [r.asDict() for r in spread.orderBy("_row_number").collect()]
    assert records(ordered) == records(rows_of(spark, path))
    assert [r["review_id"] for r in ordered] == [str(i) for i in range(40)] + ["1"]
    assert ordered[7]["review_text"] == "line one\nline two of 7"
    # The later "1" is the duplicate whatever the partitioning.
    last = spread.transform(validate_reviews).where(F.col("review_id") == "1")
    assert sorted(r["reject_reason"] or "" for r in last.collect()) == ["", "duplicate_review_id"]


def test_partitions_for_sizes_them_to_the_file_and_cores() -> None:
    mib = 1 << 20
    assert partitions_for(0, 4) == 1
    assert partitions_for(15_000, 4) == 1  # a small file stays one partition and one file
    assert partitions_for(20 * mib, 4) == 2  # 8 MiB per core at least
    assert partitions_for(24 * mib, 4) == 3  # one per core while each gets 8 MiB
    assert partitions_for(72 * mib, 4) == 5  # one per 16 MiB
    assert partitions_for(362 * mib, 4) == 23
    assert partitions_for(20 * mib, 16) == 2


def test_partitions_must_be_positive(spark, write_csv) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        read_reviews_csv(spark, write_csv(HEADER), partitions=0)


def test_decode_head_accepts_utf8_and_names_what_it_refuses() -> None:
    assert decode_head("f.csv", "\ufeffid,é\n".encode()) == "\ufeffid,é\n"
    cases = [
        (b"\xff\xfei\x00d\x00", "f.csv: UTF-16 LE text (byte-order mark ff fe), not UTF-8"),
        (b"\xfe\xff\x00i\x00d", "f.csv: UTF-16 BE text (byte-order mark fe ff)"),
        (b"\xff\xfe\x00\x00i\x00\x00\x00", "f.csv: UTF-32 LE text"),
        (b"\x00\x00\xfe\xff\x00\x00\x00i", "f.csv: UTF-32 BE text"),
        (b"id,caf\xe9\n", "f.csv: not UTF-8 text: byte 0xe9 at byte offset 6"),
        (b"id\nx\x80", "f.csv: not UTF-8 text: byte 0x80 at byte offset 4 (invalid start byte)"),
    ]
    for head, message in cases:
        with pytest.raises(UnreadableSourceError) as info:
            decode_head("f.csv", head)
        assert str(info.value).startswith(message)
    # A character cut at the read limit is dropped, not refused, unless the text is whole.
    assert decode_head("f.csv", "id,€".encode()[:-1], complete=False) == "id,"
    with pytest.raises(UnreadableSourceError, match="unexpected end of data"):
        decode_head("f.csv", "id,€".encode()[:-1])


def _pieces(spark) -> None:
    """The pipeline's settings, with plain files split into pieces of 2 KiB, so a small file
    is parsed by many tasks."""
    apply_pipeline_settings(spark)
    spark.conf.set("spark.sql.files.maxPartitionBytes", "2048")
    spark.conf.set("spark.sql.files.openCostInBytes", "0")


def test_a_file_without_records_across_lines_is_parsed_in_pieces_in_file_order(
    spark, write_csv
) -> None:
    _pieces(spark)
    # 400 records of about 40 bytes: about 8 pieces. Every 7th reuses an id seen 50 rows
    # earlier, so first occurrences and their duplicates sit in different pieces.
    rows = []
    for i in range(400):
        review_id = f"r{i - 50}" if i % 7 == 0 and i >= 50 else f"r{i}"
        rows.append(f'{review_id},p{i % 9},c{i % 13},{1 + i % 5},2024-01-{1 + i % 28:02d},"t, {i}"')
    path = write_csv(
        "review_id,product_id,customer_id,rating,review_date,review_text\n" + "\n".join(rows) + "\n"
    )
    raw = read_reviews_csv(spark, path)
    assert raw.rdd.getNumPartitions() >= 6  # parsed by many tasks, not one
    ordered = [r.review_id for r in raw.orderBy("_row_number").collect()]
    assert ordered == [row.split(",")[0] for row in rows]  # the row number is file order
    duplicates = {
        r.review_id
        for r in raw.transform(validate_reviews).collect()
        if r.reject_reason == "duplicate_review_id"
    }
    # Literal expectation: the later of each pair is the duplicate, whatever the piece.
    assert len(duplicates) == len([i for i in range(50, 400) if i % 7 == 0])


def test_a_quoted_line_break_or_a_repeated_header_keeps_the_single_stream_parse(
    spark, write_csv
) -> None:
    _pieces(spark)
    header = "review_id,product_id,customer_id,rating,review_date,review_text"
    body = "".join(f"r{i},p,c,5,2024-01-01,text {i}\n" for i in range(200))
    spanning = write_csv(header + "\n" + body + 'r200,p,c,5,2024-01-01,"two\nlines"\n', "a.csv")
    repeated = write_csv(header + "\n" + body + header + "\n", "b.csv")
    for path, rows in ((spanning, 201), (repeated, 201)):
        raw = read_reviews_csv(spark, path, partitions=1)
        assert raw.rdd.getNumPartitions() == 1  # one multi-line stream, not pieces
        assert raw.count() == rows  # the repeated header is a record (rejected later), kept


def _multi_line_rows(count: int) -> tuple[str, list[str]]:
    """A file of ``count`` records whose text spans two to four lines (one with a blank line),
    every 9th reusing the id of the record 40 before it; and the ids in file order."""
    ids, lines = [], []
    for i in range(count):
        review_id = f"r{i - 40}" if i % 9 == 0 and i >= 40 else f"r{i}"
        text = f'Line one of {i}, with ""quotes""\nline two' + "\n\nline four" * (i % 3 == 0)
        ids.append(review_id)
        fields = f"{review_id},p{i % 5},c{i % 7},{1 + i % 5},2024-03-{1 + i % 28:02d}"
        lines.append(f'{fields},"{text}"\n')
    return HEADER + "".join(lines), ids


def test_a_file_with_quoted_line_breaks_is_cut_into_pieces_parsed_at_once(
    spark, write_csv, tmp_path
) -> None:
    apply_pipeline_settings(spark)
    # Several pieces per partition: the row number must keep them apart and in order.
    spark.conf.set("spark.sql.files.openCostInBytes", "0")
    text, ids = _multi_line_rows(300)
    path = write_csv(text)
    scratch = tmp_path / "scratch"
    raw = read_reviews_csv(spark, path, partitions=7, scratch=scratch)
    pieces = sorted(p.name for p in scratch.rglob("*.csv"))
    assert pieces == [f"{i:06d}.csv" for i in range(7)]
    rows = [r.asDict() for r in raw.orderBy("_row_number").collect()]
    assert [r["review_id"] for r in rows] == ids  # file order across pieces
    assert records(rows) == records(rows_of(spark, path))  # as the one-stream parse
    assert rows[3]["review_text"] == 'Line one of 3, with "quotes"\nline two\n\nline four'
    duplicates = {
        r.review_id
        for r in raw.transform(validate_reviews).collect()
        if r.reject_reason == "duplicate_review_id"
    }
    # Literal: each reused id is a duplicate at its later occurrence, in another piece.
    assert duplicates == {f"r{i - 40}" for i in range(40, 300) if i % 9 == 0}
    assert len([r for r in raw.transform(validate_reviews).collect() if r.reject_reason]) == 29


def test_a_piece_ends_after_the_record_a_cut_would_fall_into(spark, write_csv, tmp_path) -> None:
    apply_pipeline_settings(spark)
    # Records of about 2 KB, most of them line breaks: every even cut lands inside one.
    long_text = "word\n" * 400
    body = "".join(f'r{i},p,c,5,2024-01-01,"{long_text}{i}"\n' for i in range(12))
    path = write_csv(HEADER + body)
    raw = read_reviews_csv(spark, path, partitions=5, scratch=tmp_path / "scratch")
    assert len(list((tmp_path / "scratch").rglob("*.csv"))) == 5
    rows = raw.orderBy("_row_number").collect()
    assert [r.review_text for r in rows] == [f"{long_text}{i}" for i in range(12)]


def test_a_file_whose_quotes_cannot_be_counted_is_parsed_as_one_stream(
    spark, write_csv, tmp_path
) -> None:
    apply_pipeline_settings(spark)
    text, _ = _multi_line_rows(100)
    path = write_csv(text + 'r100,p,c,5,2024-01-01,a 27" screen\n')
    raw = read_reviews_csv(spark, path, partitions=4, scratch=tmp_path / "scratch")
    assert not list((tmp_path / "scratch").rglob("*.csv"))  # not cut
    assert raw.rdd.getNumPartitions() == 4  # the stream's records spread after the parse
    rows = [r.asDict() for r in raw.orderBy("_row_number").collect()]
    assert records(rows) == records(rows_of(spark, path))
    assert rows[-1]["review_text"] == 'a 27" screen'


def test_pieces_go_to_the_sessions_temporary_folder_by_default(spark, write_csv) -> None:
    from pyspark import SparkFiles

    apply_pipeline_settings(spark)
    text, ids = _multi_line_rows(60)
    raw = read_reviews_csv(spark, write_csv(text), partitions=3)
    root = Path(SparkFiles.getRootDirectory(), "reviews-etl-pieces")
    assert any(p.name == "000002.csv" for p in root.rglob("*.csv"))
    assert [r.review_id for r in raw.orderBy("_row_number").collect()] == ids


def test_a_file_that_cannot_be_copied_for_pieces_is_parsed_as_one_stream(
    spark, write_csv, tmp_path, caplog
) -> None:
    apply_pipeline_settings(spark)
    text, ids = _multi_line_rows(60)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with caplog.at_level("WARNING", logger="reviews_etl.job.pieces"):
        raw = read_reviews_csv(spark, write_csv(text), partitions=3, scratch=blocker / "scratch")
    assert [r.review_id for r in raw.orderBy("_row_number").collect()] == ids
    (line,) = [r.getMessage() for r in caplog.records if "source_not_cut" in r.getMessage()]
    assert "NotADirectoryError" in line
    assert "\n" not in line


def test_without_numpy_a_file_is_parsed_as_one_stream(
    spark, write_csv, tmp_path, caplog, monkeypatch
) -> None:
    import sys

    apply_pipeline_settings(spark)
    # As without numpy: importing the scan fails (blocking numpy itself would also stop
    # pyspark 4.1, which imports it while collecting rows).
    monkeypatch.setitem(sys.modules, "reviews_etl.job.record_cuts", None)
    text, ids = _multi_line_rows(60)
    with caplog.at_level("WARNING", logger="reviews_etl.job.pieces"):
        raw = read_reviews_csv(spark, write_csv(text), partitions=3, scratch=tmp_path / "s")
    assert [r.review_id for r in raw.orderBy("_row_number").collect()] == ids
    assert not (tmp_path / "s").exists()
    (line,) = [r.getMessage() for r in caplog.records if "source_not_cut" in r.getMessage()]
    assert "pip install numpy" in line
