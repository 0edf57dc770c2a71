"""The ``reviews-etl`` command. Parses arguments and delegates; all logic lives in the library."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from reviews_etl._version import __version__
from reviews_etl.config import (
    DEFAULT_MAX_REJECT_RATIO,
    DEFAULT_TOP_N,
    PipelineConfig,
)
from reviews_etl.errors import ConfigError, QualityGateError, ReviewsEtlError
from reviews_etl.logs import get_logger
from reviews_etl.sample import DEFAULT_DIRTY_SHARE, write_sample_file

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from reviews_etl.pipeline import RunResult

PROG = "reviews-etl"
Handler = Callable[[argparse.Namespace], int]


class CliError(ReviewsEtlError):
    """A problem to report as one line, with exit status 1."""


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 1


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def start_spark(master: str, driver_memory: str | None) -> SparkSession:
    """A local SparkSession, with the two set-up problems users hit named plainly."""
    try:
        from reviews_etl.session import build_spark_session
    except ImportError as exc:
        raise CliError(
            f"pyspark is not installed: pip install 'reviews-etl[spark]' (import failed: {exc})"
        ) from exc
    try:
        return build_spark_session(master=master, driver_memory=driver_memory)
    except Exception as exc:
        raise CliError(
            "could not start Spark; is Java 17 installed and on PATH (or JAVA_HOME set)? "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from exc


def format_summary(result: RunResult) -> str:
    lines = [f"run {result.run_id}: {result.status}  (Spark {result.versions['spark']})"]
    for batch in result.batches:
        lines.append(f"source {batch.source}  [{batch.status}]")
        lines.append(f"  rows read      {batch.rows_read:>12,}")
        lines.append(f"  accepted       {batch.rows_accepted:>12,}")
        lines.append(f"  rejected       {batch.rows_rejected:>12,}  ({batch.reject_share:.2%})")
        for reason, count in batch.rejects_by_reason.items():
            if count:
                lines.append(f"    {reason:<22}{count:>10,}")
    if len(result.batches) > 1:
        lines.append(
            f"total: {result.rows_read:,} read = {result.rows_accepted:,} accepted "
            f"+ {result.rows_rejected:,} rejected"
        )
    lines.append("outputs (rows written by this run)")
    for name, rows in result.outputs.items():
        path = result.output_paths.get(name, "")
        lines.append(f"  {name:<22}{rows:>12,}  {path}")
    stages = "  ".join(f"{name} {seconds:.2f}" for name, seconds in result.stage_seconds.items())
    lines.append(f"seconds per stage: {stages}")
    lines.append(f"manifest {result.manifest_path}")
    if result.error:
        lines.append(f"error: {result.error}")
    return "\n".join(lines)


def _cmd_run(args: argparse.Namespace) -> int:
    config = PipelineConfig.build(
        sources=args.sources,
        output_root=args.output,
        top_n=args.top_n,
        max_reject_ratio=args.max_reject_ratio,
        run_id=args.run_id,
    )
    from reviews_etl.pipeline import run_pipeline

    spark = start_spark(args.master, args.driver_memory)
    try:
        result = run_pipeline(spark, config)
    except QualityGateError as exc:
        # The failed manifest was written; show it before the one-line reason.
        if exc.result is not None:
            print(format_summary(exc.result))
        raise
    finally:
        if args.stop_spark:
            spark.stop()
    print(result.model_dump_json(indent=2) if args.json else format_summary(result))
    return 0


def _cmd_watch(args: argparse.Namespace) -> int:
    from reviews_etl.watch import FolderWatcher, LocalLauncher

    suffixes = tuple(args.suffix or [".csv"])
    spark = start_spark(args.master, args.driver_memory)
    launcher = LocalLauncher(spark, args.top_n, args.max_reject_ratio)
    try:
        watcher = FolderWatcher(
            args.landing_dir,
            args.output,
            launcher,
            suffixes=suffixes,
            settle_seconds=args.settle,
            report=lambda line: print(line, flush=True),
        )
    except (NotADirectoryError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    print(
        f"watching {watcher.landing} for {', '.join(suffixes)} files -> {watcher.output_root}"
        + ("" if args.once else "  (Ctrl-C stops)"),
        flush=True,
    )
    try:
        watcher.run(interval=args.interval, once=args.once)
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        if args.stop_spark:
            spark.stop()
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    path = write_sample_file(args.output, args.rows, args.seed, args.dirty_share)
    print(f"wrote {args.rows:,} rows (seed {args.seed}, dirty share {args.dirty_share}) to {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Clean product-review CSVs into curated Parquet, a quarantine and three "
        "analyses, locally or on AWS Glue.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="store_true", help="log one JSON line per decision to stderr"
    )
    common.add_argument(
        "--no-stop-spark",
        dest="stop_spark",
        action="store_false",
        help=argparse.SUPPRESS,  # used when the CLI is called in-process by tests
    )

    run = commands.add_parser(
        "run",
        parents=[common],
        help="process CSV files (one batch each) into the output layout",
        description="Process each SOURCE as one batch, in order: clean, quarantine, write "
        "curated Parquet, then refresh the three analyses over all curated data.",
    )
    run.add_argument("sources", nargs="+", metavar="SOURCE", help="CSV file (local path or URI)")
    run.add_argument("--output", required=True, metavar="DIR", help="output root folder or URI")
    run.add_argument(
        "--top-n", type=_positive_int, default=DEFAULT_TOP_N, help="customers in the top list"
    )
    run.add_argument(
        "--max-reject-ratio",
        type=_share,
        default=DEFAULT_MAX_REJECT_RATIO,
        help="quality gate: a batch rejecting a larger share publishes nothing (default 0.25)",
    )
    run.add_argument("--run-id", default=None, help="run id for the manifest (default: generated)")
    run.add_argument("--master", default="local[*]", help="Spark master (default local[*])")
    run.add_argument("--driver-memory", default=None, help="Spark driver memory, e.g. 2g")
    run.add_argument("--json", action="store_true", help="print the run manifest as JSON")
    run.set_defaults(func=_cmd_run)

    watch = commands.add_parser(
        "watch",
        parents=[common],
        help="process each CSV that lands in a local folder, once (local stand-in for S3+Lambda)",
        description="Watch LANDING_DIR and process each complete CSV once, through the same "
        "trigger rules as the Lambda, with local Spark in place of Glue. What was processed is "
        "kept in DIR/_watch/state.json, so a restart does not process a file again.",
    )
    watch.add_argument("landing_dir", metavar="LANDING_DIR")
    watch.add_argument("--output", required=True, metavar="DIR", help="output root folder")
    watch.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    watch.add_argument(
        "--settle",
        type=float,
        default=2.0,
        help="seconds a file's size and mtime must stay unchanged before it counts as complete",
    )
    watch.add_argument(
        "--suffix", action="append", default=None, help="allowed suffix (repeatable; default .csv)"
    )
    watch.add_argument("--once", action="store_true", help="process what is there, then exit")
    watch.add_argument("--top-n", type=_positive_int, default=DEFAULT_TOP_N)
    watch.add_argument("--max-reject-ratio", type=_share, default=DEFAULT_MAX_REJECT_RATIO)
    watch.add_argument("--master", default="local[*]", help="Spark master (default local[*])")
    watch.add_argument("--driver-memory", default=None, help="Spark driver memory, e.g. 2g")
    watch.set_defaults(func=_cmd_watch)

    sample = commands.add_parser(
        "sample",
        help="write a deterministic, realistic review CSV with dirty rows",
        description="Write a deterministic review CSV: skewed customer and product activity, "
        "dates over 2019-2025, texts with commas, quotes and newlines, and dirty rows of "
        "every reject kind.",
    )
    sample.add_argument("--rows", type=_non_negative_int, required=True, help="data rows")
    sample.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    sample.add_argument("--output", required=True, metavar="FILE", type=Path)
    sample.add_argument(
        "--dirty-share",
        type=_share,
        default=DEFAULT_DIRTY_SHARE,
        help=f"share of dirty rows (default {DEFAULT_DIRTY_SHARE})",
    )
    sample.set_defaults(func=_cmd_sample)

    # Packaging and deployment need no Spark, only boto3 (a base dependency).
    from reviews_etl.deploy import add_deploy_parsers
    from reviews_etl.packaging import add_package_parser

    add_package_parser(commands)
    add_deploy_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(message)s", stream=sys.stderr)
    verbose = getattr(args, "verbose", False)
    get_logger().setLevel(logging.INFO if verbose else logging.WARNING)
    handler: Handler = args.func
    try:
        return handler(args)
    except (ReviewsEtlError, ConfigError) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return _fail("interrupted")


if __name__ == "__main__":
    sys.exit(main())
