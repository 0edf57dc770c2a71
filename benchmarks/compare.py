"""Agreement checks between the three implementations' outputs, done with DuckDB on Parquet.

(a) our pipeline and (b) the DuckDB implementation follow the same contract, so they are
compared strictly: counts per reject reason (from (a)'s run manifest ``_runs/<run_id>.json``,
from (b)'s manifest, and recounted from both quarantines), the curated rows (all six
normalised columns, as multisets), the quarantined rows (raw fields and reason; for
``malformed_row`` the raw record only, since the two parsers keep different partial fields),
and the three analyses (all columns; ``avg_rating`` and ``share`` within 1e-9).

(c) the seed-style job has no quarantine and different parse semantics, so its analyses are
compared with an *expectation*: the contract's analyses recomputed over (a)'s curated rows
plus the records that Spark's PERMISSIVE mode hands a job like (c) although the contract
rejects them as ``malformed_row`` - those in (a)'s quarantine whose parsed fields pass rules
2-8 (records with more fields than the header, truncated; records missing only trailing
optional fields). ``rating_distribution`` is compared on the ratings (c) emits (it has no
row for a rating with no reviews; the expectation must then have a zero count there).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import duckdb_impl

from reviews_etl.columns import REJECT_REASONS

ANALYSES = ("daily_review_counts", "top_5_customers", "rating_distribution")
KEYS = {
    "daily_review_counts": ("review_date", "product_id"),
    "top_5_customers": ("rank",),
    "rating_distribution": ("rating",),
}
FLOAT_COLUMNS = ("avg_rating", "share")
TOLERANCE = 1e-9
CURATED_COLUMNS = "review_id, product_id, customer_id, rating, review_date, review_text"
RAW_FIELDS = "review_id, product_id, customer_id, rating, review_date, review_text"
WHITESPACE_SQL = duckdb_impl.WHITESPACE_SQL  # the same trimming, one spelling


@dataclass
class CheckResult:
    """Problems found (empty means agreement) and what was compared."""

    problems: list[str] = field(default_factory=list)
    compared: list[str] = field(default_factory=list)

    @property
    def agree(self) -> bool:
        return not self.problems

    def extend(self, other: CheckResult) -> None:
        self.problems.extend(other.problems)
        self.compared.extend(other.compared)


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _glob(root: Path, *parts: str) -> str:
    return _q(str(root.joinpath(*parts)))


def _curated(root: Path) -> str:
    return f"read_parquet({_glob(root, 'processed-data', '*', '*.parquet')})"


def _rejected(root: Path) -> str:
    return f"read_parquet({_glob(root, 'rejected', '*', '*.parquet')})"


def _rows(con: duckdb.DuckDBPyConnection, query: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in con.execute(query).fetchall()]


def counts_from_manifest(manifest: Mapping[str, Any]) -> dict[str, int]:
    by_reason = manifest["rejects_by_reason"]
    counts = {reason: int(by_reason.get(reason, 0)) for reason in REJECT_REASONS}
    counts["rows_read"] = int(manifest["rows_read"])
    counts["rows_accepted"] = int(manifest["rows_accepted"])
    counts["rows_rejected"] = int(manifest["rows_rejected"])
    return counts


def check_counts(
    a: Mapping[str, Any], b: Mapping[str, Any], expected_records: int | None = None
) -> CheckResult:
    """Rows read, accepted, rejected and per reason, from the two run manifests."""
    result = CheckResult(compared=["manifest counts: rows read/accepted/rejected, 9 reasons"])
    ca, cb = counts_from_manifest(a), counts_from_manifest(b)
    for key in ca:
        if ca[key] != cb[key]:
            result.problems.append(f"count {key}: pipeline {ca[key]:,} != duckdb {cb[key]:,}")
    for name, counts in (("pipeline", ca), ("duckdb", cb)):
        if counts["rows_read"] != counts["rows_accepted"] + counts["rows_rejected"]:
            result.problems.append(f"{name}: rows_read != accepted + rejected")
        if counts["rows_rejected"] != sum(counts[r] for r in REJECT_REASONS):
            result.problems.append(f"{name}: rows_rejected != sum of reasons")
        if expected_records is not None and counts["rows_read"] != expected_records:
            result.problems.append(
                f"{name}: rows_read {counts['rows_read']:,} != {expected_records:,} records"
            )
    return result


def _parquet_counts(con: duckdb.DuckDBPyConnection, root: Path) -> dict[str, int]:
    rejected = dict(
        _rows(
            con,
            f"SELECT reject_reason, count(*) FROM {_rejected(root)} GROUP BY reject_reason",
        )
    )
    counts = {reason: int(rejected.get(reason, 0)) for reason in REJECT_REASONS}
    curated = _rows(con, f"SELECT count(*) FROM {_curated(root)}")
    counts["rows_accepted"] = int(curated[0][0])
    counts["rows_rejected"] = sum(counts[r] for r in REJECT_REASONS)
    counts["rows_read"] = counts["rows_accepted"] + counts["rows_rejected"]
    return counts


def _multiset_diff(
    con: duckdb.DuckDBPyConnection, left: str, right: str, label: str, names: Sequence[str]
) -> list[str]:
    problems = []
    for (x, y), (nx, ny) in (((left, right), names), ((right, left), tuple(reversed(names)))):
        missing = _rows(con, f"SELECT count(*) FROM ({x} EXCEPT ALL {y})")[0][0]
        if missing:
            sample = _rows(con, f"SELECT * FROM ({x} EXCEPT ALL {y}) LIMIT 3")
            problems.append(f"{label}: {missing:,} row(s) in {nx} not in {ny}, e.g. {sample}")
    return problems


def _analysis_diff(
    name: str,
    left: list[dict[str, Any]],
    right: list[dict[str, Any]],
    names: tuple[str, str],
    keys_from_right_only: bool = False,
) -> list[str]:
    """Compare two analyses row by row on their key; floats within TOLERANCE."""
    key_cols = KEYS[name]
    lmap = {tuple(r[k] for k in key_cols): r for r in left}
    rmap = {tuple(r[k] for k in key_cols): r for r in right}
    problems: list[str] = []
    if len(lmap) != len(left) or len(rmap) != len(right):
        problems.append(f"{name}: duplicate keys {key_cols}")
    keys = set(rmap) if keys_from_right_only else set(lmap) | set(rmap)
    bad = 0
    examples: list[str] = []
    for key in sorted(keys, key=lambda k: tuple(str(v) for v in k)):
        lrow, rrow = lmap.get(key), rmap.get(key)
        if lrow is None or rrow is None:
            bad += 1
            if len(examples) < 3:
                where = names[0] if rrow is None else names[1]
                examples.append(f"{key} only in {where}")
            continue
        for col, lval in lrow.items():
            rval = rrow.get(col)
            if col in FLOAT_COLUMNS and lval is not None and rval is not None:
                same = math.isclose(float(lval), float(rval), rel_tol=TOLERANCE, abs_tol=TOLERANCE)
            else:
                same = lval == rval
            if not same:
                bad += 1
                if len(examples) < 3:
                    examples.append(f"{key} {col}: {names[0]} {lval!r} != {names[1]} {rval!r}")
                break
    if bad:
        problems.append(
            f"{name}: {bad:,} row(s) differ between {names[0]} and {names[1]}: "
            + "; ".join(examples)
        )
    return problems


def _read_analysis(con: duckdb.DuckDBPyConnection, root: Path, name: str) -> list[dict[str, Any]]:
    cur = con.execute(
        f"SELECT * FROM read_parquet({_glob(root, 'Athena Results', name, '*.parquet')})"
    )
    columns = [d[0] for d in cur.description]
    return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]


def check_contract_outputs(pipeline_root: Path, duckdb_root: Path, threads: int = 2) -> CheckResult:
    """(a) against (b): Parquet counts, curated rows, quarantine rows, analyses."""
    result = CheckResult()
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    pa, pb = _parquet_counts(con, pipeline_root), _parquet_counts(con, duckdb_root)
    result.compared.append("Parquet: curated row count and quarantine rows per reason")
    for key in pa:
        if pa[key] != pb[key]:
            result.problems.append(f"parquet {key}: pipeline {pa[key]:,} != duckdb {pb[key]:,}")

    names = ("pipeline", "duckdb")
    curated = [
        f"SELECT {CURATED_COLUMNS} FROM {_curated(root)}" for root in (pipeline_root, duckdb_root)
    ]
    result.compared.append(f"curated rows ({CURATED_COLUMNS}) as multisets")
    result.problems.extend(_multiset_diff(con, curated[0], curated[1], "curated", names))

    rejected = [
        f"read_parquet({_glob(root, 'rejected', '*', '*.parquet')})"
        for root in (pipeline_root, duckdb_root)
    ]
    not_malformed = "reject_reason <> 'malformed_row'"
    fields = ", ".join(f"coalesce({c}, '')" for c in RAW_FIELDS.split(", "))
    result.compared.append("quarantine rows: raw fields + reason (malformed_row: raw record)")
    result.problems.extend(
        _multiset_diff(
            con,
            f"SELECT {fields}, reject_reason FROM {rejected[0]} WHERE {not_malformed}",
            f"SELECT {fields}, reject_reason FROM {rejected[1]} WHERE {not_malformed}",
            "rejected",
            names,
        )
    )
    # The raw record of a malformed row, line breaks at its end aside.
    raw = "rtrim(raw_record, chr(10) || chr(13))"
    result.problems.extend(
        _multiset_diff(
            con,
            f"SELECT {raw} FROM {rejected[0]} WHERE reject_reason = 'malformed_row'",
            f"SELECT {raw} FROM {rejected[1]} WHERE reject_reason = 'malformed_row'",
            "rejected malformed_row raw_record",
            names,
        )
    )
    for name in ANALYSES:
        result.compared.append(f"{name}: all rows and columns")
        result.problems.extend(
            _analysis_diff(
                name,
                _read_analysis(con, pipeline_root, name),
                _read_analysis(con, duckdb_root, name),
                names,
            )
        )
    con.close()
    return result


def _trim(column: str) -> str:
    return f"trim({column}, {WHITESPACE_SQL})"


def expected_seed_analyses(
    con: duckdb.DuckDBPyConnection, pipeline_root: Path
) -> dict[str, list[dict[str, Any]]]:
    """The analyses a PERMISSIVE-parsing job like (c) should produce, from (a)'s outputs."""
    rejected = f"read_parquet({_glob(pipeline_root, 'rejected', '*', '*.parquet')})"
    curated = f"read_parquet({_glob(pipeline_root, 'processed-data', '*', '*.parquet')})"
    rating = _trim("rating")
    review_date = _trim("review_date")
    blank = " OR ".join(f"coalesce({_trim(c)}, '') = ''" for c in RAW_FIELDS.split(", ")[:5])
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE seed_rows AS
        SELECT review_id, product_id, customer_id, rating, review_date FROM {curated}
        UNION ALL
        SELECT {_trim("review_id")}, upper({_trim("product_id")}), {_trim("customer_id")},
               CAST(regexp_extract({rating}, '^0*([1-5])(\\.0+)?$', 1) AS INTEGER),
               try_cast({review_date} AS DATE)
        FROM {rejected}
        WHERE reject_reason = 'malformed_row' AND NOT ({blank})
          AND regexp_full_match({rating}, '0*([1-5])(\\.0+)?')
          AND regexp_full_match({review_date}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}')
          AND try_cast({review_date} AS DATE) IS NOT NULL
        """
    )
    queries = duckdb_impl.analysis_queries("seed_rows")
    out: dict[str, list[dict[str, Any]]] = {}
    for name, query in queries.items():
        cur = con.execute(query)
        columns = [d[0] for d in cur.description]
        out[name] = [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]
    extra = _rows(con, "SELECT count(*) FROM seed_rows")[0][0]
    out["_seed_rows"] = [{"rows": int(extra)}]
    return out


def check_seed_outputs(pipeline_root: Path, seed_root: Path, threads: int = 2) -> CheckResult:
    """(c) against the expectation built from (a); see the module docstring."""
    result = CheckResult()
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    expected = expected_seed_analyses(con, pipeline_root)
    names = ("expected from pipeline", "seed-style")
    for name in ANALYSES:
        actual = _read_analysis(con, seed_root, name)
        if name == "rating_distribution":
            present = {row["rating"] for row in actual}
            for row in expected[name]:
                if row["rating"] not in present and row["review_count"] != 0:
                    result.problems.append(
                        f"rating_distribution: seed-style has no row for rating {row['rating']} "
                        f"but {row['review_count']:,} reviews are expected"
                    )
            result.compared.append("seed rating_distribution: ratings present in (c), all columns")
            result.problems.extend(
                _analysis_diff(name, expected[name], actual, names, keys_from_right_only=True)
            )
        else:
            result.compared.append(f"seed {name}: all rows and columns")
            result.problems.extend(_analysis_diff(name, expected[name], actual, names))
    result.compared.append(
        f"seed rows expected: {expected['_seed_rows'][0]['rows']:,} "
        "(pipeline curated + PERMISSIVE-kept malformed records)"
    )
    con.close()
    return result
