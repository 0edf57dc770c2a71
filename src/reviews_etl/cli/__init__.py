"""The ``reviews-etl`` command: every subcommand's arguments (:mod:`.parser`), what each does
(:mod:`.commands`), and one table from error type to exit code (:mod:`.exits`). Parses and
delegates; the logic lives in the library. Spark is imported only by the subcommands that
run it (``run``, ``watch``)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from reviews_etl.cli.exits import EXIT_CODES, PROG, describe, exit_code
from reviews_etl.cli.parser import build_parser
from reviews_etl.logs import get_logger

__all__ = ["EXIT_CODES", "build_parser", "exit_code", "main"]

Handler = Callable[[argparse.Namespace], int]


def _not_from_py4j(record: logging.LogRecord) -> bool:
    """py4j logs a traceback of its own (on the root logger) when the JVM goes away; the
    command's one error line says what happened instead."""
    return f"{os.sep}py4j{os.sep}" not in record.pathname


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(message)s", stream=sys.stderr)
    for root_handler in logging.getLogger().handlers:
        root_handler.addFilter(_not_from_py4j)
    verbose = getattr(args, "verbose", False)
    get_logger().setLevel(logging.INFO if verbose else logging.WARNING)
    handler: Handler = args.func
    try:
        return handler(args)
    except (Exception, KeyboardInterrupt) as exc:
        code = exit_code(exc)
        if code is None:
            raise
        print(f"{PROG}: error: {describe(exc)}", file=sys.stderr)
        return code
