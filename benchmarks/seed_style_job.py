"""The review job the way the original class Glue script did it: the "before" of the benchmark.

Written in that script's style on purpose, not as a recommendation:

* ``spark.read.csv(header=True, inferSchema=True)``: an extra full pass over the file to guess
  types. ``multiLine`` and ``escape='"'`` are added because the input is RFC 4180 (quoted
  newlines and doubled quotes in ``review_text``): without them Spark splits those records and
  the job would not be processing the same data as the other two implementations;
* cleaning with ``dropna`` and ``filter``; ``dropDuplicates(["review_id"])``;
* a temp view and one ``spark.sql`` query per analysis, each output written separately, with
  no cache, so every write re-reads and re-cleans the CSV;
* Spark defaults otherwise (200 shuffle partitions, UI on). ``timeParserPolicy=CORRECTED`` is
  set because with Spark 3.5's default, ``to_date`` aborts the job at the first impossible
  date such as ``2024-02-30``.

What it cannot do like the contract (see docs/performance.md for how the benchmark compares
it): no quarantine and no reject counts; records with more fields than the header are kept
(PERMISSIVE mode truncates them) and records with fewer are dropped only because their
missing fields are null; ``rating_distribution`` has rows only for ratings that occur;
``dropDuplicates`` keeps whichever copy Spark meets first, not a defined one.

Usage: ``python benchmarks/seed_style_job.py INPUT.csv --output DIR [--driver-memory 2g]``;
prints its timings as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

REQUIRED = ["review_id", "product_id", "customer_id", "rating", "review_date"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="seed-style PySpark review job")
    parser.add_argument("source")
    parser.add_argument("--output", required=True)
    parser.add_argument("--driver-memory", default="2g")
    parser.add_argument("--master", default="local[*]")
    args = parser.parse_args(argv)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    out = args.output.rstrip("/")
    seconds: dict[str, float] = {}
    start = time.perf_counter()

    spark = (
        SparkSession.builder.appName("reviews-seed-style")
        .master(args.master)
        .config("spark.driver.memory", args.driver_memory)
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    spark.conf.set("spark.sql.legacy.timeParserPolicy", "CORRECTED")
    # The seed job was written for Spark 3 (ANSI off): on Spark 4 its casts of "five" and
    # to_date of "2024-02-30" would raise instead of yielding null.
    spark.conf.set("spark.sql.ansi.enabled", "false")
    seconds["spark_start"] = time.perf_counter() - start

    mark = time.perf_counter()
    df = spark.read.csv(args.source, header=True, inferSchema=True, multiLine=True, escape='"')
    seconds["read_infer_schema"] = time.perf_counter() - mark

    df = df.dropna(subset=REQUIRED)
    for name in REQUIRED:
        df = df.withColumn(name, F.trim(F.col(name).cast("string")))
    df = df.filter(" AND ".join(f"{name} != ''" for name in REQUIRED))
    df = df.withColumn("product_id", F.upper(F.col("product_id")))
    df = df.withColumn("rating_value", F.col("rating").cast("double"))
    df = df.filter(
        F.col("rating_value").between(1, 5) & (F.col("rating_value") == F.floor("rating_value"))
    )
    df = df.withColumn("rating", F.col("rating_value").cast("int")).drop("rating_value")
    df = df.withColumn("review_date", F.to_date(F.col("review_date"), "yyyy-MM-dd"))
    df = df.filter(F.col("review_date").isNotNull())
    df = df.dropDuplicates(["review_id"])

    mark = time.perf_counter()
    df.write.mode("overwrite").parquet(f"{out}/processed-data")
    seconds["write_processed"] = time.perf_counter() - mark

    df.createOrReplaceTempView("reviews")
    queries = {
        "daily_review_counts": """
            SELECT review_date, product_id, COUNT(*) AS review_count,
                   AVG(rating) AS avg_rating
            FROM reviews
            GROUP BY review_date, product_id""",
        "top_5_customers": """
            SELECT CAST(ROW_NUMBER() OVER (ORDER BY review_count DESC, customer_id) AS INT)
                       AS rank,
                   customer_id, review_count, avg_rating
            FROM (SELECT customer_id, COUNT(*) AS review_count, AVG(rating) AS avg_rating
                  FROM reviews
                  GROUP BY customer_id
                  ORDER BY review_count DESC, customer_id
                  LIMIT 5) t""",
        "rating_distribution": """
            SELECT rating, COUNT(*) AS review_count,
                   COUNT(*) / SUM(COUNT(*)) OVER () AS share
            FROM reviews
            GROUP BY rating
            ORDER BY rating""",
    }
    for name, query in queries.items():
        mark = time.perf_counter()
        spark.sql(query).write.mode("overwrite").parquet(f"{out}/Athena Results/{name}")
        seconds[f"write_{name}"] = time.perf_counter() - mark

    spark.stop()
    seconds["total"] = time.perf_counter() - start
    print(json.dumps({"implementation": "seed_style", "stage_seconds": seconds}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
