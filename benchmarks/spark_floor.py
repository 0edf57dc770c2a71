"""The Spark floor: read the review CSV and write it once as Parquet, nothing else.

A reference for the pipeline, measured in the same benchmark run with the same Spark, master
and driver heap: no pipeline can do less with Spark than parse the file and write its rows
once. The session is built by the library's own ``build_spark_session`` (same settings as
``reviews-etl run``: ``local[*]``, UI off, 4 shuffle partitions, the given driver heap), so
JVM and session start cost the same as for the pipeline.

Reading: ``header``, every column a string (no ``inferSchema``), RFC 4180 quoting
(``quote='"'``, ``escape='"'``) and ``multiLine=True``, as our reader needs for the quoted
newlines of ``review_text``. ``multiLine`` makes the whole file one partition, so the parse
and the write run on one core: that *is* the floor of a reader that must honour quoted
newlines. ``--no-multiline`` reads line by line instead (splittable, both cores): a record
with a quoted newline is then split in two, so that variant does not process the same
records; it shows what a splittable parse could gain (labelled separately by the benchmark).

No validation, no dedupe, no analyses, no counts: it has no contract, so the benchmark
never compares its output.

Usage: ``python benchmarks/spark_floor.py INPUT.csv --output DIR [--driver-memory 2g]
[--master local[*]] [--no-multiline]``; prints its timings as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Spark floor: CSV -> Parquet once")
    parser.add_argument("source")
    parser.add_argument("--output", required=True)
    parser.add_argument("--driver-memory", default="2g")
    parser.add_argument("--master", default="local[*]")
    parser.add_argument(
        "--no-multiline",
        dest="multiline",
        action="store_false",
        help="read line by line (splits records with quoted newlines; a reference only)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    seconds: dict[str, float] = {}
    start = time.perf_counter()

    from reviews_etl.job.session import build_spark_session

    spark = build_spark_session(
        "reviews-spark-floor", master=args.master, driver_memory=args.driver_memory
    )
    seconds["spark_start"] = time.perf_counter() - start

    mark = time.perf_counter()
    df = (
        spark.read.option("header", True)
        .option("inferSchema", False)
        .option("multiLine", args.multiline)
        .option("quote", '"')
        .option("escape", '"')
        .option("encoding", "UTF-8")
        .csv(args.source)
    )
    partitions = df.rdd.getNumPartitions()
    seconds["read"] = time.perf_counter() - mark

    mark = time.perf_counter()
    df.write.mode("overwrite").parquet(args.output.rstrip("/") + "/data")
    seconds["write"] = time.perf_counter() - mark
    conf = {
        key.removeprefix("spark."): value
        for key, value in spark.sparkContext.getConf().getAll()
        if key in ("spark.master", "spark.driver.memory")
    }
    version = spark.version

    mark = time.perf_counter()
    spark.stop()
    seconds["stop"] = time.perf_counter() - mark
    seconds["total"] = time.perf_counter() - start
    print(
        json.dumps(
            {
                "implementation": "spark_floor" if args.multiline else "spark_floor_lines",
                "multiline": args.multiline,
                "partitions": partitions,
                "spark": version,
                "spark_conf": conf,
                "stage_seconds": {k: round(v, 3) for k, v in seconds.items()},
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
