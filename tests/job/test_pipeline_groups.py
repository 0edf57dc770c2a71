"""Several sources of one run read and written in one Spark pass (a burst of files): every
batch keeps its own counts, rule 9, quality gate and folders, checked per file against the
pure-Python oracle and against what was written (read back with pyarrow)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from reviews_etl import PipelineConfig, run_pipeline
from reviews_etl.errors import ReconciliationError, SourceNotFoundError
from reviews_etl.job import batches as batches_module
from reviews_etl.job import groups as groups_module
from reviews_etl.job.headers import HeaderMapping
from reviews_etl.sample import write_sample_file
from tests.support import oracle

HEADER = "review_id,product_id,customer_id,rating,review_date,review_text\n"


def folder_rows(root: Path, source_id: str) -> list[dict[str, object]]:
    folder = root / f"source_id={source_id}"
    assert (folder / "_SUCCESS").exists(), folder
    rows: list[dict[str, object]] = []
    for file in sorted(folder.glob("*.parquet")):
        rows += pq.read_table(file).to_pylist()
    return rows


@pytest.fixture
def passes(monkeypatch) -> list[int]:
    """How many sources each Spark pass of the pipeline read."""
    sizes: list[int] = []
    original = batches_module.read_group

    def recording(spark, batches, scratch):  # type: ignore[no-untyped-def]
        sizes.append(len(batches))
        return original(spark, batches, scratch)

    monkeypatch.setattr(batches_module, "read_group", recording)
    return sizes


def test_a_burst_is_one_pass_and_every_batch_matches_the_oracle(
    spark, tmp_path, passes, write_csv
) -> None:
    # Sample files reuse the ids r-000000000..., so the same ids occur in every file: rule 9
    # must hold within each file only, and the analyses keep the last file's row per id.
    sources = [
        write_sample_file(tmp_path / f"in/part-{seed}.csv", rows=400, seed=seed, dirty_share=0.2)
        for seed in (1, 2, 3)
    ]
    clean = write_csv(HEADER + "r-000000001,p9,c9,4,2024-02-03,fine\n", "clean.csv")
    empty = write_csv(HEADER, "empty.csv")
    paths = [*map(str, sources), clean, empty]
    out = tmp_path / "out"

    result = run_pipeline(
        spark, PipelineConfig(sources=paths, output_root=str(out), max_reject_ratio=0.5)
    )

    assert passes == [5]
    expected = [oracle.clean_file(Path(p).read_text(encoding="utf-8")) for p in paths]
    assert [b.source for b in result.batches] == paths
    for batch, want in zip(result.batches, expected, strict=True):
        assert batch.status == "succeeded"
        assert batch.rows_read == want.rows_read
        assert batch.rows_accepted == len(want.accepted)
        assert {k: v for k, v in batch.rejects_by_reason.items() if v} == dict(want.reasons)
        curated = folder_rows(out / "processed-data", batch.source_id)
        assert sorted(r["review_id"] for r in curated) == sorted(
            str(r["review_id"]) for r in want.accepted
        )
        assert {r["source_file"] for r in curated} <= {batch.source_file}
        rejected = folder_rows(out / "rejected", batch.source_id)
        assert len(rejected) == sum(want.reasons.values())
    assert expected[0].reasons["duplicate_review_id"] > 0
    # Strictly increasing: the later source in the run is the newer batch.
    instants = [b.ingested_at for b in result.batches]
    assert instants == sorted(set(instants))

    latest: dict[str, dict[str, object]] = {}
    for want in expected:
        latest.update({str(r["review_id"]): r for r in want.accepted})
    rows = list(latest.values())
    distribution = pq.read_table(out / "Athena Results" / "rating_distribution").to_pylist()
    assert sorted((r["rating"], r["review_count"]) for r in distribution) == [
        (rating, count) for rating, count, _ in oracle.rating_distribution(rows)
    ]
    top = pq.read_table(out / "Athena Results" / "top_5_customers").to_pylist()
    assert [(r["rank"], r["customer_id"], r["review_count"]) for r in top] == [
        (rank, customer, count) for rank, customer, count, _ in oracle.top_customers(rows)
    ]


def test_a_file_processed_again_in_a_group_replaces_exactly_its_folders(
    spark, tmp_path, write_csv
) -> None:
    a = write_csv(HEADER + "a1,p,c,5,2024-01-01,\na2,p,c,9,2024-01-01,\n", "a.csv")
    b = write_csv(HEADER + "b1,p,c,5,2024-01-01,\n", "b.csv")
    out = tmp_path / "out"
    config = PipelineConfig(sources=[a, b], output_root=str(out), max_reject_ratio=0.5)
    first = run_pipeline(spark, config)
    a_id, b_id = (batch.source_id for batch in first.batches)
    assert len(folder_rows(out / "rejected", a_id)) == 1

    # a is now clean: its old reject must go, its folder stays (empty and complete).
    write_csv(HEADER + "a1,p,c,4,2024-01-01,\n", "a.csv")
    run_pipeline(spark, config)
    assert folder_rows(out / "rejected", a_id) == []
    assert [r["rating"] for r in folder_rows(out / "processed-data", a_id)] == [4]
    assert [r["review_id"] for r in folder_rows(out / "processed-data", b_id)] == ["b1"]
    assert not list(out.glob("_staging*"))


def test_the_same_source_twice_in_a_run_is_two_passes(spark, tmp_path, passes, write_csv) -> None:
    a = write_csv(HEADER + "a1,p,c,5,2024-01-01,\n", "a.csv")
    b = write_csv(HEADER + "b1,p,c,3,2024-01-01,\n", "b.csv")
    out = tmp_path / "out"
    result = run_pipeline(spark, PipelineConfig(sources=[a, b, a], output_root=str(out)))
    assert passes == [2, 1]
    assert [batch.source for batch in result.batches] == [a, b, a]
    assert [
        r["review_id"] for r in folder_rows(out / "processed-data", result.batches[0].source_id)
    ] == ["a1"]


def test_groups_are_bounded_by_bytes_and_files(monkeypatch) -> None:
    monkeypatch.setattr(groups_module, "GROUP_SOURCE_BYTES", 100)
    monkeypatch.setattr(groups_module, "GROUP_MAX_SOURCES", 3)

    def header(size: int) -> HeaderMapping:
        return HeaderMapping(names=("review_id",), positions={}, source_bytes=size)

    sources = [f"/data/f{i}.csv" for i in range(7)]
    sizes = [10, 10, 10, 10, 150, 40, 70]
    groups = groups_module.plan_groups(sources, [header(s) for s in sizes])
    assert (
        [[s for s, _ in group] for group in groups]
        == [
            sources[0:3],  # three files at most
            sources[3:4],  # the next one would pass 100 bytes
            sources[4:5],  # a large file is a group of its own
            sources[5:6],
            sources[6:7],
        ]
    )


def test_a_lost_row_in_a_group_fails_the_run_and_removes_the_group(
    spark, tmp_path, monkeypatch, write_csv
) -> None:
    original = batches_module.quarantine_reviews

    def lose_one_row(df):  # type: ignore[no-untyped-def]
        rejected = original(df)
        return rejected.filter(rejected["review_id"] != "b2")

    monkeypatch.setattr(batches_module, "quarantine_reviews", lose_one_row)
    a = write_csv(HEADER + "a1,p,c,5,2024-01-01,\n", "a.csv")
    b = write_csv(HEADER + "b1,p,c,5,2024-01-01,\nb2,p,c,x,2024-01-01,\n", "b.csv")
    out = tmp_path / "out"
    with pytest.raises(ReconciliationError, match=r"and 1 more sources.*3 rows read"):
        run_pipeline(
            spark, PipelineConfig(sources=[a, b], output_root=str(out), max_reject_ratio=0.5)
        )
    assert not list((out / "processed-data").glob("source_id=*"))


def test_a_file_gone_before_the_pass_is_named(spark, tmp_path, monkeypatch, write_csv) -> None:
    a = write_csv(HEADER + "a1,p,c,5,2024-01-01,\n", "a.csv")
    b = write_csv(HEADER + "b1,p,c,5,2024-01-01,\n", "b.csv")
    original = batches_module.read_group

    def delete_b_first(spark, batches, scratch):  # type: ignore[no-untyped-def]
        Path(b).unlink()
        return original(spark, batches, scratch)

    monkeypatch.setattr(batches_module, "read_group", delete_b_first)
    with pytest.raises(SourceNotFoundError) as gone:
        run_pipeline(spark, PipelineConfig(sources=[a, b], output_root=str(tmp_path / "o")))
    assert str(gone.value).startswith(b)
    assert "Traceback" not in str(gone.value)


def test_lineage_of_each_row_names_its_own_source(spark, tmp_path, write_csv) -> None:
    a = write_csv(HEADER + "x,p,c,5,2024-01-01,\n", "a.csv")
    b = write_csv(HEADER + "x,p,c,1,2024-01-01,\n", "b.csv")
    out = tmp_path / "out"
    result = run_pipeline(spark, PipelineConfig(sources=[a, b], output_root=str(out)))
    for batch in result.batches:
        [row] = folder_rows(out / "processed-data", batch.source_id)
        assert row["source_file"] == batch.source_file
        assert row["run_id"] == result.run_id
        assert row["ingested_at"].replace(tzinfo=dt.UTC) == batch.ingested_at
