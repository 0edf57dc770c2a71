"""Every subcommand's arguments (argparse); each parser names its handler in commands."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from reviews_etl import deploy as deploy_package
from reviews_etl._version import __version__
from reviews_etl.cli import commands as handlers
from reviews_etl.cli.exits import EXIT_CODES_HELP, PROG
from reviews_etl.config import (
    DEFAULT_MAX_REJECT_RATIO,
    DEFAULT_TOP_N,
)
from reviews_etl.sample import DEFAULT_DIRTY_SHARE


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps descriptions as usual, but prints the exit-code table as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text == EXIT_CODES_HELP:
            return text
        return super()._fill_text(text, width, indent)


if TYPE_CHECKING:
    _Commands = argparse._SubParsersAction[argparse.ArgumentParser]


def _command(
    commands: _Commands,
    name: str,
    **kwargs: object,
) -> argparse.ArgumentParser:
    """A subcommand's parser, with the exit codes at the end of its ``--help``."""
    return commands.add_parser(
        name,
        epilog=EXIT_CODES_HELP,
        formatter_class=_HelpFormatter,
        **kwargs,  # type: ignore[arg-type]
    )


_DRIVER_MEMORY_HELP = (
    "Spark driver memory, e.g. 2g (default with a local master: half of this machine's "
    "memory, at most 8 GiB; the summary says what was used)"
)


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


def _add_aws_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack-name", required=True, metavar="NAME", help="CloudFormation stack")
    parser.add_argument("--region", default=None, help="AWS region (default: from the profile)")
    parser.add_argument(
        "--endpoint-url",
        default=None,
        metavar="URL",
        help="AWS endpoint to talk to instead of AWS (e.g. a local moto server)",
    )


def _add_project_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project-root",
        metavar="DIR",
        default=None,
        help="reviews-etl checkout to build from (default: the checkout holding the current "
        "folder, else the installed distribution)",
    )


def _add_spark_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--master", default="local[*]", help="Spark master (default local[*])")
    parser.add_argument("--driver-memory", default=None, help=_DRIVER_MEMORY_HELP)


def _add_gate_arguments(
    parser: argparse.ArgumentParser, top_n_help: str | None = None, ratio_help: str | None = None
) -> None:
    """--top-n and --max-reject-ratio (a help text of None lists the flag without one)."""
    parser.add_argument("--top-n", type=_positive_int, default=DEFAULT_TOP_N, help=top_n_help)
    parser.add_argument(
        "--max-reject-ratio", type=_share, default=DEFAULT_MAX_REJECT_RATIO, help=ratio_help
    )


def _add_limit(parser: argparse.ArgumentParser, flag: str, help: str) -> None:
    """An optional upper bound N (at least 1; default: none)."""
    parser.add_argument(flag, type=_positive_int, default=None, metavar="N", help=help)


def _common_options() -> argparse.ArgumentParser:
    """The parent parser of the subcommands that run Spark: verbosity and progress."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="store_true", help="log one JSON line per decision to stderr"
    )
    common.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no live progress lines (they are drawn only on a terminal, on stderr)",
    )
    common.add_argument(
        "--no-stop-spark",
        dest="stop_spark",
        action="store_false",
        help=argparse.SUPPRESS,  # used when the CLI is called in-process by tests
    )
    return common


def _add_run_parser(commands: _Commands, common: argparse.ArgumentParser) -> None:
    run = _command(
        commands,
        "run",
        parents=[common],
        help="process CSV files (one batch each) into the output layout",
        description="Process each SOURCE as one batch, in order: clean, quarantine, write "
        "curated Parquet, then refresh the three analyses over all curated data.",
    )
    run.add_argument("sources", nargs="*", metavar="SOURCE", help="CSV file (local path or URI)")
    run.add_argument(
        "--source-manifest",
        metavar="URI",
        default=None,
        help='a JSON object {"sources": [...]} naming the files to process, in order (what '
        "the trigger writes for a batch); instead of, or after, SOURCE arguments",
    )
    run.add_argument("--output", required=True, metavar="DIR", help="output root folder or URI")
    _add_gate_arguments(
        run,
        top_n_help="customers in the top list",
        ratio_help="quality gate: a batch rejecting a larger share publishes nothing "
        "(default 0.25)",
    )
    run.add_argument("--run-id", default=None, help="run id for the manifest (default: generated)")
    run.add_argument(
        "--catalog-database",
        default=None,
        metavar="NAME",
        help="register each batch's source_id partition in the tables reviews and "
        "rejected_reviews of this Glue Data Catalog database (boto3: AWS_REGION, "
        "AWS_ENDPOINT_URL and credentials from the environment; default: off)",
    )
    _add_spark_arguments(run)
    run.add_argument("--json", action="store_true", help="print the run manifest as JSON")
    run.set_defaults(func=handlers.cmd_run)


def _add_watch_parser(commands: _Commands, common: argparse.ArgumentParser) -> None:
    watch = _command(
        commands,
        "watch",
        parents=[common],
        help="process each CSV that lands in a local folder, once (local stand-in for S3+Lambda)",
        description="Watch LANDING_DIR and process each complete CSV once, through the same "
        "trigger rules as the Lambda, with local Spark in place of Glue. The complete files "
        "found in one poll are processed as one run (oldest first; see --max-files). What was "
        "processed is kept in DIR/_watch/state.json, so a restart does not process a file again.",
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
        "--suffix",
        action="append",
        default=None,
        help="allowed suffix, matched case-insensitively (repeatable; default .csv and .csv.gz)",
    )
    _add_limit(
        watch,
        "--max-files",
        "at most N files per run (default: every complete file of a poll in one run)",
    )
    watch.add_argument("--once", action="store_true", help="process what is there, then exit")
    _add_gate_arguments(watch)
    _add_spark_arguments(watch)
    watch.set_defaults(func=handlers.cmd_watch)


def _add_sample_parser(commands: _Commands) -> None:
    sample = _command(
        commands,
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
    sample.set_defaults(func=handlers.cmd_sample)


def _add_register_partitions_parser(commands: _Commands) -> None:
    partitions = _command(
        commands,
        "register-partitions",
        help="register the source_id partitions of earlier runs in the Glue Data Catalog",
        description="Create, or point at their folder, the partitions of the tables reviews "
        "and rejected_reviews for every source_id= folder already under DIR (an S3 URI or a "
        "local folder): the one-time backfill for runs made before the job registered its "
        "own partitions. Idempotent. boto3 reads region, credentials and AWS_ENDPOINT_URL "
        "from the environment.",
    )
    partitions.add_argument("--output", required=True, metavar="DIR", help="output root")
    partitions.add_argument("--catalog-database", required=True, metavar="NAME")
    partitions.set_defaults(func=handlers.cmd_register_partitions)


def _add_report_parser(commands: _Commands) -> None:
    report = _command(
        commands,
        "report",
        help="write a self-contained HTML report of an output root (opens offline)",
        description="Write one HTML file that opens offline: reviews per day and per top "
        "product, top customers, the rating distribution, rejects by reason per source file, "
        "the run history from _runs/ (rows, seconds per stage, failed runs highlighted) and "
        "data freshness. Reads the outputs with pyarrow, no Spark. Needs the extra: "
        'pip install "reviews-etl[report]". See docs/report.md.',
    )
    report.add_argument("output_dir", metavar="OUTPUT_DIR", help="output root folder or URI")
    report.add_argument(
        "--out",
        metavar="FILE",
        default=None,
        help="HTML file to write, path or URI (default: OUTPUT_DIR/reports/latest.html)",
    )
    report.set_defaults(func=handlers.cmd_report)


def _add_package_parser(commands: _Commands) -> None:
    package = _command(
        commands,
        "package",
        help="build the wheel, the Lambda zip, the Glue script and the Glue pins for deployment",
        description="Build reviews_etl-<version>-py3-none-any.whl, "
        "reviews_etl_lambda-<version>.zip, glue_entrypoint.py and glue-requirements.txt (the "
        "exact versions of the dependencies, resolved once for the Lambda zip and Glue) into "
        "DIR: from the reviews-etl checkout holding the current folder, or else from the "
        "installed distribution (the same wheel back). Needs pip and the package index for "
        "the dependencies.",
    )
    package.add_argument("--out", required=True, metavar="DIR", help="output directory")
    _add_project_root(package)
    package.set_defaults(func=handlers.cmd_package)


def _add_deploy_parser(commands: _Commands) -> None:
    deploy = _command(
        commands,
        "deploy",
        help="package, upload and deploy the pipeline to AWS with CloudFormation",
        description="Build the artifacts, upload them to a locked-down artifacts bucket and "
        "create or update the CloudFormation stack of the template shipped in the package "
        "(infra/template.yaml). A re-deploy keeps every parameter it is not given. See "
        "docs/deploy.md.",
    )
    _add_aws_arguments(deploy)
    deploy.add_argument(
        "--glue-version",
        choices=deploy_package.GLUE_VERSIONS,
        default=None,
        help=f"AWS Glue version (default: {deploy_package.DEFAULT_GLUE_VERSION} for a new "
        "stack, the stack's current version on a re-deploy)",
    )
    deploy.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a template parameter, e.g. GlueNumberOfWorkers=4 (repeatable)",
    )
    _add_project_root(deploy)
    deploy.set_defaults(func=handlers.cmd_deploy)


def _add_destroy_parser(commands: _Commands) -> None:
    destroy = _command(
        commands,
        "destroy",
        help="empty the stack's buckets and the artifacts bucket, then delete the stack",
        description="Delete every object version in the stack's buckets and in the artifacts "
        "bucket, delete the stack and the artifacts bucket. Irreversible.",
    )
    _add_aws_arguments(destroy)
    destroy.set_defaults(func=handlers.cmd_destroy)


def _add_replay_parser(commands: _Commands) -> None:
    replay = _command(
        commands,
        "replay-failures",
        help="send the events waiting in the stack's failure queue to the trigger again",
        description="Move the messages of the stack's failure queue (output FailureQueueUrl: "
        "S3 notifications the trigger could not start a run for) back to the landing queue, "
        "deleting each once it was sent; records of the older direct invocation are sent "
        "there too. Messages that are neither stay in the queue, one line each. See "
        "docs/operations.md.",
    )
    _add_aws_arguments(replay)
    _add_limit(replay, "--max-messages", "handle at most N messages (default: all)")
    replay.set_defaults(func=handlers.cmd_replay_failures)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Clean product-review CSVs into curated Parquet, a quarantine and three "
        "analyses, locally or on AWS Glue.",
        epilog=EXIT_CODES_HELP,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _common_options()
    _add_run_parser(commands, common)
    _add_watch_parser(commands, common)
    _add_sample_parser(commands)
    _add_register_partitions_parser(commands)
    _add_report_parser(commands)
    _add_package_parser(commands)
    _add_deploy_parser(commands)
    _add_destroy_parser(commands)
    _add_replay_parser(commands)
    return parser
