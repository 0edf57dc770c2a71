"""The hostile-input catalogue (docs/data-contract.md, "Hostile inputs"): each input gets a
correct result or a one-line error naming the file and the problem.

Generated inputs are written at run time under tmp_path; nothing here is committed data.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
import os
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from reviews_etl import read_reviews_csv, validate_reviews
from reviews_etl.config import PipelineConfig
from reviews_etl.errors import (
    EmptySourceError,
    MissingColumnsError,
    SourceNotFoundError,
    UnreadableSourceError,
)
from reviews_etl.job.headers import HEADER_READ_LIMIT, inspect_source
from reviews_etl.job.pipeline import run_pipeline
from reviews_etl.job.read_errors import MAX_FIELDS, source_read_errors
from reviews_etl.job.storage import literal_read_options
from reviews_etl.paths import normalise_path, source_id_for
from tests.support import REPO_ROOT as REPO
from tests.support import oracle

HEADER = "review_id,product_id,customer_id,rating,review_date,review_text\n"


def rows_of(spark: SparkSession, path: str) -> list[dict[str, object]]:
    with source_read_errors(path):
        df = read_reviews_csv(spark, path).orderBy("_row_number")
        return [r.asDict() for r in df.collect()]


def reasons_of(spark: SparkSession, path: str) -> dict[str | None, int]:
    with source_read_errors(path):
        validated = read_reviews_csv(spark, path).transform(validate_reviews)
        return {r[0]: r[1] for r in validated.groupBy("reject_reason").count().collect()}


def assert_one_line(error: BaseException, path: str) -> None:
    """A message of one line that names the file, with no Java trace in it or behind it."""
    message = str(error)
    assert "\n" not in message
    assert path in message
    assert "Py4J" not in message
    assert "java." not in message
    assert error.__cause__ is None


# --- file names -----------------------------------------------------------------------------

# Every one a literal name: glob characters, ':', spaces, '+', '%', non-ASCII, a backslash.
HOSTILE_NAMES = [
    "reviews[1].csv",
    "2026-01-01T10:00:00.csv",
    "x{a,b}.csv",
    "star*.csv",
    "what?.csv",
    "with space.csv",
    "a+b.csv",
    "100%.csv",
    "%41%20.csv",
    "avis é 日本語.csv",
    "back\\slash.csv",
    "[a-z]* {x} 2026-01-01T10:00:00+01:00 ?.csv",
]
# Siblings that a glob of the names above would match (reviews1.csv for reviews[1].csv,
# star-decoy.csv for star*.csv, ...) or whose ':' breaks listing the folder.
DECOYS = ["reviews1.csv", "xa.csv", "star-decoy.csv", "whatX.csv", "2026-01-01T09:00:00.csv"]


@pytest.fixture
def hostile_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "in [dir] 10:00"
    folder.mkdir()
    for name in DECOYS:
        (folder / name).write_text(HEADER + "decoy,p,c,5,2024-01-01,x\n", encoding="utf-8")
    for index, name in enumerate(HOSTILE_NAMES):
        (folder / name).write_text(HEADER + f"id{index},p,c,5,2024-01-01,x\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize("index", range(len(HOSTILE_NAMES)))
def test_file_names_are_literal_locally(spark, hostile_folder, index, monkeypatch) -> None:
    path = hostile_folder / HOSTILE_NAMES[index]
    expected = [f"id{index}"]
    # Absolute, as a fully qualified URI (the shape of an s3:// key), and relative.
    assert [r["review_id"] for r in rows_of(spark, str(path))] == expected
    assert [r["review_id"] for r in rows_of(spark, f"file://{path}")] == expected
    monkeypatch.chdir(hostile_folder)
    assert [r["review_id"] for r in rows_of(spark, path.name)] == expected
    assert inspect_source(spark, path.name).source_bytes == path.stat().st_size


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_file_names_are_literal_as_s3_keys(spark, name) -> None:
    """What Spark and HadoopFS get for an S3 key: the key itself, never a pattern. (No S3
    client in the test JVM: the reading side is the file:// URI case above.)"""
    uri = f"s3://bucket/in/2026-01-01T10:00:00/{name}"
    jpath = spark.sparkContext._jvm.org.apache.hadoop.fs.Path(uri)
    assert jpath.toUri().getScheme() == "s3"
    assert jpath.toUri().getAuthority() == "bucket"
    assert jpath.toUri().getPath() == f"/in/2026-01-01T10:00:00/{name}"
    assert literal_read_options(uri) == {"__globPaths__": "false"}
    assert normalise_path(uri.replace("s3://", "s3a://")) == uri
    assert source_id_for(uri) == source_id_for(uri.replace("s3://", "s3a://"))


def test_glob_switch_is_what_keeps_names_literal(spark, hostile_folder, monkeypatch) -> None:
    """Guards ``__globPaths__`` (an option Spark reads, not a documented one): without it the
    bracket name is a pattern again, so a Spark upgrade that drops it turns this red."""
    from reviews_etl.job import reader

    monkeypatch.setattr(reader, "literal_read_options", lambda path: {})
    with pytest.raises(Exception, match=r"URISyntaxException|Relative path"):
        rows_of(spark, str(hostile_folder / "reviews[1].csv"))


@pytest.mark.slow
def test_pipeline_keeps_the_name_as_spelled(spark, hostile_folder, tmp_path) -> None:
    source = str(hostile_folder / HOSTILE_NAMES[-1])
    result = run_pipeline(spark, PipelineConfig(sources=[source], output_root=str(tmp_path / "o")))
    [batch] = result.batches
    assert batch.source_file == source
    assert batch.source_id == source_id_for(source)
    assert (batch.rows_read, batch.rows_accepted) == (1, 1)
    curated = spark.read.parquet(str(tmp_path / "o" / "processed-data"))
    assert [tuple(r) for r in curated.select("review_id", "source_file").collect()] == [
        ("id11", source)
    ]


# --- compressed files -----------------------------------------------------------------------

TRICKY_CSV = (
    "\ufeff"
    + HEADER.replace("\n", "\r\n")
    + 'r1,p-1,c1,4,2024-01-01,"multi\nline, ""quoted"""\r\n'
    + "r2,p-2,c2,5,2024-01-02,é 日本\r\n"
    + "\r\n"
    + "only_one_field\r\n"
    + "r1,p-3,c3,3,2024-01-03,dup\r\n"
)


def test_gzip_is_read_as_the_plain_file(spark, write_csv) -> None:
    plain = write_csv(TRICKY_CSV.encode("utf-8"), name="reviews.csv")
    packed = write_csv(gzip.compress(TRICKY_CSV.encode("utf-8")), name="reviews.csv.gz")
    assert rows_of(spark, packed) == rows_of(spark, plain)
    assert len(rows_of(spark, packed)) == 4
    mapping = inspect_source(spark, packed)
    assert mapping.compression == "gzip"
    assert mapping.stored_bytes == os.path.getsize(packed)
    assert mapping.source_bytes == os.path.getsize(plain)  # gzip's size trailer
    assert inspect_source(spark, plain).compression is None


def test_gzip_header_is_checked_decompressed(spark, write_csv) -> None:
    packed = write_csv(gzip.compress(b"review_id,rating\n1,5\n"), name="r.csv.gz")
    with pytest.raises(MissingColumnsError, match="product_id, customer_id, review_date"):
        inspect_source(spark, packed)
    empty = write_csv(gzip.compress(b""), name="empty.csv.gz")
    with pytest.raises(EmptySourceError, match="gzip"):
        inspect_source(spark, empty)


def test_gzip_under_a_csv_name_is_refused(spark, write_csv) -> None:
    path = write_csv(gzip.compress(TRICKY_CSV.encode("utf-8")), name="reviews.csv")
    with pytest.raises(UnreadableSourceError, match=r"gzip-compressed data.*\.gz") as info:
        inspect_source(spark, path)
    assert_one_line(info.value, path)


def test_other_compressed_data_under_a_csv_name_is_refused(spark, write_csv) -> None:
    import bz2
    import zipfile

    data = TRICKY_CSV.encode("utf-8")
    with pytest.raises(UnreadableSourceError, match=r"bzip2-compressed data.*\.bz2"):
        inspect_source(spark, write_csv(bz2.compress(data), name="b.csv"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("reviews.csv", data)
    with pytest.raises(UnreadableSourceError, match="a zip archive"):
        inspect_source(spark, write_csv(buffer.getvalue(), name="z.csv"))
    # A header that merely starts like a magic number is a header.
    bzh = write_csv("BZh1," + HEADER, name="bzh.csv")
    assert inspect_source(spark, bzh).names[0] == "BZh1"


def test_bzip2_is_read_as_the_plain_file(spark, write_csv) -> None:
    import bz2

    plain = write_csv(TRICKY_CSV.encode("utf-8"), name="reviews.csv")
    packed = write_csv(bz2.compress(TRICKY_CSV.encode("utf-8")), name="reviews.csv.bz2")
    assert rows_of(spark, packed) == rows_of(spark, plain)
    assert inspect_source(spark, packed).compression == "bzip2"


def test_damaged_gzip_is_refused(spark, write_csv) -> None:
    garbage = write_csv(b"\x1f\x8b\x08\x00" + b"not deflate data" * 8, name="bad.csv.gz")
    with pytest.raises(UnreadableSourceError, match="damaged gzip data") as info:
        inspect_source(spark, garbage)
    assert_one_line(info.value, garbage)
    # Whole header, cut tail: found by Spark while reading, one line all the same.
    rng = random.Random(7)
    lines = [f"r{i},p,c,5,2024-01-01,{rng.getrandbits(64):x}\n" for i in range(200_000)]
    packed = gzip.compress((HEADER + "".join(lines)).encode("utf-8"))
    cut = write_csv(packed[: len(packed) // 2], name="cut.csv.gz")
    inspect_source(spark, cut)
    with pytest.raises(UnreadableSourceError, match="truncated compressed data") as info:
        rows_of(spark, cut)
    assert_one_line(info.value, cut)


# --- encodings ------------------------------------------------------------------------------

GOOD_TEXT = HEADER + "r1,p,c,5,2024-01-01,x\n"


@pytest.mark.parametrize(
    ("codec", "named"),
    [
        ("utf-16", "UTF-16 LE"),  # Python writes the BOM in native (little) order
        ("utf-16-be", "UTF-16 BE"),
        ("utf-32", "UTF-32 LE"),
        ("utf-32-be", "UTF-32 BE"),
    ],
)
def test_utf16_and_utf32_are_refused_by_name(spark, write_csv, codec, named) -> None:
    # utf-16 and utf-32 write a (little-endian) BOM; the -be codecs write none themselves.
    data = (("\ufeff" if codec.endswith("-be") else "") + GOOD_TEXT).encode(codec)
    path = write_csv(data)
    with pytest.raises(UnreadableSourceError, match=f"{named} text") as info:
        inspect_source(spark, path)
    assert_one_line(info.value, path)


def test_utf16_without_bom_is_refused(spark, write_csv) -> None:
    path = write_csv(GOOD_TEXT.encode("utf-16-le"))
    with pytest.raises(UnreadableSourceError, match="NUL byte at byte offset 1") as info:
        inspect_source(spark, path)
    assert_one_line(info.value, path)


def test_invalid_utf8_names_the_byte_offset(spark, write_csv) -> None:
    content = (HEADER + "r1,p,c,5,2024-01-01,caf").encode("utf-8") + b"\xe9 au lait\n"
    path = write_csv(content)
    offset = content.index(b"\xe9")
    with pytest.raises(
        UnreadableSourceError, match=f"not UTF-8 text: byte 0xe9 at byte offset {offset} "
    ) as info:
        inspect_source(spark, path)
    assert_one_line(info.value, path)


def test_a_character_cut_at_the_read_limit_is_fine(spark, write_csv) -> None:
    prefix = (HEADER + "r1,p,c,5,2024-01-01,").encode()
    content = prefix + b"x" * (HEADER_READ_LIMIT - 1 - len(prefix)) + "€\n".encode()
    assert content[HEADER_READ_LIMIT - 1 : HEADER_READ_LIMIT + 2] == "€".encode()
    inspect_source(spark, write_csv(content))
    # The same cut in a file that really ends there is not UTF-8.
    with pytest.raises(UnreadableSourceError, match="unexpected end of data"):
        inspect_source(spark, write_csv(content[:HEADER_READ_LIMIT], name="cut.csv"))


def test_invalid_byte_after_the_first_mib_becomes_a_replacement_character(spark, write_csv) -> None:
    """Documented: only the first MiB is checked; Spark decodes a later invalid byte as
    U+FFFD, and the row is then judged by the rules like any other."""
    filler = "".join(f"f{i},p,c,5,2024-01-01,{'x' * 60}\n" for i in range(20_000))
    assert len(filler) > HEADER_READ_LIMIT
    content = (HEADER + filler).encode() + b"bad\xffid,p,c,5,2024-01-01,t\xe9xt\n"
    path = write_csv(content)
    inspect_source(spark, path)
    rows = rows_of(spark, path)
    assert len(rows) == 20_001
    assert (rows[-1]["review_id"], rows[-1]["review_text"]) == ("bad\ufffdid", "t\ufffdxt")
    assert reasons_of(spark, path) == {None: 20_001}


# --- whitespace -----------------------------------------------------------------------------

WHITESPACE = [c for c in map(chr, range(0x110000)) if c.isspace()]


def whitespace_csv() -> str:
    """A row whose review_id is each whitespace character alone (missing_review_id), and one
    whose fields are wrapped in it (trimmed, then accepted)."""
    lines = [HEADER]
    for index, char in enumerate(WHITESPACE):
        if char in "\r\n":
            continue  # a line break alone in a field needs quotes; below
        lines.append(f"{char},p,c,5,2024-01-01,blank id {index}\n")
        lines.append(
            f"{char}r{index}{char},{char}p{char},c,{char}4{char},{char}2024-01-02{char},{char}\n"
        )
    lines.append('"\r\n",p,c,5,2024-01-01,quoted line break\n')
    return "".join(lines)


def test_whitespace_only_ids_are_missing_and_fields_are_trimmed(spark, write_csv) -> None:
    text = whitespace_csv()
    path = write_csv(text)
    expected = oracle.clean_file(text)
    assert reasons_of(spark, path) == {None: 27, "missing_review_id": 28}
    assert dict(expected.reasons) == {"missing_review_id": 28}
    with source_read_errors(path):
        clean = read_reviews_csv(spark, path).transform(validate_reviews)
        got = sorted(
            tuple(r)
            for r in clean.where(F.col("reject_reason").isNull())
            .select("clean_review_id", "clean_product_id", "clean_rating", "clean_review_text")
            .collect()
        )
    want = sorted(
        (r["review_id"], r["product_id"], r["rating"], r["review_text"]) for r in expected.accepted
    )
    assert got == want
    assert {r[0] for r in got} == {f"r{i}" for i, c in enumerate(WHITESPACE) if c not in "\r\n"}


def test_no_break_space_id_is_missing(spark, write_csv) -> None:
    path = write_csv(HEADER + "\u00a0,p,c,5,2024-01-01,x\nr2,p,c,5,2024-01-01,x\n")
    assert reasons_of(spark, path) == {"missing_review_id": 1, None: 1}


def _load_benchmark(name: str) -> ModuleType:
    if str(REPO / "benchmarks") not in sys.path:
        sys.path.insert(0, str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location(
        f"hostile_{name}", REPO / "benchmarks" / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_duckdb_implementation_trims_the_same(tmp_path) -> None:
    duckdb_impl = _load_benchmark("duckdb_impl")
    text = whitespace_csv()
    source = tmp_path / "ws.csv"
    source.write_text(text, encoding="utf-8", newline="")
    manifest = duckdb_impl.run(source, tmp_path / "out")
    expected = oracle.clean_file(text)
    assert manifest["rows_accepted"] == len(expected.accepted) == 27
    assert {k: v for k, v in manifest["rejects_by_reason"].items() if v} == dict(expected.reasons)
    import duckdb

    ids = (
        duckdb.connect()
        .execute(
            f"SELECT review_id, product_id, review_text FROM "
            f"read_parquet('{tmp_path}/out/processed-data/*/*.parquet')"
        )
        .fetchall()
    )
    assert sorted(ids) == sorted(
        (r["review_id"], r["product_id"], r["review_text"]) for r in expected.accepted
    )


def test_compare_trims_with_the_same_set() -> None:
    compare = _load_benchmark("compare")
    duckdb_impl = _load_benchmark("duckdb_impl")
    import duckdb

    con = duckdb.connect()
    for sql in (compare.WHITESPACE_SQL, duckdb_impl.WHITESPACE_SQL):
        [(chars,)] = con.execute(f"SELECT {sql}").fetchall()
        assert sorted(chars) == WHITESPACE


# --- a source that disappears ---------------------------------------------------------------


def test_a_deleted_source_is_refused_before_the_read(spark, write_csv) -> None:
    path = write_csv(GOOD_TEXT)
    os.remove(path)
    with pytest.raises(SourceNotFoundError, match="file not found") as info:
        inspect_source(spark, path)
    assert_one_line(info.value, path)


def test_a_source_deleted_after_inspection_fails_in_one_line(spark, write_csv) -> None:
    path = write_csv(GOOD_TEXT)
    header = inspect_source(spark, path)
    os.remove(path)
    with pytest.raises(SourceNotFoundError, match="no longer exists") as info:
        read_reviews_csv(spark, path, header)
    assert_one_line(info.value, path)


def test_a_source_deleted_while_being_read_fails_in_one_line(spark, tmp_path) -> None:
    path = str(tmp_path / "2026-01-01T10:00:00 [1].csv")
    Path(path).write_text(GOOD_TEXT, encoding="utf-8")
    df = read_reviews_csv(spark, path)
    os.remove(path)
    with (
        pytest.raises(SourceNotFoundError, match="no longer exists") as info,
        source_read_errors(path),
    ):
        df.count()
    assert_one_line(info.value, path)


@pytest.mark.slow
def test_a_run_whose_source_vanishes_fails(spark, tmp_path, monkeypatch) -> None:
    """The pipeline's part: the run fails (its manifest says so) and publishes nothing."""
    from reviews_etl.job import pipeline

    path = tmp_path / "vanishing.csv"
    path.write_text(GOOD_TEXT, encoding="utf-8")
    inspect = pipeline.inspect_source

    def inspect_then_delete(session: SparkSession, source: str):
        header = inspect(session, source)
        os.remove(source)
        return header

    monkeypatch.setattr(pipeline, "inspect_source", inspect_then_delete)
    out = tmp_path / "out"
    with pytest.raises(SourceNotFoundError, match="no longer exists") as info:
        run_pipeline(spark, PipelineConfig(sources=[str(path)], output_root=str(out)))
    assert_one_line(info.value, str(path))
    assert not (out / "processed-data").exists()
    [manifest] = (out / "_runs").glob("*.json")
    assert '"status": "failed"' in manifest.read_text(encoding="utf-8")


# --- sizes ----------------------------------------------------------------------------------


def test_the_field_limit_refuses_in_one_line(spark, write_csv, monkeypatch) -> None:
    """The mechanism at a small limit; the 100 MB field below is the real thing."""
    from reviews_etl.job import read_errors, reader

    monkeypatch.setattr(reader, "MAX_FIELD_CHARS", 1000)  # what Spark is given
    monkeypatch.setattr(read_errors, "MAX_FIELD_CHARS", 1000)  # what the message says
    fits = write_csv(HEADER + "r1,p,c,5,2024-01-01," + "x" * 1000 + "\n", name="fits.csv")
    assert reasons_of(spark, fits) == {None: 1}
    over = write_csv(HEADER + "r1,p,c,5,2024-01-01," + "x" * 1001 + "\n", name="over.csv")
    with pytest.raises(UnreadableSourceError, match="longer than 1,000 characters") as info:
        reasons_of(spark, over)
    assert_one_line(info.value, over)


@pytest.mark.slow
def test_a_100_mb_field_is_refused_without_running_out_of_memory(spark, tmp_path) -> None:
    path = tmp_path / "huge_field.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(HEADER + "r1,p,c,5,2024-01-01,ok\n" + "r2,p,c,5,2024-01-01,")
        for _ in range(100):
            handle.write("x" * 1_000_000)
        handle.write("\nr3,p,c,5,2024-01-01,ok\n")
    with pytest.raises(UnreadableSourceError, match="longer than 16,777,216 characters") as info:
        reasons_of(spark, str(path))
    assert_one_line(info.value, str(path))
    # The session survives (an OOM would have killed the JVM).
    assert spark.range(3).count() == 3


@pytest.mark.slow
def test_a_line_of_ten_million_commas_is_refused_in_one_line(spark, tmp_path) -> None:
    path = tmp_path / "commas.csv"
    path.write_text(HEADER + "r1,p,c,5,2024-01-01,ok\n" + "," * 10_000_000 + "\n")
    with pytest.raises(UnreadableSourceError, match="more than 20,480 fields") as info:
        reasons_of(spark, str(path))
    assert_one_line(info.value, str(path))
    assert spark.range(3).count() == 3


def test_a_record_of_many_fields_within_the_limit_is_malformed(spark, write_csv) -> None:
    path = write_csv(HEADER + "r1,p,c,5,2024-01-01,ok\n" + "," * (MAX_FIELDS - 1) + "\n")
    assert reasons_of(spark, path) == {None: 1, "malformed_row": 1}


@pytest.mark.slow
def test_a_thousand_columns(spark, tmp_path) -> None:
    columns = ["review_id", "product_id", "customer_id", "rating", "review_date"]
    names = [f"extra_{i}" for i in range(995)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*names[:500], *columns, *names[500:]])
    for i in range(200):
        writer.writerow(
            [*["v"] * 500, f"r{i}", "p", "c", str(i % 5 + 1), "2024-01-01", *["v"] * 495]
        )
    path = tmp_path / "wide.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    mapping = inspect_source(spark, str(path))
    assert len(mapping.names) == 1000
    assert mapping.positions["review_id"] == 500
    assert reasons_of(spark, str(path)) == {None: 200}
