"""Typed exceptions. Every error a user can cause names the file (or setting) and the problem."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reviews_etl.pipeline import RunResult


class ReviewsEtlError(Exception):
    """Base class of every error this library raises on purpose."""


class ConfigError(ReviewsEtlError):
    """A configuration or environment setting is missing or invalid."""


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
