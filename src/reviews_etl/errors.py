"""Every exception the package raises on purpose, in one hierarchy.

Each message is one line that names the file, setting or resource and the problem. The
command line maps these types to exit codes in one table (``reviews_etl.cli.EXIT_CODES``):
configuration and usage errors exit 2, everything else that fails a run exits 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError

    from reviews_etl.manifest import RunResult


class ReviewsEtlError(Exception):
    """Base class of every error this library raises on purpose."""


# --- configuration and environment (exit 2) -------------------------------------------------


class ConfigError(ReviewsEtlError):
    """A configuration value, job argument, environment setting or command option is invalid."""


class EnvironmentSetupError(ConfigError):
    """The machine lacks something a command needs (pyspark, Java, pip)."""


# --- input (exit 1) -------------------------------------------------------------------------


class SourceError(ReviewsEtlError):
    """A source file is refused before anything is written."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


class SourceNotFoundError(SourceError):
    """The source path does not exist (or is not a file)."""


class EmptySourceError(SourceError):
    """The source is a zero-byte file: not even a header row."""


class MissingColumnsError(SourceError):
    """The header lacks one or more required columns."""

    def __init__(self, source: str, missing: list[str], found: list[str]) -> None:
        super().__init__(
            source,
            f"missing required columns: {', '.join(missing)} (header has: {', '.join(found)})",
        )
        self.missing = missing
        self.found = found


class InvalidHeaderError(SourceError):
    """The header cannot be mapped onto the contract (e.g. a column given twice)."""


class UnreadableSourceError(SourceError):
    """The source is not CSV text the reader can take: not UTF-8 (the encoding is named when a
    byte-order mark shows it, else the offset of the first invalid byte), compressed without
    the compression's extension, damaged compressed data, or a record beyond the parser's
    limits (found while reading, so the run fails without publishing the batch)."""


# --- runs (exit 1) --------------------------------------------------------------------------


class QualityGateError(ReviewsEtlError):
    """A batch rejected more rows than ``max_reject_ratio`` allows; nothing was published."""

    def __init__(self, source: str, rejected: int, read: int, max_reject_ratio: float) -> None:
        share = rejected / read if read else 0.0
        super().__init__(
            f"{source}: {rejected} of {read} rows rejected ({share:.1%}), over the quality gate "
            f"max_reject_ratio={max_reject_ratio}; nothing published to curated data or analyses"
        )
        self.source = source
        self.rejected = rejected
        self.read = read
        self.max_reject_ratio = max_reject_ratio
        # The failed run's manifest, set by run_pipeline once it is written.
        self.result: RunResult | None = None


class RunFailedError(ReviewsEtlError):
    """Some of the work a command was given failed; each failure was reported on its own."""


class ReconciliationError(ReviewsEtlError):
    """The rows written do not add up to the rows read: a bug, never published."""

    def __init__(self, source: str, read: int, accepted: int, rejected: int) -> None:
        super().__init__(
            f"{source}: {read} rows read but {accepted} written to curated data and {rejected} "
            f"to the quarantine ({read - accepted - rejected:+d} unaccounted); the curated rows "
            "were removed and nothing was published"
        )
        self.source = source
        self.read = read
        self.accepted = accepted
        self.rejected = rejected


class JobStartError(ReviewsEtlError):
    """A job run could not be started: a non-retryable error, or retries used up."""

    def __init__(
        self, job_name: str, source_path: str, error_code: str, attempts: int, message: str
    ) -> None:
        super().__init__(
            f"could not start job {job_name!r} for {source_path} after {attempts} "
            f"attempt(s): {error_code}: {message}"
        )
        self.job_name = job_name
        self.source_path = source_path
        self.error_code = error_code
        self.attempts = attempts


class CatalogError(ReviewsEtlError):
    """A partition could not be registered in the Glue Data Catalog."""


# --- packaging and deployment (exit 1) ------------------------------------------------------


class PackagingError(ReviewsEtlError):
    """An artifact could not be built (missing file, failed build, unexpected content)."""


class DeployError(ReviewsEtlError):
    """The stack or the artifacts bucket could not be created, updated or deleted."""


# --- one-line texts -------------------------------------------------------------------------


def first_line(exc: BaseException, *, limit: int | None = None) -> str:
    """The first line of ``exc``'s text once surrounding blank space is dropped, cut to
    ``limit`` characters; ``""`` when the text is blank."""
    lines = str(exc).strip().splitlines()
    return lines[0][:limit] if lines else ""


def describe_validation_error(
    exc: ValidationError, prefix: str = "", *, whole: str = "record", env: bool = False
) -> str:
    """``prefix`` and every problem of ``exc`` on one line: ``where: message``, joined by
    ``"; "``, where ``where`` is the dotted location (``whole`` for the object itself).

    ``env=True`` names the environment variable (the location's first part) instead: ``NAME
    is required but not set`` for a missing one, ``NAME='value': message`` for an invalid one
    (without pydantic's ``Value error, ``), only the message for a problem of the settings as
    a whole.
    """
    problems = []
    for err in exc.errors():
        if not env:
            where = ".".join(str(part) for part in err["loc"]) or whole
            problems.append(f"{where}: {err['msg']}")
            continue
        name = str(err["loc"][0]) if err["loc"] else ""
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "missing":
            problems.append(f"{name} is required but not set")
        else:
            problems.append(f"{name}={err['input']!r}: {message}" if name else message)
    return prefix + "; ".join(problems)
