"""End-to-end runs of the runner and the CLI on real and generated files."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from reviews_etl import PipelineConfig, QualityGateError, run_pipeline
from reviews_etl.cli import main
from reviews_etl.columns import REJECT_REASONS
from reviews_etl.errors import MissingColumnsError
from reviews_etl.job import batches as batches_module
from reviews_etl.job import pieces as pieces_module
from reviews_etl.job import pipeline as pipeline_module
from reviews_etl.job import record_cuts
from reviews_etl.job.storage import HadoopFS
from reviews_etl.paths import source_id_for
from reviews_etl.sample import write_sample_file
from tests.support import CLASS_REVIEWS, oracle

HEADER = "review_id,product_id,customer_id,rating,review_date,review_text\n"


def read(spark: SparkSession, root: Path, folder: str) -> list[dict[str, object]]:
    return [r.asDict() for r in spark.read.parquet(str(root / folder)).collect()]


def analyses(spark: SparkSession, root: Path) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    for name in ("daily_review_counts", "top_5_customers", "rating_distribution"):
        rows = spark.read.parquet(str(root / "Athena Results" / name)).collect()
        out[name] = sorted(tuple(r) for r in rows)
    return out


def test_cli_run_on_the_class_file(spark, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    code = main(["run", str(CLASS_REVIEWS), "--output", str(out), "--no-stop-spark"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "rows read               201" in printed
    assert "malformed_row                  1" in printed
    assert "missing_rating                 9" in printed

    [manifest_file] = (out / "_runs").glob("*.json")
    manifest = json.loads(manifest_file.read_text())
    assert manifest["status"] == "succeeded"
    assert (manifest["rows_read"], manifest["rows_accepted"], manifest["rows_rejected"]) == (
        201,
        191,
        10,
    )
    assert {k: v for k, v in manifest["rejects_by_reason"].items() if v} == {
        "malformed_row": 1,
        "missing_rating": 9,
    }
    assert list(manifest["stage_seconds"]) == [
        "read",
        "clean",
        "write_rejected",
        "write_curated",
        "analyses",
        "write_analyses",
    ]
    assert manifest["versions"]["spark"] == spark.version

    curated = read(spark, out, "processed-data")
    rejected = read(spark, out, "rejected")
    assert len(curated) == 191
    assert (
        sorted(r["reject_reason"] for r in rejected) == ["malformed_row"] + ["missing_rating"] * 9
    )
    [malformed] = [r for r in rejected if r["reject_reason"] == "malformed_row"]
    assert malformed["raw_record"] == "auto_comment"
    assert all(r["source_file"] == str(CLASS_REVIEWS) for r in curated + rejected)

    result = analyses(spark, out)
    assert result["top_5_customers"] == [
        (1, "c-102", 2, 4.0),
        (2, "c-103", 2, 1.0),
        (3, "c-105", 2, 4.0),
        (4, "c-106", 2, 4.0),
        (5, "c-108", 2, 4.5),
    ]
    assert [(r, n) for r, n, _ in result["rating_distribution"]] == [
        (1, 30),
        (2, 19),
        (3, 29),
        (4, 49),
        (5, 64),
    ]
    assert [round(s, 6) for *_, s in result["rating_distribution"]] == [
        0.157068,
        0.099476,
        0.151832,
        0.256545,
        0.335079,
    ]
    daily = result["daily_review_counts"]
    assert len(daily) == 185
    assert sum(n for _, _, n, _ in daily) == 191
    assert (dt.date(2025, 11, 14), "P-002", 2, 1.0) in daily


@pytest.mark.parametrize("large_file_paths", [False, True], ids=["defaults", "spread-window"])
def test_differential_against_an_independent_oracle(
    spark, tmp_path, monkeypatch, large_file_paths
) -> None:
    if large_file_paths:
        # The paths a large file takes: records spread over the cores, and rule 9 by the
        # window because the duplicated ids are too many to broadcast.
        monkeypatch.setattr(pieces_module, "MIN_BYTES_PER_CORE", 1)
        monkeypatch.setattr(pieces_module, "PARTITION_BYTES", 16 << 10)
        monkeypatch.setattr(batches_module, "DEDUPE_BROADCAST_LIMIT", 0)
    source = write_sample_file(tmp_path / "gen.csv", rows=3000, seed=7, dirty_share=0.2)
    expected = oracle.clean_file(source.read_text(encoding="utf-8"))
    assert all(expected.reasons[r] > 0 for r in REJECT_REASONS)

    result = run_pipeline(
        spark,
        PipelineConfig(
            sources=[str(source)], output_root=str(tmp_path / "out"), max_reject_ratio=0.5
        ),
    )
    assert result.rows_read == expected.rows_read == 3000
    assert result.rows_accepted == len(expected.accepted)
    assert result.rejects_by_reason == {r: expected.reasons[r] for r in result.rejects_by_reason}

    out = tmp_path / "out"
    if large_file_paths:  # labelled in a dozen partitions, written as one file per core
        assert source.stat().st_size > 10 * (16 << 10)
        for folder in ("processed-data", "rejected"):
            assert len(list((out / folder).glob("source_id=*/*.parquet"))) == 2, folder
    curated = {r["review_id"]: r for r in read(spark, out, "processed-data")}
    assert len(curated) == len(expected.accepted)
    for row in expected.accepted:
        got = curated[str(row["review_id"])]
        assert {k: got[k] for k in row} == row

    got = analyses(spark, out)
    daily = oracle.daily_review_counts(expected.accepted)
    assert len(got["daily_review_counts"]) == len(daily)
    for day, product, count, avg in got["daily_review_counts"]:
        assert daily[(day, product)][0] == count
        assert daily[(day, product)][1] == pytest.approx(avg)
    assert got["top_5_customers"] == [
        (rank, c, n, pytest.approx(a)) for rank, c, n, a in oracle.top_customers(expected.accepted)
    ]
    assert got["rating_distribution"] == [
        (r, n, pytest.approx(s)) for r, n, s in oracle.rating_distribution(expected.accepted)
    ]


def test_rerunning_a_batch_changes_nothing(spark, tmp_path, write_csv) -> None:
    source = write_csv(
        HEADER + "1,p1,c1,5,2024-01-01,a\n2,p1,c2,3,2024-01-01,\n3,p2,c1,x,2024-01-02,\n"
    )
    config = PipelineConfig(
        sources=[source], output_root=str(tmp_path / "out"), max_reject_ratio=0.5
    )
    first = run_pipeline(spark, config)
    before = analyses(spark, tmp_path / "out")
    second = run_pipeline(spark, config)
    assert first.run_id != second.run_id
    assert analyses(spark, tmp_path / "out") == before
    curated = read(spark, tmp_path / "out", "processed-data")
    assert sorted(r["review_id"] for r in curated) == ["1", "2"]
    assert {r["run_id"] for r in curated} == {second.run_id}
    assert len(read(spark, tmp_path / "out", "rejected")) == 1
    assert len(list((tmp_path / "out" / "_runs").glob("*.json"))) == 2


def test_batches_accumulate_and_the_latest_batch_wins(spark, tmp_path, write_csv) -> None:
    a = write_csv(HEADER + "1,p1,c1,5,2024-01-01,\n2,p1,c1,5,2024-01-01,\n", name="a.csv")
    b = write_csv(HEADER + "2,p2,c2,1,2024-01-02,\n3,p2,c2,3,2024-01-02,\n", name="b.csv")
    out = tmp_path / "out"
    run_pipeline(spark, PipelineConfig(sources=[a], output_root=str(out)))
    run_pipeline(spark, PipelineConfig(sources=[b], output_root=str(out)))
    assert len(read(spark, out, "processed-data")) == 4  # history is kept per batch
    got = analyses(spark, out)
    assert got["rating_distribution"] == [
        (1, 1, pytest.approx(1 / 3)),
        (2, 0, 0.0),
        (3, 1, pytest.approx(1 / 3)),
        (4, 0, 0.0),
        (5, 1, pytest.approx(1 / 3)),
    ]
    assert got["daily_review_counts"] == [
        (dt.date(2024, 1, 1), "P1", 1, 5.0),
        (dt.date(2024, 1, 2), "P2", 2, 2.0),
    ]
    assert got["top_5_customers"] == [(1, "c2", 2, 2.0), (2, "c1", 1, 5.0)]
    # Re-running the older batch makes it the newest: review 2 goes back to p1/c1/5.
    run_pipeline(spark, PipelineConfig(sources=[a], output_root=str(out)))
    assert analyses(spark, out)["top_5_customers"] == [(1, "c1", 2, 5.0), (2, "c2", 1, 3.0)]


def test_several_sources_in_one_run_are_ingested_in_order(spark, tmp_path, write_csv) -> None:
    a = write_csv(HEADER + "1,p1,c1,5,2024-01-01,\n", name="a.csv")
    b = write_csv(HEADER + "1,p1,c1,2,2024-01-01,\n", name="b.csv")
    result = run_pipeline(spark, PipelineConfig(sources=[a, b], output_root=str(tmp_path / "o")))
    assert [batch.source for batch in result.batches] == [a, b]
    assert analyses(spark, tmp_path / "o")["rating_distribution"][1][:2] == (2, 1)


def test_quality_gate_publishes_nothing_and_a_higher_gate_processes_it(
    spark, tmp_path, write_csv
) -> None:
    source = write_csv(HEADER + "1,p,c,5,2024-01-01,\n2,p,c,9,2024-01-01,\n")
    out = tmp_path / "out"
    with pytest.raises(QualityGateError, match=r"1 of 2 rows rejected \(50.0%\)"):
        run_pipeline(spark, PipelineConfig(sources=[source], output_root=str(out)))
    assert not (out / "processed-data").exists()
    assert not (out / "Athena Results").exists()
    assert len(read(spark, out, "rejected")) == 1
    [manifest] = [json.loads(p.read_text()) for p in (out / "_runs").glob("*.json")]
    assert manifest["status"] == "failed"
    assert manifest["batches"][0]["status"] == "failed_quality_gate"

    run_pipeline(
        spark, PipelineConfig(sources=[source], output_root=str(out), max_reject_ratio=0.5)
    )
    assert len(read(spark, out, "processed-data")) == 1


def test_a_refused_file_writes_nothing(spark, tmp_path, write_csv) -> None:
    good = write_csv(HEADER + "1,p,c,5,2024-01-01,\n", name="good.csv")
    bad = write_csv("review_id,rating\n1,5\n", name="bad.csv")
    with pytest.raises(MissingColumnsError):
        run_pipeline(spark, PipelineConfig(sources=[good, bad], output_root=str(tmp_path / "out")))
    assert not (tmp_path / "out").exists()


def test_the_session_keeps_its_cache_compression_setting(spark, tmp_path, write_csv) -> None:
    key = "spark.sql.inMemoryColumnarStorage.compressed"
    rows = "1,p1,c1,5,2024-01-01,a\n2,p1,c1,4,2024-01-01,\n1,p1,c1,5,2024-01-01,again\n"
    source = write_csv(HEADER + rows)
    for value in ("true", "false"):
        spark.conf.set(key, value)
        try:
            config = PipelineConfig(
                sources=[source], output_root=str(tmp_path / value), max_reject_ratio=0.5
            )
            assert run_pipeline(spark, config).rejects_by_reason["duplicate_review_id"] == 1
            assert spark.conf.get(key) == value
        finally:
            spark.conf.unset(key)


def test_list_dirs_names_the_batch_folders(spark, tmp_path, write_csv) -> None:
    out = tmp_path / "out"
    first, second = write_csv(HEADER, "a.csv"), write_csv(HEADER, "b.csv")
    run_pipeline(spark, PipelineConfig(sources=[first, second], output_root=str(out)))
    fs = HadoopFS(spark)
    expected = sorted(f"source_id={source_id_for(s)}" for s in (first, second))
    assert fs.list_dirs(str(out / "processed-data")) == expected
    assert fs.list_dirs(str(out / "missing")) == []


def test_header_only_file_is_a_valid_empty_batch(spark, tmp_path, write_csv) -> None:
    out = tmp_path / "out"
    result = run_pipeline(spark, PipelineConfig(sources=[write_csv(HEADER)], output_root=str(out)))
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (0, 0, 0)
    assert analyses(spark, out)["rating_distribution"] == [(r, 0, 0.0) for r in range(1, 6)]


def test_a_crashed_run_converges_when_run_again(spark, tmp_path, write_csv, monkeypatch) -> None:
    source = write_csv(HEADER + "1,p1,c1,5,2024-01-01,\n2,p2,c2,4,2024-01-02,\n")
    clean_out, crashed_out = tmp_path / "clean", tmp_path / "crashed"
    run_pipeline(spark, PipelineConfig(sources=[source], output_root=str(clean_out)))

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("executor lost")

    with monkeypatch.context() as patch:
        patch.setattr(pipeline_module, "publish_analyses", crash)
        with pytest.raises(RuntimeError, match="executor lost"):
            run_pipeline(spark, PipelineConfig(sources=[source], output_root=str(crashed_out)))
    [failed] = [json.loads(p.read_text()) for p in (crashed_out / "_runs").glob("*.json")]
    assert failed["status"] == "failed"
    assert "executor lost" in failed["error"]

    run_pipeline(spark, PipelineConfig(sources=[source], output_root=str(crashed_out)))
    assert analyses(spark, crashed_out) == analyses(spark, clean_out)
    assert len(read(spark, crashed_out, "processed-data")) == 2


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "file not found"),
        (b"", "zero-byte file"),
        ("review_id,customer_id\n", "missing required columns: product_id, rating, review_date"),
    ],
)
def test_cli_refusals_are_one_line_naming_the_file(
    spark, tmp_path, capsys, content, needle
) -> None:
    path = tmp_path / "in.csv"
    if content is not None:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    code = main(["run", str(path), "--output", str(tmp_path / "out"), "--no-stop-spark"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1
    assert err[0].startswith(f"reviews-etl: error: {path}: ")
    assert needle in err[0]


def test_cli_gate_failure_prints_summary_then_reason(spark, tmp_path, capsys) -> None:
    path = tmp_path / "dirty.csv"
    path.write_text(HEADER + "1,p,c,5,2024-01-01,\n2,p,c,,2024-01-01,\n")
    code = main(["run", str(path), "--output", str(tmp_path / "o"), "--no-stop-spark"])
    captured = capsys.readouterr()
    assert code == 1
    assert "failed_quality_gate" in captured.out
    assert "over the quality gate max_reject_ratio=0.25" in captured.err
    code = main(
        [
            "run",
            str(path),
            "--output",
            str(tmp_path / "o"),
            "--max-reject-ratio",
            "0.5",
            "--no-stop-spark",
            "--json",
        ]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["rows_accepted"] == 1


def test_cli_options_top_n_run_id_and_verbose(spark, tmp_path, capsys, caplog) -> None:
    out = tmp_path / "out"
    argv = ["run", str(CLASS_REVIEWS), "--output", str(out), "--top-n", "3", "--run-id", "r-1"]
    assert main([*argv, "--verbose", "--json", "--no-stop-spark"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["run_id"], printed["top_n"], printed["outputs"]["top_customers"]) == (
        "r-1",
        3,
        3,
    )
    assert json.loads((out / "_runs" / "r-1.json").read_text())["run_id"] == "r-1"
    events = [
        json.loads(r.getMessage())["event"]
        for r in caplog.records
        if r.name.startswith("reviews_etl")
    ]
    assert {"run_started", "batch_processed", "run_finished"} <= set(events)
    caplog.clear()
    assert main([*argv[:-1], "r-2", "--no-stop-spark"]) == 0
    assert not [r for r in caplog.records if r.name.startswith("reviews_etl")]


def test_module_entry_point_runs(tmp_path) -> None:
    import subprocess

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "reviews_etl.cli",
            "sample",
            "--rows",
            "5",
            "--output",
            str(tmp_path / "s.csv"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with (tmp_path / "s.csv").open(newline="") as handle:
        assert len(list(csv.reader(handle))) == 6


def test_a_large_file_with_quoted_line_breaks_is_read_in_pieces_removed_after_the_run(
    spark, tmp_path, monkeypatch
) -> None:
    written = []
    real_write_pieces = record_cuts.write_pieces

    def spy(*args):
        written.append(real_write_pieces(*args))
        return written[-1]

    monkeypatch.setattr(record_cuts, "write_pieces", spy)
    monkeypatch.setattr(pieces_module, "PARTITION_BYTES", 512)  # pieces of about 512 bytes
    header = "review_id,product_id,customer_id,rating,review_date,review_text\n"
    body = "".join(
        f'r{i % 50},p{i % 3},c{i % 4},{1 + i % 5},2024-01-{1 + i % 9:02d},"first\nsecond {i}"\n'
        for i in range(80)
    )
    source = tmp_path / "reviews.csv"
    source.write_text(header + body, encoding="utf-8")
    expected = oracle.clean_file(header + body)
    result = run_pipeline(
        spark,
        PipelineConfig(
            sources=[str(source)], output_root=str(tmp_path / "out"), max_reject_ratio=1.0
        ),
    )
    assert len(written) == 1  # the file was cut
    assert not written[0].rest.parent.exists()  # its pieces were removed after the run
    batch = result.batches[0]
    assert (batch.rows_read, batch.rows_accepted) == (80, len(expected.accepted))
    assert batch.rejects_by_reason["duplicate_review_id"] == 30  # ids r0..r29 come twice
