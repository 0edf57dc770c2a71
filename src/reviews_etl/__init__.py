"""reviews-etl: typed schemas and pure PySpark transforms for product-review CSV files.

The package imports without pyspark (the Lambda trigger path needs only boto3 and
pydantic). Spark-dependent names are loaded on first use, so
``from reviews_etl import clean_reviews`` works wherever pyspark is installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from reviews_etl._version import __version__
from reviews_etl.config import OutputLayout, PipelineConfig
from reviews_etl.errors import (
    ConfigError,
    EmptySourceError,
    InvalidHeaderError,
    MissingColumnsError,
    QualityGateError,
    ReviewsEtlError,
    SourceError,
    SourceNotFoundError,
    UnreadableSourceError,
)
from reviews_etl.manifest import BatchResult, RunResult

if TYPE_CHECKING:
    from reviews_etl.analyses import (
        daily_review_counts,
        latest_per_review_id,
        rating_distribution,
        top_customers,
    )
    from reviews_etl.pipeline import run_pipeline
    from reviews_etl.reader import read_reviews_csv
    from reviews_etl.session import build_spark_session
    from reviews_etl.transforms import (
        add_lineage,
        clean_reviews,
        quarantine_reviews,
        validate_reviews,
    )

_LAZY: dict[str, str] = {
    "validate_reviews": "reviews_etl.transforms",
    "clean_reviews": "reviews_etl.transforms",
    "quarantine_reviews": "reviews_etl.transforms",
    "add_lineage": "reviews_etl.transforms",
    "latest_per_review_id": "reviews_etl.analyses",
    "daily_review_counts": "reviews_etl.analyses",
    "top_customers": "reviews_etl.analyses",
    "rating_distribution": "reviews_etl.analyses",
    "read_reviews_csv": "reviews_etl.reader",
    "build_spark_session": "reviews_etl.session",
    "run_pipeline": "reviews_etl.pipeline",
}

__all__ = [
    "BatchResult",
    "ConfigError",
    "EmptySourceError",
    "InvalidHeaderError",
    "MissingColumnsError",
    "OutputLayout",
    "PipelineConfig",
    "QualityGateError",
    "ReviewsEtlError",
    "RunResult",
    "SourceError",
    "SourceNotFoundError",
    "UnreadableSourceError",
    "__version__",
    "add_lineage",
    "build_spark_session",
    "clean_reviews",
    "daily_review_counts",
    "latest_per_review_id",
    "quarantine_reviews",
    "rating_distribution",
    "read_reviews_csv",
    "run_pipeline",
    "top_customers",
    "validate_reviews",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'reviews_etl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
