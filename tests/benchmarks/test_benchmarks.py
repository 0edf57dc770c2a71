"""The benchmarks: smoke tests that they run and that their checks hold, plus fast tests of the
DuckDB oracle, the agreement checks and the harness's arithmetic.

The smoke tests run ``benchmarks/run.py`` (three implementations and the Spark floor),
``benchmarks/burst.py`` and ``benchmarks/history.py`` as subprocesses at tiny sizes with one
repeat, and assert exit status 0, agreement and the structure of the JSON, never timings.
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

from tests.support import REPO_ROOT as REPO

BENCHMARK = REPO / "benchmarks" / "run.py"
BURST = REPO / "benchmarks" / "burst.py"
HISTORY = REPO / "benchmarks" / "history.py"
ROWS = 20_000
TINY_RECORDS = 19


def _run_script(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )


@pytest.mark.slow
def test_benchmark_implementations_agree(tmp_path: Path) -> None:
    # The floor's multiLine=False variant and --variant candidates are left out: each is
    # one more Spark process, and both go through the same code as what runs here.
    results_path = tmp_path / "results.json"
    done = _run_script(
        BENCHMARK,
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
        "--impls",
        "pipeline",
        "duckdb",
        "seed_style",
        "spark_floor",
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    results = json.loads(results_path.read_text(encoding="utf-8"))
    assert results["agree"] is True

    (size,) = results["sizes"]
    assert size["rows"] == ROWS
    assert size["checks"]["agree"] is True
    assert size["checks"]["problems"] == []
    assert size["checks"]["skipped"] == []
    assert size["checks"]["not_compared"] == ["spark_floor: a reference, no contract"]
    for impl in ("pipeline", "duckdb", "seed_style", "spark_floor"):
        summary = size["implementations"][impl]["summary"]
        assert summary["runs_ok"] == 1
        assert summary["runs_failed"] == 0
    # The input is the realistic sample, reported with its size.
    assert size["input"]["rows"] == ROWS
    assert size["input"]["bytes_per_row"] == pytest.approx(size["input"]["bytes"] / ROWS, 0.01)
    assert size["input"]["generator"]
    floor_run = size["implementations"]["spark_floor"]["runs"][0]
    assert floor_run["partitions"] == 1  # multiLine: the whole file is one partition
    assert floor_run["heap_max"] == "2g"
    for ratio in ("pipeline_over_floor", "seed_style_over_pipeline", "pipeline_over_duckdb"):
        assert size["ratios"][ratio] > 0
    assert size["ratios"]["pipeline_over_floor_lines"] is None  # not run
    targets = size["targets"]
    for met in ("over_floor_met", "speedup_met", "over_duckdb_met"):
        assert isinstance(targets[met], bool)  # evaluated, whatever the outcome
    assert targets["heap_no_oom_met"] is True
    assert results["per_row_target"]["met"] is None  # needs two sizes of 1M rows or more
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


@pytest.mark.slow
def test_burst_processes_every_file(tmp_path: Path) -> None:
    files, rows = 6, 500
    results_path = tmp_path / "burst.json"
    done = _run_script(
        BURST,
        "--files",
        str(files),
        "--rows-per-file",
        str(rows),
        "--work-dir",
        str(tmp_path / "work"),
        "--json",
        str(results_path),
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    result = json.loads(results_path.read_text(encoding="utf-8"))
    assert result["ok"] is True
    assert result["problems"] == []
    summary = result["summary"]
    assert summary["runs"] >= 1
    assert summary["files_by_status"] == {"succeeded": files}
    assert sum(summary["batches_per_run"]) == files
    assert summary["rows_read"] == files * rows
    assert summary["burst_wall_median_s"] > 0
    assert summary["single_wall_median_s"] > 0
    assert summary["burst_over_single"] > 0
    assert isinstance(summary["met"], bool)
    (repeat,) = result["repeats"]
    assert repeat["single"]["outcome"]["rows_read"] == files * rows
    assert repeat["burst"]["heap_max"] == "2g"


@pytest.mark.slow
def test_history_reports_the_curve(tmp_path: Path) -> None:
    results_path = tmp_path / "history.json"
    done = _run_script(
        HISTORY,
        "--prefill",
        "0",
        "5000",
        "--rows",
        "1000",
        "--repeats",
        "1",
        "--work-dir",
        str(tmp_path / "work"),
        "--json",
        str(results_path),
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    result = json.loads(results_path.read_text(encoding="utf-8"))
    assert result["ok"] is True
    empty, filled = result["sizes"]
    assert empty["prefill"]["curated_rows"] == 0
    assert 0 < filled["prefill"]["curated_rows"] <= 5000
    for size, batches in ((empty, 1), (filled, 2)):
        (run,) = size["runs"]
        assert run["returncode"] == 0
        assert run["manifest"]["rows_read"] == 1000
        assert run["curated_batches"] == batches
        assert run["analysed_review_ids"] > 0
        assert size["summary"]["wall_median_s"] > 0
        assert set(size["summary"]["stage_seconds"]) >= {"analyses", "write_analyses"}
    first, second = result["curve"]
    assert (first["prefill_rows"], second["prefill_rows"]) == (0, 5000)
    assert first["over_first"] == 1.0
    assert second["over_first"] > 0
    assert second["extra_s_per_million_curated"] is not None


def test_targets_and_ratios() -> None:
    run = _load("run")

    def summary(wall: float | None, heap: str | None = None, failed: int = 0) -> dict[str, object]:
        return {"wall_median_s": wall, "heap_max": heap, "runs_failed": failed}

    summaries = {
        "pipeline": summary(50.0, "2g"),
        "duckdb": summary(10.0),
        "seed_style": summary(160.0),
        "spark_floor": summary(25.0),
    }
    ratios = run.ratios(summaries)
    assert ratios["pipeline_over_floor"] == 2.0
    assert ratios["seed_style_over_pipeline"] == 3.2
    assert ratios["pipeline_over_duckdb"] == 5.0
    assert ratios["pipeline_over_floor_lines"] is None
    targets = run.targets(summaries)
    assert targets["over_floor_met"] is True
    assert targets["speedup_met"] is True
    assert targets["over_duckdb_met"] is False
    assert targets["heap_no_oom_met"] is True
    summaries["pipeline"] = summary(50.0, "4g")
    assert run.targets(summaries)["heap_met"] is False
    summaries["pipeline"] = summary(50.0, "2g", failed=1)
    assert run.targets(summaries)["heap_no_oom_met"] is False

    def size(rows: int, us: float) -> dict[str, object]:
        return {"rows": rows, "implementations": {"pipeline": {"summary": {"us_per_row": us}}}}

    flat = run.per_row_target([size(20_000, 900.0), size(1_000_000, 20.0), size(5_000_000, 21.0)])
    assert flat["max_growth"] == 1.05
    assert flat["met"] is True
    assert run.per_row_target([size(1_000_000, 20.0), size(20_000_000, 25.0)])["met"] is False
    assert run.per_row_target([size(5_000_000, 20.0)])["met"] is None


def test_floor_and_variant_commands(tmp_path: Path) -> None:
    run = _load("run")
    script = tmp_path / "candidate.py"
    script.write_text("", encoding="utf-8")
    args = run.parse_args(["--rows", "10", "--variant", f"cand={script}"])
    assert args.impls[-1] == "variant:cand"
    assert set(run.IMPLEMENTATIONS) <= set(args.impls)
    source, out = tmp_path / "in.csv", tmp_path / "out"
    floor = run.command_for("spark_floor", source, out, args)
    lines = run.command_for("spark_floor_lines", source, out, args)
    assert floor[1].endswith("spark_floor.py")
    assert "--no-multiline" not in floor
    assert lines[-1] == "--no-multiline"
    assert floor[floor.index("--driver-memory") + 1] == "2g"
    variant = run.command_for("variant:cand", source, out, args)
    assert variant[:3] == [sys.executable, str(script.resolve()), "run"]


def test_burst_split_is_faithful(tmp_path: Path) -> None:
    from reviews_etl.sample import write_sample_file

    burst = _load("burst")
    source = write_sample_file(tmp_path / "all.csv", 300, seed=5)
    parts = burst.split_input(source, tmp_path / "parts", 3, 100)
    assert [p.name for p in parts] == ["part-0001.csv", "part-0002.csv", "part-0003.csv"]
    header, *records = source.read_text(encoding="utf-8").split("\n", 1)
    assert records
    texts = [p.read_text(encoding="utf-8") for p in parts]
    assert all(text.startswith(header + "\n") for text in texts)
    assert "".join(text[len(header) + 1 :] for text in texts) == records[0]
    # Cut once, then reused.
    stamp = parts[0].stat().st_mtime_ns
    assert burst.split_input(source, tmp_path / "parts", 3, 100) == parts
    assert parts[0].stat().st_mtime_ns == stamp
