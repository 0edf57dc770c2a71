"""What each subcommand does: build the settings, start Spark where needed, call the library."""

from __future__ import annotations

import argparse
import logging
import re
from typing import TYPE_CHECKING

from reviews_etl import deploy as deploy_package
from reviews_etl.config import (
    PipelineConfig,
)
from reviews_etl.deploy.packaging import format_size
from reviews_etl.deploy.replay import replay_failures
from reviews_etl.errors import (
    ConfigError,
    EnvironmentSetupError,
    QualityGateError,
    RunFailedError,
    first_line,
)
from reviews_etl.job.catalog import register_existing
from reviews_etl.manifest import format_summary
from reviews_etl.report import write_report
from reviews_etl.sample import write_sample_file
from reviews_etl.sources import read_source_manifest
from reviews_etl.trigger.rules import DEFAULT_SUFFIXES

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from reviews_etl.progress import StageProgress


def start_spark(master: str, driver_memory: str | None) -> SparkSession:
    """A local SparkSession, with the two set-up problems users hit named plainly."""
    try:
        from reviews_etl.job.session import build_spark_session, default_driver_memory
    except ImportError as exc:
        raise EnvironmentSetupError(
            f"pyspark is not installed: pip install 'reviews-etl[spark]' (import failed: {exc})"
        ) from exc
    if driver_memory is None and master.startswith("local"):
        driver_memory = default_driver_memory()
    try:
        return build_spark_session(master=master, driver_memory=driver_memory)
    except Exception as exc:
        raise EnvironmentSetupError(
            "could not start Spark; is Java 17 installed and on PATH (or JAVA_HOME set)? "
            f"({type(exc).__name__}: {first_line(exc)})"
        ) from exc


def cmd_run(args: argparse.Namespace) -> int:
    config = PipelineConfig.build(
        sources=[
            *args.sources,
            *(read_source_manifest(args.source_manifest) if args.source_manifest else []),
        ],
        output_root=args.output,
        top_n=args.top_n,
        max_reject_ratio=args.max_reject_ratio,
        run_id=args.run_id,
        catalog_database=args.catalog_database,
    )
    spark = start_spark(args.master, args.driver_memory)
    from reviews_etl.job.pipeline import run_pipeline  # pyspark is there: start_spark checked

    try:
        with _progress(spark, args) as progress:
            result = run_pipeline(spark, config, on_stage=progress.stage)
    except QualityGateError as exc:
        # The failed manifest was written; show it before the one-line reason.
        if exc.result is not None:
            print(format_summary(exc.result))
        raise
    finally:
        _stop(spark, args.stop_spark)
    print(result.model_dump_json(indent=2) if args.json else format_summary(result))
    return 0


def _progress(spark: SparkSession, args: argparse.Namespace) -> StageProgress:
    """Live stage lines on a terminal, unless --quiet, or --verbose's JSON lines are on."""
    from reviews_etl.progress import StageProgress

    return StageProgress(spark, wanted=not (args.quiet or args.verbose))


def _stop(spark: SparkSession, wanted: bool) -> None:
    if not wanted:
        return
    try:
        spark.stop()
    except Exception:  # a JVM that already died: the run's own error is the one to report
        logging.getLogger(__name__).debug("stopping Spark failed", exc_info=True)


def cmd_watch(args: argparse.Namespace) -> int:
    suffixes = tuple(args.suffix or DEFAULT_SUFFIXES)
    spark = start_spark(args.master, args.driver_memory)
    from reviews_etl.watch import FolderWatcher, LocalLauncher  # pyspark is there

    progress = _progress(spark, args)
    launcher = LocalLauncher(spark, args.top_n, args.max_reject_ratio, on_stage=progress.stage)
    try:
        watcher = FolderWatcher(
            args.landing_dir,
            args.output,
            launcher,
            suffixes=suffixes,
            settle_seconds=args.settle,
            max_files=args.max_files,
            report=lambda line: print(line, flush=True),
        )
    except (NotADirectoryError, ValueError) as exc:
        raise ConfigError(str(exc)) from exc
    print(
        f"watching {watcher.landing} for {', '.join(suffixes)} files -> {watcher.output_root}"
        + ("" if args.once else "  (Ctrl-C stops)"),
        flush=True,
    )
    done = []
    try:
        with progress:
            done = watcher.run(interval=args.interval, once=args.once)
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        _stop(spark, args.stop_spark)
    failed = [record.key for record in done if record.status == "failed"]
    if failed:  # each was reported above, with its reason
        raise RunFailedError(f"{len(failed)} of {len(done)} file(s) failed: {', '.join(failed)}")
    return 0


def cmd_register_partitions(args: argparse.Namespace) -> int:
    for table, changes in register_existing(args.catalog_database, args.output).items():
        counts = ", ".join(f"{changes[c]} {c}" for c in ("created", "updated", "unchanged"))
        print(f"{args.catalog_database}.{table}: {counts}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    path = write_report(args.output_dir, args.out)
    print(f"wrote the report of {args.output_dir} to {path}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    path = write_sample_file(args.output, args.rows, args.seed, args.dirty_share)
    print(f"wrote {args.rows:,} rows (seed {args.seed}, dirty share {args.dirty_share}) to {path}")
    return 0


def cmd_package(args: argparse.Namespace) -> int:
    artifacts = deploy_package.build_artifacts(args.out, args.project_root)
    print(f"built from {artifacts.source}")
    for artifact in artifacts:
        print(f"{artifact.kind:<17} {artifact.path}  {format_size(artifact.size)}")
    return 0


def _parameters(items: list[str]) -> dict[str, str]:
    """``["Name=value", ...]`` -> ``{"Name": "value"}``."""
    parameters: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z0-9]+", name.strip()):
            raise ConfigError(f"--parameter {item!r}: expected NAME=VALUE, e.g. TopN=10")
        parameters[name.strip()] = value
    return parameters


def cmd_deploy(args: argparse.Namespace) -> int:
    deploy_package.deploy(
        args.stack_name,
        region=args.region,
        glue_version=args.glue_version,
        endpoint_url=args.endpoint_url,
        project_root=args.project_root,
        parameters=_parameters(args.parameter),
    )
    return 0


def cmd_destroy(args: argparse.Namespace) -> int:
    deploy_package.destroy(args.stack_name, region=args.region, endpoint_url=args.endpoint_url)
    return 0


def cmd_replay_failures(args: argparse.Namespace) -> int:
    replay_failures(
        args.stack_name,
        region=args.region,
        endpoint_url=args.endpoint_url,
        max_messages=args.max_messages,
    )
    return 0
