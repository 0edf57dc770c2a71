"""The pipeline on sessions as they are handed over: it sets what it relies on itself, and its
outputs do not depend on ANSI mode or the time-parser policy the session came with."""

from __future__ import annotations

import itertools
import subprocess
import sys

from reviews_etl import PipelineConfig, run_pipeline
from reviews_etl.job.session import apply_pipeline_settings, default_driver_memory
from reviews_etl.manifest import format_summary
from tests.support import CLASS_REVIEWS
from tests.support import REPO_ROOT as REPO
from tests.support.outputs import outputs

SAMPLE = REPO / "data" / "sample_reviews.csv"


def test_apply_pipeline_settings_sets_what_the_pipeline_relies_on(spark) -> None:
    spark.conf.set("spark.sql.ansi.enabled", "false")
    spark.conf.set("spark.sql.legacy.timeParserPolicy", "EXCEPTION")
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    spark.conf.set("spark.sql.csv.parser.columnPruning.enabled", "true")
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    apply_pipeline_settings(spark)
    expected = {  # literal: what docs/architecture.md promises
        "spark.sql.legacy.timeParserPolicy": "CORRECTED",
        "spark.sql.ansi.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.sources.partitionOverwriteMode": "static",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.csv.parser.columnPruning.enabled": "false",
    }
    assert {key: spark.conf.get(key) for key in expected} == expected


def test_outputs_do_not_depend_on_the_sessions_ansi_mode_or_parser_policy(spark, tmp_path) -> None:
    results = {}
    combinations = itertools.product(("true", "false"), ("CORRECTED", "EXCEPTION", "LEGACY"))
    for ansi, policy in combinations:
        session = spark.newSession()
        session.conf.set("spark.sql.ansi.enabled", ansi)
        session.conf.set("spark.sql.legacy.timeParserPolicy", policy)
        out = tmp_path / f"{ansi}-{policy}"
        config = PipelineConfig(sources=[str(CLASS_REVIEWS), str(SAMPLE)], output_root=str(out))
        run_pipeline(session, config)
        results[(ansi, policy)] = outputs(out)
    first = next(iter(results.values()))
    assert all(len(rows) > 0 for rows in first.values())
    for combination, found in results.items():
        assert found == first, combination


def test_settings_made_in_one_test_do_not_reach_the_next(spark, spark_context_session) -> None:
    keys = ("spark.sql.ansi.enabled", "spark.sql.legacy.timeParserPolicy")
    stock = {key: spark.conf.get(key) for key in keys}
    apply_pipeline_settings(spark)  # what every run_pipeline does to its session
    spark.conf.set("spark.sql.legacy.timeParserPolicy", "LEGACY")
    next_test = spark_context_session.newSession()  # how the `spark` fixture makes one
    assert {key: next_test.conf.get(key) for key in keys} == stock
    assert all(spark_context_session.sparkContext.getConf().get(k) is None for k in keys)


def test_the_default_driver_heap_is_half_the_machine_at_most_8_gib() -> None:
    gib = 1 << 30
    assert default_driver_memory(24 * gib) == "8192m"
    assert default_driver_memory(8 * gib) == "4096m"
    assert default_driver_memory(3 * gib) == "1536m"
    assert default_driver_memory(1 * gib) == "1024m"  # never below Spark's own default


def test_the_summary_says_where_the_run_ran(spark, tmp_path) -> None:
    config = PipelineConfig(sources=[str(CLASS_REVIEWS)], output_root=str(tmp_path))
    result = run_pipeline(spark, config)
    assert result.spark_conf == {"master": "local[2]", "driver.memory": "1g"}  # the suite's JVM
    first = format_summary(result).splitlines()[0]
    assert first.endswith(f"(Spark {spark.version}, master local[2], driver.memory 1g)")


def test_a_local_session_runs_its_jvm_with_the_throughput_collector(tmp_path) -> None:
    # A JVM of its own (the suite's is already running): what build_spark_session launches.
    script = (
        "from reviews_etl.job.session import build_spark_session\n"
        "spark = build_spark_session()\n"
        "bean = spark._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()\n"
        "print('\\n'.join(str(a) for a in bean.getInputArguments()))\n"
        "spark.stop()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    arguments = done.stdout.splitlines()
    assert "-XX:+UseParallelGC" in arguments
    assert "-XX:+UseG1GC" not in arguments
