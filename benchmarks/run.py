"""The benchmark: one command that generates the input, runs three implementations and the Spark
floor as separate processes, checks that the implementations agree, and reports time,
throughput, memory and the ratios behind the issue's targets.

    python benchmarks/run.py --rows 1000000 --repeats 3 --json bench-out/results-1m.json

For each size: ``reviews-etl sample --rows N --seed S`` writes the input (default dirty share,
so every reject reason occurs); then, ``--repeats`` times and interleaved, each of

(a) ``pipeline``: our pipeline through the public runner, ``reviews-etl run FILE --output DIR
    --json --driver-memory 2g`` (local Spark, driver heap 2 GiB);
(b) ``duckdb``: ``benchmarks/duckdb_impl.py``, the same contract in DuckDB (2 threads);
(c) ``seed_style``: ``benchmarks/seed_style_job.py``, the original class script's style;
(d) ``spark_floor``: ``benchmarks/spark_floor.py``, a reference with no contract: the same
    Spark, master and driver heap read the CSV (``multiLine``, all strings) and write it once
    as Parquet, nothing else; ``spark_floor_lines`` (d') is the same with ``multiLine=False``
    (splittable, but it splits records with quoted newlines: a reference only);

runs as a whole separate process into a fresh output folder: wall time includes interpreter
and JVM start-up. Memory is the peak RSS of the process tree, Spark's JVM included (see
``benchmarks/procmon.py`` for whose memory exactly). Then the outputs are checked (see
``benchmarks/compare.py``): (a) and (b) must agree on every count, curated row, quarantined row
and analysis; (c) on the analyses, where its semantics allow; (d) is never compared (it has no
contract). Finally the trigger's cost is measured (``benchmarks/trigger_cost.py``).

The input's size is reported in bytes and bytes per row; a generated input is reused by later
runs only when ``reviews_etl/sample.py`` is unchanged (its hash is kept beside the file).

The burst and history benchmarks are ``benchmarks/burst.py`` and ``benchmarks/history.py``.

Exit status: 0 when every run succeeded and every check agreed, 1 on a disagreement, 2 when a
run failed. Timings never change the exit status.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import compare
import procmon
import trigger_cost

from reviews_etl.manifest import STAGES

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
IMPLEMENTATIONS = ("pipeline", "duckdb", "seed_style", "spark_floor", "spark_floor_lines")
LABELS = {
    "pipeline": "(a) pipeline",
    "duckdb": "(b) duckdb",
    "seed_style": "(c) seed-style",
    "spark_floor": "(d) Spark floor",
    "spark_floor_lines": "(d') floor, lines",
}
# References with no contract: timed like the others, never compared.
FLOORS = ("spark_floor", "spark_floor_lines")
# --variant NAME=SCRIPT: a candidate runner measured and checked like (a), labelled (a') NAME.
VARIANT_PREFIX = "variant:"
# The issue's targets, evaluated at every size (they are defined at 5M rows).
TARGET_RATIO_VS_FLOOR = 2.5  # pipeline wall <= 2.5 x the Spark floor's (multiLine)
TARGET_SPEEDUP_VS_SEED = 3.0  # seed-style wall >= 3 x the pipeline's
TARGET_RATIO_VS_DUCKDB = 4.0  # pipeline wall <= 4 x DuckDB's
TARGET_HEAP = "2g"  # driver heap, and no run of the pipeline fails (no OOM)
# Per-row time "flat from 1M to 20M": over the sizes of one run from PER_ROW_FROM rows up,
# no size's pipeline us/row exceeds the smallest such size's by more than this factor.
PER_ROW_FROM = 1_000_000
TARGET_PER_ROW_GROWTH = 1.10
OOM_MARKERS = ("OutOfMemoryError", "Java heap space", "GC overhead limit exceeded")


def _console_script(name: str) -> list[str]:
    local = Path(sys.executable).parent / name
    if local.exists():
        return [str(local)]
    found = shutil.which(name)
    if found:
        return [found]
    return [sys.executable, "-m", "reviews_etl.cli"]


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    info["memory_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    for package in ("pyspark", "duckdb", "reviews-etl"):
        try:
            info[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            info[package] = None
    try:
        java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
        info["java"] = (java.stderr or java.stdout).strip().splitlines()[0]
    except OSError:
        info["java"] = None
    return info


def sample_generator_hash() -> str | None:
    """Hash of ``reviews_etl/sample.py``: an input written by another generator (e.g. the old
    short texts) is never reused."""
    spec = importlib.util.find_spec("reviews_etl.sample")
    if spec is None or spec.origin is None:
        return None
    return hashlib.sha256(Path(spec.origin).read_bytes()).hexdigest()[:16]


def ensure_input(work: Path, rows: int, seed: int) -> dict[str, Any]:
    """Write the input CSV with ``reviews-etl sample`` (reused when already there, written by
    the same generator)."""
    path = work / "inputs" / f"reviews-{rows}-seed{seed}.csv"
    meta_path = path.with_suffix(".json")
    generator = sample_generator_hash()
    if path.exists() and meta_path.exists():
        meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
        if (
            meta.get("bytes") == path.stat().st_size
            and meta.get("rows") == rows
            and meta.get("generator") == generator
        ):
            meta["reused"] = True
            return meta
    path.parent.mkdir(parents=True, exist_ok=True)
    argv = [*_console_script("reviews-etl"), "sample", "--rows", str(rows), "--seed", str(seed)]
    argv += ["--output", str(path)]
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    meta = {
        "path": str(path),
        "rows": rows,
        "seed": seed,
        "bytes": path.stat().st_size,
        "bytes_per_row": round(path.stat().st_size / rows, 1) if rows else None,
        "generator": generator,
        "generate_seconds": round(time.perf_counter() - start, 2),
        "command": " ".join(argv),
    }
    meta_path.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    meta["reused"] = False
    return meta


def _label(impl: str) -> str:
    return LABELS.get(impl, f"(a') {impl.removeprefix(VARIANT_PREFIX)}")


def command_for(impl: str, source: Path, out: Path, args: argparse.Namespace) -> list[str]:
    if impl == "pipeline" or impl.startswith(VARIANT_PREFIX):
        runner = (
            [sys.executable, args.variants[impl]]
            if impl in args.variants
            else _console_script("reviews-etl")
        )
        return [
            *runner,
            "run",
            str(source),
            "--output",
            str(out),
            "--json",
            "--driver-memory",
            args.driver_memory,
        ]
    if impl in FLOORS:
        return [
            sys.executable,
            str(HERE / "spark_floor.py"),
            str(source),
            "--output",
            str(out),
            "--driver-memory",
            args.driver_memory,
            *(["--no-multiline"] if impl == "spark_floor_lines" else []),
        ]
    if impl == "duckdb":
        return [
            sys.executable,
            str(HERE / "duckdb_impl.py"),
            str(source),
            "--output",
            str(out),
            "--threads",
            str(args.threads),
        ]
    return [
        sys.executable,
        str(HERE / "seed_style_job.py"),
        str(source),
        "--output",
        str(out),
        "--driver-memory",
        args.driver_memory,
    ]


def _manifest(out: Path) -> dict[str, Any]:
    """The run manifest ``_runs/<run_id>.json`` of a fresh output folder."""
    found = sorted((out / "_runs").glob("*.json"))
    if len(found) != 1:
        raise RuntimeError(f"expected one manifest under {out / '_runs'}, found {len(found)}")
    loaded: dict[str, Any] = json.loads(found[0].read_text(encoding="utf-8"))
    return loaded


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def measure_process(
    argv: list[str], name: str, logs: Path, timeout: float
) -> tuple[dict[str, Any], procmon.ProcessRun]:
    """Run ``argv`` as a whole process (logs as ``<name>.out``/``.err``) and measure it: wall
    and CPU time, peak memory of its process tree, the JVM's heap, the load before."""
    env = {**os.environ, "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1")}
    load_before = os.getloadavg()[0]
    measured = procmon.measure(
        argv,
        stdout=logs / f"{name}.out",
        stderr=logs / f"{name}.err",
        cwd=REPO,
        env=env,
        timeout=timeout,
    )
    record: dict[str, Any] = {
        "returncode": measured.returncode,
        "wall_seconds": round(measured.wall_seconds, 3),
        "tree_seconds": round(measured.tree_seconds, 3),
        "cpu_seconds": round(measured.cpu_seconds, 2),
        "peak_rss_mib": round(measured.peak_rss_mib, 1),
        "peak_rss_by_name_mib": measured.peak_rss_by_name_mib,
        "heap_max": measured.heap_max,
        "samples": measured.samples,
        "load_average_before": round(load_before, 2),
        "notes": measured.notes,
        "argv": measured.argv,
    }
    if measured.returncode != 0:
        record["error"] = _tail(measured.stderr)
    return record, measured


def run_once(
    impl: str, source: Path, out: Path, *, logs: Path, args: argparse.Namespace, repeat: int
) -> dict[str, Any]:
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    record, measured = measure_process(
        command_for(impl, source, out, args), f"{impl}-{repeat}", logs, args.timeout
    )
    record = {"repeat": repeat, **record}
    if measured.returncode != 0:
        record["oom_suspected"] = _mentions_oom(measured.stderr)
        return record
    if impl in ("pipeline", "duckdb") or impl.startswith(VARIANT_PREFIX):
        manifest = _manifest(out)
        record["manifest"] = {
            k: manifest[k]
            for k in (
                "run_id",
                "rows_read",
                "rows_accepted",
                "rows_rejected",
                "rejects_by_reason",
                "outputs",
                "stage_seconds",
            )
            if k in manifest
        }
    else:
        try:
            printed = json.loads(measured.stdout.read_text(encoding="utf-8"))
            record["stage_seconds"] = printed["stage_seconds"]
            if "partitions" in printed:
                record["partitions"] = printed["partitions"]
        except (OSError, ValueError, KeyError):
            record["stage_seconds"] = None
    return record


def _mentions_oom(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(marker in text for marker in OOM_MARKERS)


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def summarise(runs: list[dict[str, Any]], rows: int) -> dict[str, Any]:
    ok = [r for r in runs if r["returncode"] == 0]
    walls = [r["wall_seconds"] for r in ok]
    cpus = [r["cpu_seconds"] for r in ok]
    by_name: dict[str, float] = {}
    for r in ok:
        for name, mib in r["peak_rss_by_name_mib"].items():
            by_name[name] = max(by_name.get(name, 0.0), mib)
    summary: dict[str, Any] = {
        "runs_ok": len(ok),
        "runs_failed": len(runs) - len(ok),
        "wall_median_s": round(_median(walls), 2) if walls else None,
        "wall_min_s": round(min(walls), 2) if walls else None,
        "wall_max_s": round(max(walls), 2) if walls else None,
        "cpu_median_s": round(_median(cpus), 2) if cpus else None,
        "rows_per_s": round(rows / _median(walls)) if walls else None,
        "us_per_row": round(_median(walls) / rows * 1e6, 2) if walls and rows else None,
        "peak_rss_mib": max((r["peak_rss_mib"] for r in ok), default=None),
        "peak_rss_by_name_mib": by_name,
        "heap_max": next((r["heap_max"] for r in ok if r["heap_max"]), None),
    }
    return summary


def pipeline_stages(runs: list[dict[str, Any]]) -> dict[str, float]:
    ok = [r for r in runs if r["returncode"] == 0 and "manifest" in r]
    stages: dict[str, float] = {}
    for stage in STAGES:
        values = [r["manifest"]["stage_seconds"].get(stage, 0.0) for r in ok]
        stages[stage] = round(_median(values), 2) if values else float("nan")
    outside = [r["wall_seconds"] - sum(r["manifest"]["stage_seconds"].values()) for r in ok]
    stages["outside_stages"] = round(_median(outside), 2) if outside else float("nan")
    return stages


def _heap_bytes(text: str | None) -> int | None:
    if not text:
        return None
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    unit = units.get(text[-1].lower())
    try:
        return int(text[:-1]) * unit if unit else int(text)
    except ValueError:
        return None


def bench_size(rows: int, args: argparse.Namespace) -> dict[str, Any]:
    work: Path = args.work_dir
    print(f"\n=== {rows:,} rows ===", flush=True)
    source_meta = ensure_input(work, rows, args.seed)
    source = Path(source_meta["path"])
    how = "reused" if source_meta["reused"] else f"generated in {source_meta['generate_seconds']} s"
    print(
        f"input {source} ({source_meta['bytes'] / 1e6:.1f} MB, "
        f"{source_meta['bytes'] / rows:.0f} bytes/row, {how})",
        flush=True,
    )
    runs: dict[str, list[dict[str, Any]]] = {impl: [] for impl in args.impls}
    outs = {impl: work / "out" / str(rows) / impl for impl in args.impls}
    logs = work / "logs" / str(rows)
    for repeat in range(1, args.repeats + 1):
        for impl in args.impls:
            record = run_once(impl, source, outs[impl], logs=logs, args=args, repeat=repeat)
            runs[impl].append(record)
            status = "ok" if record["returncode"] == 0 else f"FAILED ({record['returncode']})"
            print(
                f"  repeat {repeat} {_label(impl):<20} {record['wall_seconds']:>8.2f} s  "
                f"peak {record['peak_rss_mib']:>7.0f} MiB  load {record['load_average_before']:.1f}"
                f"  {status}",
                flush=True,
            )
            if record["returncode"] != 0:
                print(record.get("error", ""), file=sys.stderr)

    result: dict[str, Any] = {
        "rows": rows,
        "input": source_meta,
        "implementations": {
            impl: {"summary": summarise(runs[impl], rows), "runs": runs[impl]}
            for impl in args.impls
        },
    }
    failed = any(r["returncode"] != 0 for impl_runs in runs.values() for r in impl_runs)
    result["failed_runs"] = failed
    # A failed floor run fails the benchmark (exit 2) but leaves the contract checks to run.
    compared_failed = any(
        r["returncode"] != 0
        for impl, impl_runs in runs.items()
        if impl not in FLOORS
        for r in impl_runs
    )
    result["checks"] = check_size(rows, runs, outs, compared_failed, args)
    if "pipeline" in runs:
        result["pipeline_stages"] = pipeline_stages(runs["pipeline"])
    result["variant_stages"] = {
        impl: pipeline_stages(impl_runs)
        for impl, impl_runs in runs.items()
        if impl.startswith(VARIANT_PREFIX)
    }
    summaries = {impl: result["implementations"][impl]["summary"] for impl in args.impls}
    result["ratios"] = ratios(summaries)
    result["targets"] = targets(summaries)
    return result


def check_size(
    rows: int,
    runs: dict[str, list[dict[str, Any]]],
    outs: dict[str, Path],
    failed: bool,
    args: argparse.Namespace,
) -> dict[str, Any]:
    checks: dict[str, Any] = {
        "skipped": [],
        "problems": [],
        "compared": [],
        "not_compared": [f"{impl}: a reference, no contract" for impl in runs if impl in FLOORS],
    }
    if failed:
        checks["skipped"].append("a run failed: outputs not compared")
        checks["agree"] = False
        return checks
    total = compare.CheckResult()
    if "pipeline" in runs and "duckdb" in runs:
        for a, b in zip(runs["pipeline"], runs["duckdb"], strict=True):
            counts = compare.check_counts(a["manifest"], b["manifest"], expected_records=rows)
            total.problems.extend(f"repeat {a['repeat']}: {p}" for p in counts.problems)
        total.compared.append("manifest counts of every repeat: pipeline vs duckdb vs records")
        total.extend(compare.check_contract_outputs(outs["pipeline"], outs["duckdb"], args.threads))
    else:
        checks["skipped"].append("pipeline vs duckdb (both are needed)")
    if "pipeline" in runs and "seed_style" in runs:
        total.extend(compare.check_seed_outputs(outs["pipeline"], outs["seed_style"], args.threads))
    else:
        checks["skipped"].append("seed-style vs pipeline (both are needed)")
    for impl in (i for i in runs if i.startswith(VARIANT_PREFIX)):
        if "duckdb" not in runs:
            checks["skipped"].append(f"{impl} vs duckdb (duckdb is needed)")
            continue
        variant = compare.CheckResult()
        for a, b in zip(runs[impl], runs["duckdb"], strict=True):
            counts = compare.check_counts(a["manifest"], b["manifest"], expected_records=rows)
            variant.problems.extend(f"repeat {a['repeat']}: {p}" for p in counts.problems)
        variant.extend(compare.check_contract_outputs(outs[impl], outs["duckdb"], args.threads))
        total.problems.extend(f"{impl}: {p}" for p in variant.problems)
        total.compared.append(f"{impl}: same checks as pipeline vs duckdb")
    checks["problems"] = total.problems
    checks["compared"] = total.compared
    checks["agree"] = total.agree
    return checks


def ratios(summaries: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """Ratios of median wall times; None where a side is missing."""

    def wall(impl: str) -> float | None:
        value = summaries.get(impl, {}).get("wall_median_s")
        return float(value) if value else None

    a, b, c = wall("pipeline"), wall("duckdb"), wall("seed_style")
    d, d_lines = wall("spark_floor"), wall("spark_floor_lines")
    result = {
        "pipeline_over_floor": round(a / d, 2) if a and d else None,
        "pipeline_over_floor_lines": round(a / d_lines, 2) if a and d_lines else None,
        "pipeline_over_duckdb": round(a / b, 2) if a and b else None,
        "pipeline_over_seed_style": round(a / c, 2) if a and c else None,
        "seed_style_over_pipeline": round(c / a, 2) if a and c else None,
    }
    for impl in (i for i in summaries if i.startswith(VARIANT_PREFIX)):
        v = wall(impl)
        result[f"{impl}_over_pipeline"] = round(v / a, 2) if v and a else None
        result[f"{impl}_over_duckdb"] = round(v / b, 2) if v and b else None
        result[f"seed_style_over_{impl}"] = round(c / v, 2) if v and c else None
    return result


def targets(summaries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The issue's per-size targets (defined at 5M rows, evaluated at every size); None when
    an implementation they need was not run or failed."""
    r = ratios(summaries)
    pipeline = summaries.get("pipeline", {})
    heap = pipeline.get("heap_max")
    heap_bytes, limit = _heap_bytes(heap), _heap_bytes(TARGET_HEAP)
    speedup, vs_duck = r["seed_style_over_pipeline"], r["pipeline_over_duckdb"]
    vs_floor = r["pipeline_over_floor"]
    heap_met = None if heap_bytes is None or limit is None else heap_bytes <= limit
    completed = None if not pipeline else pipeline.get("runs_failed") == 0
    return {
        "over_floor": vs_floor,
        "over_floor_target": TARGET_RATIO_VS_FLOOR,
        "over_floor_met": None if vs_floor is None else vs_floor <= TARGET_RATIO_VS_FLOOR,
        "speedup_vs_seed_style": speedup,
        "speedup_target": TARGET_SPEEDUP_VS_SEED,
        "speedup_met": None if speedup is None else speedup >= TARGET_SPEEDUP_VS_SEED,
        "over_duckdb": vs_duck,
        "over_duckdb_target": TARGET_RATIO_VS_DUCKDB,
        "over_duckdb_met": None if vs_duck is None else vs_duck <= TARGET_RATIO_VS_DUCKDB,
        "driver_heap": heap,
        "heap_met": heap_met,
        "pipeline_runs_completed": completed,
        "heap_no_oom_met": (
            None if heap_met is None or completed is None else heap_met and completed
        ),
    }


def per_row_target(sizes: list[dict[str, Any]]) -> dict[str, Any]:
    """ "Per-row time flat from 1M to 20M": the pipeline's us/row at every size from
    ``PER_ROW_FROM`` rows up, relative to the smallest such size. Needs two such sizes."""
    per_row = {
        s["rows"]: s["implementations"]["pipeline"]["summary"]["us_per_row"]
        for s in sizes
        if "pipeline" in s["implementations"]
        and s["rows"] >= PER_ROW_FROM
        and s["implementations"]["pipeline"]["summary"]["us_per_row"]
    }
    result: dict[str, Any] = {
        "from_rows": PER_ROW_FROM,
        "target_max_growth": TARGET_PER_ROW_GROWTH,
        "us_per_row": {f"{rows:,}": us for rows, us in sorted(per_row.items())},
        "max_growth": None,
        "met": None,
    }
    if len(per_row) < 2:
        result["note"] = f"needs at least two sizes of {PER_ROW_FROM:,} rows or more"
        return result
    base = per_row[min(per_row)]
    growth = max(us / base for us in per_row.values())
    result["max_growth"] = round(growth, 3)
    result["met"] = growth <= TARGET_PER_ROW_GROWTH
    return result


def _fmt(value: Any, spec: str = "") -> str:
    if value is None:
        return "n/a"
    return format(value, spec)


def _times(value: float | None) -> str:
    return "n/a" if value is None else f"{value}x"


def print_report(results: dict[str, Any]) -> None:
    print("\n" + "=" * 100)
    header = (
        f"{'implementation':<22}{'rows':>12}{'wall median (min-max) s':>28}"
        f"{'CPU s':>8}{'rows/s':>11}{'us/row':>9}  {'peak RSS MiB (per process)'}"
    )
    print(header)
    print("-" * len(header))
    for size in results["sizes"]:
        source = size["input"]
        print(
            f"{'input':<22}{size['rows']:>12,}  {source['bytes']:,} bytes "
            f"({source['bytes'] / 1e6:.1f} MB), {source['bytes'] / size['rows']:.0f} bytes/row"
        )
        for impl, data in size["implementations"].items():
            s = data["summary"]
            wall = (
                f"{_fmt(s['wall_median_s'], '.2f')} ({_fmt(s['wall_min_s'], '.2f')}-"
                f"{_fmt(s['wall_max_s'], '.2f')})"
            )
            per = ", ".join(f"{k} {v:.0f}" for k, v in s["peak_rss_by_name_mib"].items())
            mem = f"{_fmt(s['peak_rss_mib'], '.0f')} ({per})"
            print(
                f"{_label(impl):<22}{size['rows']:>12,}{wall:>28}"
                f"{_fmt(s['cpu_median_s'], '.1f'):>8}{_fmt(s['rows_per_s'], ',d'):>11}"
                f"{_fmt(s['us_per_row'], '.2f'):>9}  {mem}"
            )
        r = size["ratios"]
        print(
            f"{'':<22}{'ratios':>12}  (a)/(d) = {_times(r['pipeline_over_floor'])}   "
            f"(c)/(a) = {_times(r['seed_style_over_pipeline'])}   "
            f"(a)/(b) = {_times(r['pipeline_over_duckdb'])}   "
            f"(a)/(d') = {_times(r['pipeline_over_floor_lines'])}"
        )
        for key, value in r.items():
            if key.startswith(VARIANT_PREFIX) or key.startswith(
                f"seed_style_over_{VARIANT_PREFIX}"
            ):
                print(f"{'':<36}{key} = {_times(value)}")
        if "pipeline_stages" in size:
            stages = "  ".join(f"{k} {v:.2f}" for k, v in size["pipeline_stages"].items())
            print(f"{'':<22}{'(a) stages':>12}  {stages}")
        for impl, variant_stages in size.get("variant_stages", {}).items():
            stages = "  ".join(f"{k} {v:.2f}" for k, v in variant_stages.items())
            print(f"{'':<12}{_label(impl) + ' stages':>22}  {stages}")
        t = size["targets"]
        print(
            f"{'':<22}{'targets':>12}  (a)/(d) <= {t['over_floor_target']}: "
            f"{_fmt(t['over_floor_met'])}   (c)/(a) >= {t['speedup_target']}: "
            f"{_fmt(t['speedup_met'])}   (a)/(b) <= {t['over_duckdb_target']}: "
            f"{_fmt(t['over_duckdb_met'])}   heap {t['driver_heap']} <= {TARGET_HEAP}, "
            f"no failed run: {_fmt(t['heap_no_oom_met'])}"
        )
        c = size["checks"]
        verdict = "agree" if c["agree"] else "DISAGREE"
        print(
            f"{'':<22}{'checks':>12}  {verdict}"
            + (f"; skipped: {c['skipped']}" if c["skipped"] else "")
        )
        for problem in c["problems"]:
            print(f"{'':<36}- {problem}")
        for note in c.get("not_compared", []):
            print(f"{'':<36}not compared: {note}")
        print("-" * len(header))
    growth = results.get("per_row_growth")
    if growth:
        print("(a) time per row by size: " + ", ".join(f"{k}: {v} us" for k, v in growth.items()))
    flat = results.get("per_row_target")
    if flat:
        print(
            f"target: (a) us/row flat from {flat['from_rows']:,} rows up (growth <= "
            f"{flat['target_max_growth']}x): max growth {_times(flat['max_growth'])}, met: "
            f"{_fmt(flat['met'])}" + (f" ({flat['note']})" if flat.get("note") else "")
        )
    trig = results.get("trigger")
    if trig:
        imp = trig["import"]
        if imp.get("status") == "ok":
            print(
                f"trigger: cold import of lambda_handler {imp['import_ms_median']} ms median "
                f"(min {imp['import_ms_min']}, max {imp['import_ms_max']}; "
                f"imports pyspark: {imp['imports_pyspark']})"
            )
        else:
            print(f"trigger: cold import n/a ({imp.get('reason')})")
        dec = trig["decision"]
        if dec.get("status") == "ok":
            kinds = "; ".join(
                f"{k} {v['warm_median_ms']} ms (first {v['first_ms']})"
                for k, v in dec["kinds"].items()
            )
            print(f"trigger: per-event decision, stubbed Glue: {kinds}")
        else:
            print(f"trigger: per-event decision n/a ({dec.get('reason')})")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark our pipeline against DuckDB, the seed-style job and the Spark "
        "floor, with agreement checks."
    )
    parser.add_argument("--rows", type=int, help="rows of the generated input")
    parser.add_argument("--sizes", type=int, nargs="+", help="several sizes in one run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per implementation (median)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated input")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=REPO / "bench-out",
        help="inputs, outputs and logs (default: bench-out/ in the repo)",
    )
    parser.add_argument("--json", type=Path, help="write the figures as JSON here too")
    parser.add_argument(
        "--impls", nargs="+", choices=IMPLEMENTATIONS, default=list(IMPLEMENTATIONS)
    )
    parser.add_argument("--driver-memory", default="2g", help="Spark driver heap (default 2g)")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (default 2)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    parser.add_argument(
        "--no-trigger",
        dest="trigger",
        action="store_false",
        help="skip the trigger cost measurement",
    )
    parser.add_argument("--trigger-events", type=int, default=500, help="warm events per kind")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=SCRIPT",
        help="also run 'python SCRIPT run ...' (a candidate change of the runner, e.g. with a "
        "transform monkeypatched) and check it like the pipeline; repeatable",
    )
    args = parser.parse_args(argv)
    args.variants = {}
    for item in args.variant:
        name, sep, script = item.partition("=")
        if not sep or not name or not Path(script).is_file():
            parser.error(f"--variant {item!r}: expected NAME=SCRIPT with an existing SCRIPT")
        args.variants[VARIANT_PREFIX + name] = str(Path(script).resolve())
    args.impls = [*args.impls, *args.variants]
    sizes = list(args.sizes or []) + ([args.rows] if args.rows else [])
    if not sizes:
        parser.error("give --rows N or --sizes N [N ...]")
    if any(size < 1 for size in sizes) or args.repeats < 1:
        parser.error("sizes and --repeats must be at least 1")
    args.size_list = sizes
    args.work_dir = args.work_dir.resolve()
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    subreaper = procmon.become_subreaper()
    results: dict[str, Any] = {
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine_info(),
        "settings": {
            "repeats": args.repeats,
            "seed": args.seed,
            "driver_memory": args.driver_memory,
            "duckdb_threads": args.threads,
            "implementations": list(args.impls),
            "targets": {
                "pipeline_over_floor_max": TARGET_RATIO_VS_FLOOR,
                "seed_style_over_pipeline_min": TARGET_SPEEDUP_VS_SEED,
                "pipeline_over_duckdb_max": TARGET_RATIO_VS_DUCKDB,
                "driver_heap_max": TARGET_HEAP,
                "per_row_growth_max": TARGET_PER_ROW_GROWTH,
                "defined_at_rows": 5_000_000,
            },
            "subreaper": subreaper,
            "memory": "peak summed RSS of the process tree (Python + JVM), sampled every 50 ms; "
            "per process: exact ru_maxrss from wait4",
        },
        "sizes": [],
    }
    if not subreaper:
        print(
            "warning: could not become a child subreaper; the JVM's memory may be missed",
            file=sys.stderr,
        )
    for rows in args.size_list:
        results["sizes"].append(bench_size(rows, args))
    per_row = {
        f"{s['rows']:,}": s["implementations"]["pipeline"]["summary"]["us_per_row"]
        for s in results["sizes"]
        if "pipeline" in s["implementations"]
    }
    results["per_row_growth"] = per_row
    results["per_row_target"] = per_row_target(results["sizes"])
    if args.trigger:
        results["trigger"] = trigger_cost.measure(REPO, events_per_kind=args.trigger_events)
    failed = any(s["failed_runs"] for s in results["sizes"])
    agree = all(s["checks"]["agree"] for s in results["sizes"])
    results["agree"] = agree and not failed
    results["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    print_report(results)
    text = json.dumps(results, indent=2, default=str)
    (args.work_dir / "results.json").write_text(text, encoding="utf-8")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text, encoding="utf-8")
        print(f"figures written to {args.json}")
    if failed:
        return 2
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
