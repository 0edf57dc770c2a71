"""Where the outputs live and how a path is spelled: the output layout as paths under a root,
the ``source_id=<id>`` folder of each source's rows, and one identity for the several
spellings of a local path or an S3 URI.

No Spark: the job, the report (pyarrow) and the catalog tooling (boto3) all build their paths
here, so they agree on them.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Final

from reviews_etl.columns import SOURCE_ID
from reviews_etl.config import OutputLayout

# Hadoop's S3 connectors (s3a, the older s3n) name the same objects as s3://.
_S3_ALIASES: Final = frozenset({"s3a", "s3n"})

# Every folder holding one source's rows is named this followed by its source id: Hive's
# partition spelling, which Spark's reader and the Glue Data Catalog both understand.
PARTITION_PREFIX: Final = f"{SOURCE_ID}="


def s3_spelling(uri: str) -> str:
    """``uri`` with an ``s3a://`` or ``s3n://`` scheme (any case) spelled ``s3://``; any other
    path or URI unchanged."""
    scheme, sep, rest = uri.partition("://")
    return f"s3://{rest}" if sep and scheme.lower() in _S3_ALIASES else uri


def normalise_path(path: str) -> str:
    """A stable identity for a source or output path.

    Local paths (plain or ``file:``) become absolute, so ``./a.csv`` and its absolute
    spelling are the same object; ``s3a://``/``s3n://`` are spelled ``s3://``.
    """
    if path.lower().startswith("file:") and not path.lower().startswith("file://"):
        return os.path.abspath(path[len("file:") :])
    scheme, sep, rest = s3_spelling(path).partition("://")
    if sep:
        scheme = scheme.lower()
        if scheme == "file":
            return os.path.abspath(rest)
        return f"{scheme}://{rest}"
    return os.path.abspath(path)


def absolute_local(path: str) -> str:
    """Scheme-less paths made absolute in Python's working directory, which a notebook may
    have changed after the JVM (which resolves relative paths in its own) started."""
    return path if "://" in path or path.lower().startswith("file:") else os.path.abspath(path)


def is_local(path: str) -> bool:
    """Whether ``path`` names a local file (no scheme, or ``file:``)."""
    return "://" not in path or path.lower().startswith("file:")


def join(root: str, *parts: str) -> str:
    """``root`` and ``parts`` joined by single slashes, whatever slashes they end or start
    with; a URI's ``scheme://`` is kept."""
    return "/".join([root.rstrip("/"), *(p.strip("/") for p in parts)])


def source_id_for(source: str) -> str:
    """Stable folder key of a source object: re-processing it replaces exactly its rows."""
    return hashlib.sha256(normalise_path(source).encode("utf-8")).hexdigest()[:16]


def partition_name(source_id: str) -> str:
    """The name of the folder holding the rows of source ``source_id``."""
    return PARTITION_PREFIX + source_id


def partition_path(root: str, source_id: str) -> str:
    """The folder of source ``source_id`` under an output's ``root``."""
    return join(root, partition_name(source_id))


@dataclass(frozen=True)
class OutputPaths:
    """Each output of an :class:`~reviews_etl.config.OutputLayout` under one output root."""

    root: str
    curated: str
    rejected: str
    daily_review_counts: str
    top_customers: str
    rating_distribution: str
    runs: str

    @classmethod
    def under(cls, root: str, layout: OutputLayout) -> OutputPaths:
        analyses = join(root, layout.analyses)
        return cls(
            root=root,
            curated=join(root, layout.curated),
            rejected=join(root, layout.rejected),
            daily_review_counts=join(analyses, layout.daily_review_counts),
            top_customers=join(analyses, layout.top_customers),
            rating_distribution=join(analyses, layout.rating_distribution),
            runs=join(root, layout.runs),
        )

    def published(self) -> dict[str, str]:
        """The data outputs (not the manifests) by name: curated, rejected, the analyses."""
        return {
            "curated": self.curated,
            "rejected": self.rejected,
            "daily_review_counts": self.daily_review_counts,
            "top_customers": self.top_customers,
            "rating_distribution": self.rating_distribution,
        }

    def manifest(self, run_id: str) -> str:
        return join(self.runs, f"{run_id}.json")

    def staging(self, run_id: str) -> str:
        """Where a run writes a group's partitioned output before each source's folder moves
        into place: hidden from Spark and Athena by its leading underscore."""
        return join(self.root, f"_staging-{run_id}")
