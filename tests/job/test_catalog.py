"""Partitions registered in the Glue Data Catalog after each batch, against a moto server on
127.0.0.1 reached through ``AWS_ENDPOINT_URL`` (the normal boto3 way, as on Glue)."""

from __future__ import annotations

import copy
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from reviews_etl import PipelineConfig, QualityGateError, run_pipeline
from reviews_etl.cli import main
from reviews_etl.job.glue import resolve_job_args
from tests.support.awsserver import fake_aws_env, moto_server
from tests.support.template import load_template

DATABASE = "reviews_db"
HEADER = "review_id,product_id,customer_id,rating,review_date,review_text\n"
# Resource name in infra/template.yaml -> the table name the job writes to.
TABLES = {"ReviewsTable": "reviews", "RejectedReviewsTable": "rejected_reviews"}


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def catalog(endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The stack's two partitioned tables, as the template defines them, in a fresh database."""
    for name, value in fake_aws_env(tmp_path, base={}).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    glue = boto3.client("glue")
    for database in glue.get_databases()["DatabaseList"]:
        glue.delete_database(Name=database["Name"])
    glue.create_database(DatabaseInput={"Name": DATABASE})
    resources = load_template()["Resources"]
    for resource in TABLES:
        table_input = copy.deepcopy(resources[resource]["Properties"]["TableInput"])
        folder = table_input["StorageDescriptor"]["Location"]["Fn::Sub"].split("}/", 1)[1]
        table_input["StorageDescriptor"]["Location"] = f"s3://processed/{folder}"
        glue.create_table(DatabaseName=DATABASE, TableInput=table_input)
    return glue


def source_id(path: str) -> str:
    """Recomputed here from the contract: sha256 of the absolute path, first 16 hex digits."""
    return hashlib.sha256(os.path.abspath(path).encode("utf-8")).hexdigest()[:16]


def partitions(glue: Any, table: str) -> dict[str, dict[str, Any]]:
    found = glue.get_partitions(DatabaseName=DATABASE, TableName=table)["Partitions"]
    return {p["Values"][0]: p["StorageDescriptor"] for p in found}


def columns(glue: Any, table: str) -> list[dict[str, str]]:
    found = glue.get_table(DatabaseName=DATABASE, Name=table)["Table"]["StorageDescriptor"]
    return list(found["Columns"])


def test_two_batches_register_both_tables_with_their_folders(
    spark, catalog, tmp_path, write_csv
) -> None:
    first = write_csv(HEADER + "r1,p1,c1,5,2024-01-01,good\nr2,p1,c2,4,2024-01-02,\n", "a.csv")
    good = "".join(f"s{i},p2,c1,3,2024-01-03,ok\n" for i in range(4))
    second = write_csv(HEADER + good + ",p2,c9,4,2024-01-03,no id\n", "b.csv")
    out = tmp_path / "out"
    config = PipelineConfig(sources=[first], output_root=str(out), catalog_database=DATABASE)
    result = run_pipeline(spark, config)
    assert result.batches[0].catalog_partitions == {
        "rejected_reviews": "created",
        "reviews": "created",
    }
    run_pipeline(spark, config.model_copy(update={"sources": [second]}))

    for table, folder in (("reviews", "processed-data"), ("rejected_reviews", "rejected")):
        registered = partitions(catalog, table)
        assert set(registered) == {source_id(first), source_id(second)}
        for sid, descriptor in registered.items():
            location = f"{out}/{folder}/source_id={sid}/"
            assert descriptor["Location"] == location
            assert Path(location).is_dir()
            assert descriptor["Columns"] == columns(catalog, table)
            assert descriptor["SerdeInfo"]["SerializationLibrary"] == (
                "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
            )


def test_a_rerun_changes_nothing(spark, catalog, tmp_path, write_csv) -> None:
    source = write_csv(HEADER + "r1,p1,c1,5,2024-01-01,good\n")
    config = PipelineConfig(
        sources=[source], output_root=str(tmp_path / "out"), catalog_database=DATABASE
    )
    run_pipeline(spark, config)
    before = {table: partitions(catalog, table) for table in TABLES.values()}
    again = run_pipeline(spark, config)
    assert again.batches[0].catalog_partitions == {
        "rejected_reviews": "unchanged",
        "reviews": "unchanged",
    }
    assert {table: partitions(catalog, table) for table in TABLES.values()} == before


def test_a_moved_output_updates_the_location(spark, catalog, tmp_path, write_csv) -> None:
    source = write_csv(HEADER + "r1,p1,c1,5,2024-01-01,good\n")
    for root, change in (("one", "created"), ("two", "updated")):
        config = PipelineConfig(
            sources=[source], output_root=str(tmp_path / root), catalog_database=DATABASE
        )
        batch = run_pipeline(spark, config).batches[0]
        assert batch.catalog_partitions == {"rejected_reviews": change, "reviews": change}
    [descriptor] = partitions(catalog, "reviews").values()
    assert descriptor["Location"] == f"{tmp_path}/two/processed-data/source_id={source_id(source)}/"


def test_a_gate_failure_registers_only_the_rejected_partition(
    spark, catalog, tmp_path, write_csv
) -> None:
    source = write_csv(HEADER + "r1,p1,c1,5,2024-01-01,good\n,p1,c1,5,2024-01-01,no id\n")
    config = PipelineConfig(
        sources=[source],
        output_root=str(tmp_path / "out"),
        catalog_database=DATABASE,
        max_reject_ratio=0.1,
    )
    with pytest.raises(QualityGateError) as failed:
        run_pipeline(spark, config)
    assert failed.value.result is not None
    assert failed.value.result.batches[0].catalog_partitions == {"rejected_reviews": "created"}
    assert partitions(catalog, "reviews") == {}
    assert set(partitions(catalog, "rejected_reviews")) == {source_id(source)}


def test_the_cli_flag_and_the_glue_argument(spark, catalog, tmp_path, write_csv, capsys) -> None:
    source = write_csv(HEADER + "r1,p1,c1,5,2024-01-01,good\n")
    argv = ["run", source, "--output", str(tmp_path / "out"), "--no-stop-spark"]
    assert main([*argv, "--catalog-database", DATABASE]) == 0
    assert set(partitions(catalog, "reviews")) == {source_id(source)}

    args = resolve_job_args(
        [
            "script",
            "--JOB_NAME",
            "j",
            "--source_path",
            source,
            "--output_path",
            "out",
            "--catalog_database",
            DATABASE,
        ]
    )
    assert args.pipeline_config().catalog_database == DATABASE
    plain = resolve_job_args(
        ["script", "--JOB_NAME", "j", "--source_path", source, "--output_path", "out"]
    )
    assert plain.pipeline_config().catalog_database is None


def test_a_missing_table_fails_the_run_with_one_line(
    spark, catalog, tmp_path, write_csv, capsys
) -> None:
    catalog.delete_table(DatabaseName=DATABASE, Name="rejected_reviews")
    source = write_csv(HEADER + "r1,p1,c1,5,2024-01-01,good\n")
    argv = ["run", source, "--output", str(tmp_path / "out"), "--no-stop-spark"]
    assert main([*argv, "--catalog-database", DATABASE]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "reviews_db.rejected_reviews" in line
    assert "EntityNotFoundException" in line


def test_register_partitions_backfills_earlier_local_runs(
    spark, catalog, tmp_path, write_csv, capsys
) -> None:
    sources = [write_csv(HEADER + f"r{i},p1,c1,5,2024-01-01,good\n", f"{i}.csv") for i in (1, 2)]
    out = tmp_path / "out"
    run_pipeline(spark, PipelineConfig(sources=sources, output_root=str(out)))  # no catalog
    assert partitions(catalog, "reviews") == {}

    argv = ["register-partitions", "--output", str(out), "--catalog-database", DATABASE]
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines() == [
        "reviews_db.reviews: 2 created, 0 updated, 0 unchanged",
        "reviews_db.rejected_reviews: 2 created, 0 updated, 0 unchanged",
    ]
    expected = {source_id(s) for s in sources}
    assert set(partitions(catalog, "reviews")) == expected
    assert set(partitions(catalog, "rejected_reviews")) == expected
    assert main(argv) == 0
    assert "0 created, 0 updated, 2 unchanged" in capsys.readouterr().out


def test_register_partitions_lists_an_s3_output_root(catalog, capsys) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="processed")
    for key in (
        "processed-data/source_id=aaaa/part-0.parquet",
        "processed-data/source_id=bbbb/part-0.parquet",
        "processed-data/not-a-batch/x",
        "rejected/source_id=aaaa/part-0.parquet",
    ):
        s3.put_object(Bucket="processed", Key=key, Body=b"x")
    argv = ["register-partitions", "--output", "s3://processed", "--catalog-database", DATABASE]
    assert main(argv) == 0
    curated = partitions(catalog, "reviews")
    assert {sid: d["Location"] for sid, d in curated.items()} == {
        "aaaa": "s3://processed/processed-data/source_id=aaaa/",
        "bbbb": "s3://processed/processed-data/source_id=bbbb/",
    }
    assert set(partitions(catalog, "rejected_reviews")) == {"aaaa"}
