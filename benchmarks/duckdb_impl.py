"""The reviews-etl contract (docs/data-contract.md) implemented in DuckDB: a baseline and an oracle.

One CSV in, the same output layout out: ``processed-data/source_id=<id>/``,
``rejected/source_id=<id>/``, ``Athena Results/{daily_review_counts,top_5_customers,
rating_distribution}/`` as Parquet and ``_runs/<run_id>.json``. The cleaning rules, their
order and the reject reasons are the contract's:

1. ``malformed_row``: the record does not parse into the header's number of fields. DuckDB's
   ``read_csv`` runs with ``strict_mode`` and ``store_rejects``: such a record lands in the
   ``reject_errors`` table (one line per error, grouped back to one record here) instead of
   the data, so every record is either a data row or a stored reject.
2-8. ``missing_*`` (blank after trimming whitespace), ``invalid_rating`` (not a whole number
   1..5), ``invalid_review_date`` (not a real ``yyyy-MM-dd`` date).
9. ``duplicate_review_id``: not the first, in file order, among rows passing rules 1-8
   (compared on the trimmed id). File order is the table's ``rowid``: the CSV is loaded with
   ``preserve_insertion_order`` on.

The analyses are computed, as in the contract, over all curated data under the output root
after keeping the newest row per ``review_id``. Only the Python standard library and duckdb
are imported (no pyspark), so the process measures DuckDB alone.

Usage: ``python benchmarks/duckdb_impl.py INPUT.csv --output DIR [--threads 2]``; prints the
run manifest as JSON.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import io
import json
import os
import shutil
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from reviews_etl.columns import COLUMN_ALIASES, RAW_COLUMNS, REJECT_REASONS, REQUIRED_COLUMNS
from reviews_etl.config import DEFAULT_TOP_N
from reviews_etl.manifest import Stopwatch

# Names (not rules) come from the library's Spark-free modules, so there is one spelling of
# each; the rules below are implemented independently, in SQL.
REQUIRED = REQUIRED_COLUMNS
ALIASES = COLUMN_ALIASES
TOP_N = DEFAULT_TOP_N
# What reviews_etl trims (docs/data-contract.md): every character Python's str.strip()
# removes, i.e. all Unicode whitespace, by code point.
WHITESPACE_SQL = (
    "chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(28) || chr(29) || "
    "chr(30) || chr(31) || chr(32) || chr(133) || chr(160) || chr(5760) || chr(8192) || "
    "chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197) || chr(8198) || "
    "chr(8199) || chr(8200) || chr(8201) || chr(8202) || chr(8232) || chr(8233) || "
    "chr(8239) || chr(8287) || chr(12288)"
)
RATING_PATTERN = r"0*([1-5])(\.0+)?"
DATE_PATTERN = r"([0-9]{4})-([0-9]{2})-([0-9]{2})"


class ContractError(Exception):
    """The input breaks the input contract (refused before anything is written)."""


def header_positions(path: Path) -> tuple[list[str], dict[str, int]]:
    """The header as written and where each contract column sits (trimmed, any case, alias)."""
    if path.stat().st_size == 0:
        raise ContractError(f"{path}: zero-byte file (not even a header row)")
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        head = handle.read(1 << 20)
    header = next((row for row in csv.reader(io.StringIO(head)) if row), None)
    if header is None:
        raise ContractError(f"{path}: no header row")
    names = [name.strip() for name in header]
    positions: dict[str, int] = {}
    for index, name in enumerate(names):
        canonical = ALIASES.get(name.lower(), name.lower())
        if canonical in RAW_COLUMNS and canonical not in positions:
            positions[canonical] = index
    missing = [column for column in REQUIRED if column not in positions]
    if missing:
        raise ContractError(f"{path}: missing required columns {missing} (header: {names})")
    return names, positions


def source_id_for(path: Path) -> str:
    """The same folder key as ``reviews_etl.paths.source_id_for`` for a local path."""
    return hashlib.sha256(os.path.abspath(path).encode("utf-8")).hexdigest()[:16]


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _trimmed(column: str) -> str:
    return f"trim({column}, {WHITESPACE_SQL})"


def _blank(expr: str) -> str:
    return f"coalesce({expr}, '') = ''"


def _copy(con: duckdb.DuckDBPyConnection, query: str, folder: Path) -> None:
    """Replace ``folder`` with the query's rows as one Parquet file."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    target = folder / "part-00000.parquet"
    con.execute(f"COPY ({query}) TO {_sql_str(str(target))} (FORMAT parquet, COMPRESSION snappy)")


def analysis_queries(table: str) -> dict[str, str]:
    """The three analyses over ``table`` (review_id, product_id, customer_id, rating,
    review_date), as DuckDB SQL: the contract's definitions, written once."""
    return {
        "daily_review_counts": f"""
            SELECT review_date, product_id, count(*) AS review_count,
                   avg(CAST(rating AS DOUBLE)) AS avg_rating
            FROM {table} GROUP BY review_date, product_id""",
        "top_5_customers": f"""
            SELECT CAST(row_number() OVER (ORDER BY review_count DESC, customer_id) AS INTEGER)
                       AS rank, customer_id, review_count, avg_rating
            FROM (SELECT customer_id, count(*) AS review_count,
                         avg(CAST(rating AS DOUBLE)) AS avg_rating
                  FROM {table} GROUP BY customer_id
                  ORDER BY review_count DESC, customer_id LIMIT {TOP_N})
            ORDER BY rank""",
        "rating_distribution": f"""
            WITH counts AS (
                SELECT r.rating, count(t.rating) AS review_count
                FROM (SELECT CAST(unnest(range(1, 6)) AS INTEGER) AS rating) r
                LEFT JOIN {table} t ON t.rating = r.rating
                GROUP BY r.rating
            )
            SELECT rating, review_count,
                   CASE WHEN sum(review_count) OVER () > 0
                        THEN review_count / sum(review_count) OVER () ELSE 0.0 END AS share
            FROM counts ORDER BY rating""",
    }


def run(source: Path, output: Path, threads: int = 2, run_id: str | None = None) -> dict[str, Any]:
    """Process one CSV into ``output``; returns the manifest (also written to ``_runs/``)."""
    started_at = dt.datetime.now(dt.UTC)
    run_id = run_id or f"{started_at:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    watch = Stopwatch()
    source = source.resolve()
    source_id = source_id_for(source)
    source_file = str(source)
    ingested_at = dt.datetime.now(dt.UTC)
    lineage = (
        f"{_sql_str(source_file)} AS source_file, {_sql_str(run_id)} AS run_id, "
        f"CAST(make_timestamp({int(ingested_at.timestamp() * 1_000_000)}) AS TIMESTAMPTZ) "
        "AS ingested_at"
    )
    curated_root = output / "processed-data"
    rejected_dir = output / "rejected" / f"source_id={source_id}"
    curated_dir = curated_root / f"source_id={source_id}"
    analyses_root = output / "Athena Results"

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET TimeZone = 'UTC'")

    with watch.stage("read"):
        names, positions = header_positions(source)
        by_position = {pos: name for name, pos in positions.items()}
        columns = {by_position.get(i, f"_ignored_{i}"): "VARCHAR" for i in range(len(names))}
        columns_sql = "{" + ", ".join(f"{_sql_str(k)}: {_sql_str(v)}" for k, v in columns.items())
        columns_sql += "}"
        # Every field as text; a record with the wrong number of fields goes to reject_errors.
        # parallel = false: DuckDB's parallel CSV reader cut 5 of 5,000,000 records with quoted
        # line breaks at its chunk edges (5,000,005 rows read, the pipeline 5,000,000); the
        # single-threaded reader parses them whole. The rest of the query still runs parallel.
        selected = ", ".join(c if c in positions else f"NULL::VARCHAR AS {c}" for c in RAW_COLUMNS)
        con.execute(
            f"""
            CREATE TABLE raw AS
            SELECT {selected}
            FROM read_csv({_sql_str(str(source))}, header = true, auto_detect = false,
                          columns = {columns_sql}, delim = ',', quote = '"', escape = '"',
                          all_varchar = true, strict_mode = true,
                          null_padding = false, store_rejects = true, parallel = false,
                          rejects_table = 'reject_errors', rejects_scan = 'reject_scans')
            """
        )
        con.execute(
            """
            CREATE TABLE malformed AS
            SELECT line_byte_position AS pos,
                   ltrim(any_value(csv_line), chr(13) || chr(10)) AS raw_record
            FROM reject_errors GROUP BY line_byte_position
            """
        )

    with watch.stage("clean"):
        t = {c: _trimmed(c) for c in RAW_COLUMNS}
        rules = [
            (_blank(t["review_id"]), "missing_review_id"),
            (_blank(t["product_id"]), "missing_product_id"),
            (_blank(t["customer_id"]), "missing_customer_id"),
            (_blank(t["rating"]), "missing_rating"),
            (f"NOT regexp_full_match({t['rating']}, '{RATING_PATTERN}')", "invalid_rating"),
            (_blank(t["review_date"]), "missing_review_date"),
            ("clean_review_date IS NULL", "invalid_review_date"),
        ]
        first_failure = "CASE " + " ".join(f"WHEN {c} THEN '{r}'" for c, r in rules) + " END"
        date_ok = (
            f"regexp_full_match({t['review_date']}, '{DATE_PATTERN}') "
            f"AND {t['review_date']} >= '0001'"
        )
        con.execute(
            f"""
            CREATE TABLE labelled AS
            WITH parsed AS (
                SELECT rowid AS file_row, *,
                       {t["review_id"]} AS clean_review_id,
                       upper({t["product_id"]}) AS clean_product_id,
                       {t["customer_id"]} AS clean_customer_id,
                       TRY_CAST(regexp_extract({t["rating"]}, '^{RATING_PATTERN}$', 1) AS INTEGER)
                           AS clean_rating,
                       CASE WHEN {date_ok} THEN try_cast({t["review_date"]} AS DATE) END
                           AS clean_review_date,
                       nullif({t["review_text"]}, '') AS clean_review_text
                FROM raw
            ), ruled AS (
                SELECT *, {first_failure} AS reason FROM parsed
            )
            SELECT *,
                   CASE WHEN reason IS NULL AND file_row <> min(file_row)
                             FILTER (WHERE reason IS NULL) OVER (PARTITION BY clean_review_id)
                        THEN 'duplicate_review_id' ELSE reason END AS reject_reason
            FROM ruled
            """
        )
        counts = dict(
            con.execute(
                "SELECT reject_reason, count(*) FROM labelled GROUP BY reject_reason"
            ).fetchall()
        )
        malformed_count = con.execute("SELECT count(*) FROM malformed").fetchone()
        by_reason = {reason: int(counts.get(reason, 0)) for reason in REJECT_REASONS}
        by_reason["malformed_row"] = int(malformed_count[0]) if malformed_count else 0
        accepted = int(counts.get(None, 0))
        rows_rejected = sum(by_reason.values())
        rows_read = accepted + rows_rejected

    with watch.stage("write_rejected"):
        raw_fields = ", ".join(RAW_COLUMNS)
        null_fields = ", ".join(f"NULL::VARCHAR AS {c}" for c in RAW_COLUMNS)
        _copy(
            con,
            f"""
            SELECT {raw_fields}, NULL::VARCHAR AS raw_record, reject_reason, {lineage}
            FROM labelled WHERE reject_reason IS NOT NULL
            UNION ALL
            SELECT {null_fields}, raw_record, 'malformed_row' AS reject_reason, {lineage}
            FROM malformed
            """,
            rejected_dir,
        )

    with watch.stage("write_curated"):
        _copy(
            con,
            f"""
            SELECT clean_review_id AS review_id, clean_product_id AS product_id,
                   clean_customer_id AS customer_id, clean_rating AS rating,
                   clean_review_date AS review_date, clean_review_text AS review_text, {lineage}
            FROM labelled WHERE reject_reason IS NULL
            """,
            curated_dir,
        )

    with watch.stage("analyses"):
        con.execute("DROP TABLE labelled")
        con.execute("DROP TABLE raw")
        curated_glob = _sql_str(str(curated_root / "*" / "*.parquet"))
        # Every batch received so far; the newest row per review_id wins.
        con.execute(
            f"""
            CREATE TABLE latest AS
            SELECT review_id,
                   arg_max(struct_pack(product_id, customer_id, rating, review_date),
                           struct_pack(ingested_at, source_id)) AS newest
            FROM read_parquet({curated_glob}, hive_partitioning = true)
            GROUP BY review_id
            """
        )
        con.execute(
            """
            CREATE TABLE latest_rows AS
            SELECT review_id, newest.product_id AS product_id, newest.customer_id AS customer_id,
                   newest.rating AS rating, newest.review_date AS review_date
            FROM latest
            """
        )
        analyses = analysis_queries("latest_rows")
        for name, query in analyses.items():
            con.execute(f"CREATE TABLE {name} AS {query}")
        outputs = {"curated": accepted, "rejected": rows_rejected}
        for name in analyses:
            row = con.execute(f"SELECT count(*) FROM {name}").fetchone()
            outputs[name] = int(row[0]) if row else 0

    with watch.stage("write_analyses"):
        for name in analyses:
            _copy(con, f"SELECT * FROM {name}", analyses_root / name)

    con.close()
    manifest: dict[str, Any] = {
        "run_id": run_id,
        "status": "succeeded",
        "implementation": "duckdb",
        "started_at": started_at.isoformat(),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(),
        "sources": [source_file],
        "rows_read": rows_read,
        "rows_accepted": accepted,
        "rows_rejected": rows_rejected,
        "rejects_by_reason": by_reason,
        "outputs": outputs,
        "stage_seconds": {k: round(v, 3) for k, v in watch.seconds.items()},
        "versions": {"duckdb": duckdb.__version__, "python": sys.version.split()[0]},
        "threads": threads,
    }
    runs = output / "_runs"
    runs.mkdir(parents=True, exist_ok=True)
    (runs / f"{run_id}.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("source", type=Path, help="review CSV")
    parser.add_argument("--output", type=Path, required=True, help="output root folder")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (default 2)")
    parser.add_argument("--run-id", default=None)
    args = parser.parse_args(argv)
    try:
        manifest = run(args.source, args.output, args.threads, args.run_id)
    except ContractError as exc:
        print(f"duckdb_impl: error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(manifest, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
