"""The Glue entrypoint: argument resolution, and local runs equal to the CLI's."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from reviews_etl.errors import ConfigError
from reviews_etl.job.glue import _fallback_resolver, main, resolve_job_args
from tests.support import CLASS_REVIEWS, REPO_ROOT

BASE = [
    "glue_entrypoint.py",
    "--JOB_NAME",
    "reviews",
    "--source_path",
    "s3://b/k.csv",
    "--output_path",
    "s3://out",
]


def resolvers() -> list[object]:
    found: list[object] = [_fallback_resolver]
    try:
        from awsglue.utils import getResolvedOptions
    except ImportError:
        return found
    found.append(getResolvedOptions)
    return found


@pytest.mark.parametrize("resolver", resolvers())
def test_required_and_optional_arguments(resolver) -> None:
    args = resolve_job_args(BASE, resolver)
    assert (args.job_name, args.sources, args.output_path) == (
        "reviews",
        ["s3://b/k.csv"],
        "s3://out",
    )
    assert (args.top_n, args.max_reject_ratio, args.run_id) == (5, 0.25, None)
    more = resolve_job_args(
        [*BASE, "--top_n", "10", "--max_reject_ratio", "0.5", "--JOB_RUN_ID", "jr_abc123"],
        resolver,
    )
    assert (more.top_n, more.max_reject_ratio, more.run_id) == (10, 0.5, "jr_abc123")


def test_missing_arguments_and_bad_values_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="--output_path"):
        resolve_job_args(BASE[:5], _fallback_resolver)
    with pytest.raises(ConfigError, match="invalid job argument"):
        resolve_job_args([*BASE, "--top_n", "many"], _fallback_resolver)
    with pytest.raises(ConfigError, match="top_n"):
        resolve_job_args([*BASE, "--top_n", "0"], _fallback_resolver).pipeline_config()


def test_source_path_may_list_several_objects() -> None:
    argv = [*BASE[:4], '["s3://b/a.csv","s3://b/b, c.csv"]', *BASE[5:]]
    assert resolve_job_args(argv, _fallback_resolver).sources == ["s3://b/a.csv", "s3://b/b, c.csv"]
    with pytest.raises(ConfigError, match="JSON"):
        resolve_job_args([*BASE[:4], "[oops", *BASE[5:]], _fallback_resolver)


def test_source_manifest_names_the_sources_in_order(tmp_path) -> None:
    manifest = tmp_path / "batch.json"
    manifest.write_text(json.dumps({"sources": ["s3://b/z.csv", "s3://b/a b.csv"]}))
    argv = [*BASE[:3], "--source_manifest", str(manifest), *BASE[5:]]
    assert resolve_job_args(argv, _fallback_resolver).sources == ["s3://b/z.csv", "s3://b/a b.csv"]
    both = [*BASE, "--source_manifest", str(manifest)]
    with pytest.raises(ConfigError, match="exactly one of --source_path URI or --source_manifest"):
        resolve_job_args(both, _fallback_resolver)
    with pytest.raises(ConfigError, match="missing job arguments: --source_path URI or --source"):
        resolve_job_args([*BASE[:3], *BASE[5:]], _fallback_resolver)
    for bad, problem in (
        ('{"sources": []}', "at least 1 item"),
        ('["s3://b/a.csv"]', "not a"),
        ('{"sources": ["s3://b/a.csv"], "extra": 1}', "extra"),
    ):
        manifest.write_text(bad)
        with pytest.raises(ConfigError, match=problem):
            resolve_job_args(argv, _fallback_resolver)
    with pytest.raises(ConfigError, match="cannot read it"):
        resolve_job_args([*BASE[:3], "--source_manifest", str(tmp_path / "gone.json"), *BASE[5:]])


def outputs(spark, root) -> dict[str, list[tuple[object, ...]]]:
    names = [
        "processed-data",
        "rejected",
        *(
            f"Athena Results/{n}"
            for n in ("daily_review_counts", "top_5_customers", "rating_distribution")
        ),
    ]
    lineage = {"run_id", "ingested_at"}
    got = {}
    for name in names:
        df = spark.read.parquet(str(root / name))
        df = df.select(*(c for c in df.columns if c not in lineage))
        got[name] = sorted((tuple(r) for r in df.collect()), key=repr)
    return got


def test_glue_main_in_process_matches_the_cli(spark, tmp_path) -> None:
    from reviews_etl.cli import main as cli_main

    assert (
        cli_main(["run", str(CLASS_REVIEWS), "--output", str(tmp_path / "cli"), "--no-stop-spark"])
        == 0
    )
    result = main(
        [
            "glue_entrypoint.py",
            "--JOB_NAME",
            "local",
            "--source_path",
            str(CLASS_REVIEWS),
            "--output_path",
            str(tmp_path / "glue"),
        ],
        spark=spark,
    )
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (201, 191, 10)
    assert outputs(spark, tmp_path / "glue") == outputs(spark, tmp_path / "cli")


@pytest.mark.slow
def test_glue_entrypoint_script_runs_locally(tmp_path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "glue_entrypoint.py"),
            "--JOB_NAME",
            "local",
            "--source_path",
            str(CLASS_REVIEWS),
            "--output_path",
            str(tmp_path / "out"),
            "--run_id",
            "local-1",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = json.loads((tmp_path / "out" / "_runs" / "local-1.json").read_text())
    assert (manifest["rows_read"], manifest["rows_accepted"]) == (201, 191)
    assert manifest["versions"]["spark"].startswith(("3.5", "4.1"))


def test_glue_entrypoint_reports_missing_arguments(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "glue_entrypoint.py"), "--JOB_NAME", "local"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode != 0
    assert "--source_path" in done.stderr
