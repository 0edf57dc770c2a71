"""The benchmark command: a smoke test that the three implementations run and agree, plus fast
tests of the DuckDB oracle and of the agreement checks.

The smoke test runs ``benchmarks/run.py`` as a subprocess at a small size with one repeat and
asserts agreement (exit status 0 and ``"agree": true`` in the JSON), never timings.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

# Every test here needs DuckDB (a dev dependency): the oracle and the checks use it.
import duckdb
import pytest

REPO = Path(__file__).resolve().parent.parent
BENCHMARK = REPO / "benchmarks" / "run.py"
ROWS = 20_000
TINY_RECORDS = 19


@pytest.mark.slow
def test_benchmark_implementations_agree(tmp_path: Path) -> None:
    results_path = tmp_path / "results.json"
    done = subprocess.run(
        [
            sys.executable,
            str(BENCHMARK),
            "--rows",
            str(ROWS),
            "--repeats",
            "1",
            "--work-dir",
            str(tmp_path / "work"),
            "--json",
            str(results_path),
            "--trigger-events",
            "20",
            "--variant",
            "compressed=benchmarks/candidates/compressed_cache.py",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    results = json.loads(results_path.read_text(encoding="utf-8"))
    assert results["agree"] is True

    (size,) = results["sizes"]
    assert size["rows"] == ROWS
    assert size["checks"]["agree"] is True
    assert size["checks"]["problems"] == []
    assert size["checks"]["skipped"] == []
    for impl in ("pipeline", "duckdb", "seed_style", "variant:compressed"):
        summary = size["implementations"][impl]["summary"]
        assert summary["runs_ok"] == 1
        assert summary["runs_failed"] == 0
    # Every record is accounted for, and every reject reason occurs in the sample.
    manifest = size["implementations"]["pipeline"]["runs"][0]["manifest"]
    assert manifest["rows_read"] == ROWS
    assert manifest["rows_read"] == manifest["rows_accepted"] + manifest["rows_rejected"]
    assert all(count > 0 for count in manifest["rejects_by_reason"].values())
    assert set(size["pipeline_stages"]) >= {"read", "clean", "analyses", "write_analyses"}


def _load(name: str) -> ModuleType:
    """A module of benchmarks/ (a folder of scripts, not a package, importing each other)."""
    if str(REPO / "benchmarks") not in sys.path:
        sys.path.insert(0, str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location(
        f"benchmarks_{name}", REPO / "benchmarks" / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


TINY_CSV = (
    "Review_ID , product_id,customer_id,STAR_RATING,review_date,review_text,extra\n"
    "r1,p-1,c1,4,2024-01-01,fine,x\n"
    'r2,p-1,c2, 4 ,2024-01-01,"multi\nline, ""quoted""",x\n'
    "r3,p-2,c1,4.0,2024-02-29,  ,x\n"
    "r4,p-2,c3,04,2024-01-02,ok,x\n"
    "only_one_field\n"
    "r5,p-1,c1,4,2024-01-01,too,many,fields\n"
    "  ,p-1,c1,4,2024-01-01,,x\n"
    "r6, ,c1,4,2024-01-01,,x\n"
    "r7,p-1,\t,4,2024-01-01,,x\n"
    "r8,p-1,c1,,2024-01-01,,x\n"
    "r9,p-1,c1,4.5,2024-01-01,,x\n"
    "r10,p-1,c1,0,2024-01-01,,x\n"
    "r11,p-1,c1,6,2024-01-01,,x\n"
    "r12,p-1,c1,five,2024-01-01,,x\n"
    "r13,p-1,c1,5,,,x\n"
    "r14,p-1,c1,5,2024-02-30,,x\n"
    "r15,p-1,c1,5,2024/01/05,,x\n"
    " r1 ,p-9,c9,1,2024-03-01,dup,x\n"
    "r12,p-3,c4,2,2024-03-02,first valid r12,x\n"
)


def test_duckdb_oracle_applies_the_contract(tmp_path: Path) -> None:
    duckdb_impl = _load("duckdb_impl")
    source = tmp_path / "tiny.csv"
    source.write_text(TINY_CSV, encoding="utf-8")
    manifest = duckdb_impl.run(source, tmp_path / "out")
    assert manifest["rows_read"] == TINY_RECORDS
    assert manifest["rows_accepted"] == 5
    assert manifest["rejects_by_reason"] == {
        "malformed_row": 2,
        "missing_review_id": 1,
        "missing_product_id": 1,
        "missing_customer_id": 1,
        "missing_rating": 1,
        "invalid_rating": 4,
        "missing_review_date": 1,
        "invalid_review_date": 2,
        "duplicate_review_id": 1,
    }
    con = duckdb.connect()
    curated = con.execute(
        f"SELECT review_id, product_id, rating, CAST(review_date AS VARCHAR), review_text "
        f"FROM read_parquet('{tmp_path}/out/processed-data/*/*.parquet') ORDER BY review_id"
    ).fetchall()
    assert curated == [
        ("r1", "P-1", 4, "2024-01-01", "fine"),
        ("r12", "P-3", 2, "2024-03-02", "first valid r12"),
        ("r2", "P-1", 4, "2024-01-01", 'multi\nline, "quoted"'),
        ("r3", "P-2", 4, "2024-02-29", None),
        ("r4", "P-2", 4, "2024-01-02", "ok"),
    ]


def test_checks_report_a_disagreement(tmp_path: Path) -> None:
    duckdb_impl = _load("duckdb_impl")
    compare = _load("compare")
    source = tmp_path / "tiny.csv"
    source.write_text(TINY_CSV, encoding="utf-8")
    first = duckdb_impl.run(source, tmp_path / "a")
    second = duckdb_impl.run(source, tmp_path / "b")
    assert compare.check_counts(first, second, expected_records=TINY_RECORDS).agree
    assert compare.check_contract_outputs(tmp_path / "a", tmp_path / "b").agree

    second["rejects_by_reason"]["invalid_rating"] += 1
    assert not compare.check_counts(first, second).agree

    con = duckdb.connect()
    top = tmp_path / "b" / "Athena Results" / "top_5_customers" / "part-00000.parquet"
    changed = con.execute(
        f"SELECT rank, customer_id, review_count + 1 AS review_count, avg_rating "
        f"FROM read_parquet('{top}')"
    ).fetchall()
    assert changed
    con.execute(
        "CREATE TABLE t AS SELECT * FROM (VALUES "
        + ", ".join(f"({r}, '{c}', {n}, {a})" for r, c, n, a in changed)
        + ") v(rank, customer_id, review_count, avg_rating)"
    )
    con.execute(f"COPY t TO '{top}' (FORMAT parquet)")
    result = compare.check_contract_outputs(tmp_path / "a", tmp_path / "b")
    assert not result.agree
    assert any("top_5_customers" in problem for problem in result.problems)
