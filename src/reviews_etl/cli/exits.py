"""Exit codes: one table from error type to code, and the one line that reports an error."""

from __future__ import annotations

import os
import sys

import botocore.exceptions

from reviews_etl.errors import (
    ConfigError,
    ReviewsEtlError,
)

PROG = "reviews-etl"

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# The first entry an error is an instance of decides the exit code; argparse exits 2 itself.
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (ConfigError, EXIT_USAGE),  # includes EnvironmentSetupError (no pyspark, no Java)
    (ReviewsEtlError, EXIT_FAILED),  # a refused file, the quality gate, a failed deploy
    (botocore.exceptions.BotoCoreError, EXIT_FAILED),
    (botocore.exceptions.ClientError, EXIT_FAILED),
    (KeyboardInterrupt, EXIT_INTERRUPTED),
)
EXIT_CODES_HELP = """exit codes:
  0    succeeded
  1    the data or the run failed: a refused file, a quality-gate failure, a failed
       package or deploy, an AWS error
  2    usage or configuration error: bad options, invalid settings, pyspark or Java missing
  130  interrupted (Ctrl-C)"""


def _jvm_gone(error: BaseException) -> bool:
    """The JVM bridge failed: a py4j error, or a connection error py4j raised when it found
    the JVM gone (which of the two depends on when the JVM died)."""
    if type(error).__module__.startswith("py4j"):
        return True
    if not isinstance(error, ConnectionError):
        return False
    trace = error.__traceback__
    while trace is not None and trace.tb_next is not None:
        trace = trace.tb_next
    return trace is not None and f"{os.sep}py4j{os.sep}" in trace.tb_frame.f_code.co_filename


def _spark_error(error: BaseException) -> bool:
    """An error raised by Spark or its JVM bridge (the JVM died, a Spark job failed). Looked
    up among the modules already loaded: a command that ran no Spark cannot raise one."""
    kinds = [
        getattr(sys.modules.get(module), name, None)
        for module, name in (("py4j.protocol", "Py4JError"), ("pyspark.errors", "PySparkException"))
    ]
    return _jvm_gone(error) or any(
        isinstance(kind, type) and isinstance(error, kind) for kind in kinds
    )


def exit_code(error: BaseException) -> int | None:
    """The exit code for an error the command reports in one line; ``None`` for a bug."""
    for kind, code in EXIT_CODES:
        if isinstance(error, kind):
            return code
    return EXIT_FAILED if _spark_error(error) else None


def describe(error: BaseException) -> str:
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    if isinstance(error, botocore.exceptions.ClientError):
        detail = error.response.get("Error", {})
        return f"AWS: {detail.get('Code', '')}: {detail.get('Message', '') or error}"
    if isinstance(error, botocore.exceptions.BotoCoreError):
        return f"AWS: {error}"
    if _spark_error(error):
        first = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
        if _jvm_gone(error):
            return (
                "Spark's JVM stopped or stopped answering (out of memory? try a larger "
                f"--driver-memory): {type(error).__name__}: {first}"
            )
        return f"Spark: {first}"
    return str(error)
