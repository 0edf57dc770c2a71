"""Reference variant: the pipeline as it is, except that its caches use Spark's in-memory
column compression (the session default) instead of switching it off.

Keeps the measurement behind that choice reproducible in the same run as the pipeline
(see docs/performance.md)::

    python benchmarks/run.py --rows 1000000 \\
        --variant compressed=benchmarks/candidates/compressed_cache.py
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from pyspark.sql import SparkSession


@contextmanager
def keep_session_compression(spark: SparkSession) -> Iterator[None]:
    del spark
    yield


def main() -> int:
    import reviews_etl.job.execution
    from reviews_etl.cli import main as cli_main

    reviews_etl.job.execution.uncompressed_caching = keep_session_compression  # type: ignore[assignment]
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
