"""What was written, read back independently of the code under test: counts recounted from the
Parquet files (DuckDB), Parquet schemas against a literal table, and the quality gate's effect
on outputs that already exist."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from reviews_etl import PipelineConfig, QualityGateError, run_pipeline
from reviews_etl.errors import ReconciliationError
from reviews_etl.job import batches as batches_module
from tests.support import REPO_ROOT as REPO
from tests.support import oracle

SAMPLE = REPO / "data" / "sample_reviews.csv"
HEADER = "review_id,product_id,customer_id,rating,review_date,review_text\n"

# The Parquet schema of every output, as docs/data-contract.md and the Athena tables declare
# it: (column, Arrow type). Written out here, never imported from reviews_etl.job.schemas.
EXPECTED_SCHEMAS = {
    "processed-data": [
        ("review_id", "string"),
        ("product_id", "string"),
        ("customer_id", "string"),
        ("rating", "int32"),
        ("review_date", "date32[day]"),
        ("review_text", "string"),
        ("source_file", "string"),
        ("run_id", "string"),
        ("ingested_at", "timestamp[us, tz=UTC]"),
    ],
    "rejected": [
        ("review_id", "string"),
        ("product_id", "string"),
        ("customer_id", "string"),
        ("rating", "string"),
        ("review_date", "string"),
        ("review_text", "string"),
        ("raw_record", "string"),
        ("reject_reason", "string"),
        ("source_file", "string"),
        ("run_id", "string"),
        ("ingested_at", "timestamp[us, tz=UTC]"),
    ],
    "Athena Results/daily_review_counts": [
        ("review_date", "date32[day]"),
        ("product_id", "string"),
        ("review_count", "int64"),
        ("avg_rating", "double"),
    ],
    "Athena Results/top_5_customers": [
        ("rank", "int32"),
        ("customer_id", "string"),
        ("review_count", "int64"),
        ("avg_rating", "double"),
    ],
    "Athena Results/rating_distribution": [
        ("rating", "int32"),
        ("review_count", "int64"),
        ("share", "double"),
    ],
}


def parquet_glob(root: Path, folder: str) -> str:
    nested = "/*" if folder in {"processed-data", "rejected"} else ""
    return str(root / folder) + nested + "/*.parquet"


def recount(root: Path) -> dict[str, int]:
    """Rows per output and rejects per reason, counted by DuckDB from the files."""
    con = duckdb.connect()
    counts = {
        "curated": con.execute(
            f"SELECT count(*) FROM '{parquet_glob(root, 'processed-data')}'"
        ).fetchone()[0],  # type: ignore[index]
        "rejected": con.execute(
            f"SELECT count(*) FROM '{parquet_glob(root, 'rejected')}'"
        ).fetchone()[0],  # type: ignore[index]
    }
    for reason, n in con.execute(
        f"SELECT reject_reason, count(*) FROM '{parquet_glob(root, 'rejected')}' GROUP BY 1"
    ).fetchall():
        counts[reason] = n
    return counts


def test_manifest_counts_equal_what_was_written_and_the_oracle(spark, tmp_path) -> None:
    out = tmp_path / "out"
    result = run_pipeline(spark, PipelineConfig(sources=[str(SAMPLE)], output_root=str(out)))
    written = recount(out)
    expected = oracle.clean_file(SAMPLE.read_text(encoding="utf-8"))

    assert written["curated"] == len(expected.accepted) == result.rows_accepted
    assert written["rejected"] == sum(expected.reasons.values()) == result.rows_rejected
    assert result.rows_read == expected.rows_read
    by_reason = {k: v for k, v in result.rejects_by_reason.items() if v}
    assert by_reason == {k: v for k, v in written.items() if k not in {"curated", "rejected"}}
    assert by_reason == dict(expected.reasons)
    manifest = json.loads(Path(result.manifest_path).read_text(encoding="utf-8"))
    assert manifest["outputs"]["curated"] == written["curated"]
    assert manifest["outputs"]["rejected"] == written["rejected"]


@pytest.mark.parametrize("broken", ["clean_reviews", "quarantine_reviews"])
def test_a_transform_that_loses_a_row_fails_the_run_and_publishes_nothing(
    spark, tmp_path, write_csv, monkeypatch, broken
) -> None:
    original = getattr(batches_module, broken)

    def lose_one_row(df):  # type: ignore[no-untyped-def]
        cleaned = original(df)
        return cleaned.filter(cleaned["review_id"] != "r2")

    monkeypatch.setattr(batches_module, broken, lose_one_row)
    rows = "r1,p1,c1,5,2024-01-01,a\nr2,p1,c2,4,2024-01-02,b\nr2,p1,c2,4,2024-01-02,dup\n"
    source = write_csv(HEADER + rows + "r3,p1,c3,3,2024-01-03,c\n")
    out = tmp_path / "out"
    with pytest.raises(ReconciliationError) as failed:
        run_pipeline(spark, PipelineConfig(sources=[source], output_root=str(out)))
    assert "4 rows read" in str(failed.value)
    assert "-1 unaccounted" not in str(failed.value)
    assert "+1 unaccounted" in str(failed.value)
    assert not (out / "processed-data").exists() or not any((out / "processed-data").iterdir())
    assert not (out / "Athena Results").exists()
    [manifest] = (out / "_runs").glob("*.json")
    recorded = json.loads(manifest.read_text(encoding="utf-8"))
    assert recorded["status"] == "failed"
    assert "ReconciliationError" in recorded["error"]


def test_every_output_has_the_documented_parquet_schema(spark, tmp_path) -> None:
    out = tmp_path / "out"
    run_pipeline(spark, PipelineConfig(sources=[str(SAMPLE)], output_root=str(out)))
    for folder, expected in EXPECTED_SCHEMAS.items():
        files = sorted(Path(out / folder).rglob("*.parquet"))
        assert files, folder
        for file in files:
            schema = pq.read_schema(file)
            assert [(f.name, str(f.type)) for f in schema] == expected, (folder, file.name)


def digest_tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_a_reject_share_equal_to_the_gate_passes(spark, tmp_path, write_csv) -> None:
    # 1 of 4 rejected = 0.25 exactly, the default gate.
    source = write_csv(
        HEADER + "".join(f"r{i},p,c,5,2024-01-01,t\n" for i in range(3)) + ",p,c,5,2024-01-01,x\n"
    )
    result = run_pipeline(spark, PipelineConfig(sources=[source], output_root=str(tmp_path / "o")))
    assert result.status == "succeeded"
    assert result.batches[0].reject_share == 0.25


def test_a_failing_batch_leaves_existing_outputs_byte_identical(spark, tmp_path, write_csv) -> None:
    out = tmp_path / "out"
    good = write_csv(HEADER + "r1,p1,c1,5,2024-01-01,a\nr2,p1,c2,4,2024-01-02,b\n", "good.csv")
    run_pipeline(spark, PipelineConfig(sources=[good], output_root=str(out)))
    published = {
        folder: digest_tree(out / folder) for folder in ("processed-data", "Athena Results")
    }
    bad = write_csv(HEADER + "r9,p1,c1,5,2024-01-01,a\n,p1,c1,5,2024-01-01,b\n", "bad.csv")
    with pytest.raises(QualityGateError):
        run_pipeline(spark, PipelineConfig(sources=[bad], output_root=str(out)))
    assert {
        folder: digest_tree(out / folder) for folder in ("processed-data", "Athena Results")
    } == published


def test_one_failing_batch_of_several_publishes_the_others(spark, tmp_path, write_csv) -> None:
    out = tmp_path / "out"
    first = write_csv(HEADER + "r1,p1,c1,5,2024-01-01,a\n", "first.csv")
    bad = write_csv(HEADER + "r2,p1,c1,5,2024-01-01,a\n,p1,c1,5,2024-01-01,b\n", "bad.csv")
    last = write_csv(HEADER + "r3,p1,c2,3,2024-01-02,c\n", "last.csv")
    with pytest.raises(QualityGateError) as failed:
        run_pipeline(spark, PipelineConfig(sources=[first, bad, last], output_root=str(out)))
    result = failed.value.result
    assert result is not None
    assert [b.status for b in result.batches] == [
        "succeeded",
        "failed_quality_gate",
        "succeeded",
    ]
    assert result.status == "failed"
    con = duckdb.connect()
    curated = con.execute(
        f"SELECT review_id FROM '{parquet_glob(out, 'processed-data')}' ORDER BY 1"
    ).fetchall()
    assert curated == [("r1",), ("r3",)]
    distribution = parquet_glob(out, "Athena Results/rating_distribution")
    ratings = con.execute(
        f"SELECT rating, review_count FROM '{distribution}' WHERE review_count > 0 ORDER BY 1"
    ).fetchall()
    assert ratings == [(3, 1), (5, 1)]
    rejected = con.execute(f"SELECT count(*) FROM '{parquet_glob(out, 'rejected')}'").fetchone()
    assert rejected == (1,)
