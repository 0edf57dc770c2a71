"""The history benchmark: the time to process one small file into outputs that already hold
0, 1M and 10M curated rows.

    python benchmarks/history.py --prefill 0 1000000 10000000 --rows 10000 --repeats 3 \\
        --json bench-out/history.json

Every run refreshes the three analyses over *all* curated data (newest batch per review id),
so a small file into a big history costs more than into an empty one; this measures how
much, as a curve over the history's size.

For each prefill size P:

1. **Prefill** (not timed for the curve): ``reviews-etl sample --rows P`` (reused from the
   ``inputs/`` folder shared with ``benchmarks/run.py``), then one ``reviews-etl run`` of it
   into ``history/prefill-P-seedS/``: a real output root with P rows read, about 0.95 P
   curated, in one batch (its analyses and manifest included). Kept and reused by later
   invocations while the input and the generator are unchanged (``prefill-P-seedS.json``
   beside it). P = 0 is an empty output root.
2. **Measured**, ``--repeats`` times: the prefilled root is copied to a fresh folder (the copy
   is not timed), then ``reviews-etl run NEW.csv --output COPY --json --driver-memory 2g``
   runs as a whole separate process (``procmon``: wall time with interpreter and JVM start,
   peak RSS of the tree). ``NEW.csv`` is ``reviews-etl sample --rows ROWS --seed S+1``, a
   different file (hence a new batch folder). Its review ids ``r-000000000...`` are those of
   the prefill's first ROWS records, so it supersedes them in the analyses, like re-sent
   reviews; it does not change how much data the analyses read.

Reported per P: curated rows already there, wall (median, min, max), the run's seconds per
stage (``analyses`` is the one expected to grow), and the growth against P = 0: ratio and
seconds per extra million curated rows. Checked per run: it succeeded, read ROWS rows, and
its ``rating_distribution`` counts every distinct review id of the curated data (so the
analyses really covered the history), counted with DuckDB.

Exit status: 0 when every process succeeded and every check held, 1 when a check failed, 2
when a process failed. Timings never change the exit status.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import procmon
import run as harness

from reviews_etl.manifest import STAGES


def _measure(argv: list[str], name: str, logs: Path, args: argparse.Namespace) -> dict[str, Any]:
    return harness.measure_process(argv, name, logs, args.timeout)[0]


def _run_argv(source: Path, out: Path, args: argparse.Namespace) -> list[str]:
    return [
        *harness._console_script("reviews-etl"),
        "run",
        str(source),
        "--output",
        str(out),
        "--json",
        "--driver-memory",
        args.driver_memory,
    ]


def ensure_prefill(prefill: int, args: argparse.Namespace, logs: Path) -> dict[str, Any]:
    """An output root holding one run of a ``prefill``-row sample (reused when current)."""
    work: Path = args.work_dir
    if prefill == 0:
        return {"rows": 0, "curated_rows": 0, "root": None, "reused": False}
    source_meta = harness.ensure_input(work, prefill, args.seed)
    root = work / "history" / f"prefill-{prefill}-seed{args.seed}"
    marker = root.with_suffix(".json")
    key = {k: source_meta[k] for k in ("path", "rows", "bytes", "generator")}
    if marker.exists() and root.exists():
        meta: dict[str, Any] = json.loads(marker.read_text(encoding="utf-8"))
        if meta.get("input") == key:
            return {**meta, "reused": True}
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    print(f"  prefilling {root} with {prefill:,} rows ...", flush=True)
    record = _measure(
        _run_argv(Path(source_meta["path"]), root, args), f"prefill-{prefill}", logs, args
    )
    if record["returncode"] != 0:
        raise RuntimeError(f"prefill of {prefill:,} rows failed:\n{record.get('error', '')}")
    manifest = harness._manifest(root)
    meta = {
        "rows": prefill,
        "curated_rows": manifest["rows_accepted"],
        "root": str(root),
        "input": key,
        "input_bytes": source_meta["bytes"],
        "prefill_wall_seconds": record["wall_seconds"],
        "prefill_run_id": manifest["run_id"],
    }
    marker.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return {**meta, "reused": False}


def analyses_cover_history(out: Path) -> tuple[int, int]:
    """(sum of review_count in rating_distribution, distinct review ids of the curated data)."""
    con = duckdb.connect()
    con.execute(f"SET threads TO {max(1, min(2, os.cpu_count() or 1))}")
    ratings = out / "Athena Results" / "rating_distribution"
    counted = con.execute(
        f"SELECT coalesce(sum(review_count), 0) FROM read_parquet('{ratings}/*.parquet')"
    ).fetchone()
    curated = out / "processed-data"
    distinct = con.execute(
        f"SELECT count(DISTINCT review_id) FROM read_parquet('{curated}/*/*.parquet')"
    ).fetchone()
    return int(counted[0] if counted else -1), int(distinct[0] if distinct else -2)


def check_run(out: Path, prefill_run_id: str | None, args: argparse.Namespace) -> dict[str, Any]:
    """The measured run's manifest (the one that is not the prefill's) and its checks."""
    manifests = [
        json.loads(path.read_text(encoding="utf-8")) for path in (out / "_runs").glob("*.json")
    ]
    new = [m for m in manifests if m["run_id"] != prefill_run_id]
    if len(new) != 1:
        return {"problems": [f"expected one new manifest, found {len(new)}"]}
    manifest = new[0]
    kept = ("run_id", "status", "rows_read", "rows_accepted", "outputs", "stage_seconds")
    checked: dict[str, Any] = {"manifest": {k: manifest[k] for k in kept}}
    problems = []
    if manifest["status"] != "succeeded":
        problems.append(f"run status {manifest['status']}")
    if manifest["rows_read"] != args.rows:
        problems.append(f"read {manifest['rows_read']:,} rows, expected {args.rows:,}")
    checked["curated_batches"] = len(list((out / "processed-data").glob("source_id=*")))
    if args.verify:
        counted, distinct = analyses_cover_history(out)
        checked["analysed_review_ids"] = counted
        if counted != distinct:
            problems.append(
                f"rating_distribution counts {counted:,} reviews, the curated data holds "
                f"{distinct:,} distinct review ids"
            )
    checked["problems"] = problems
    return checked


def bench(args: argparse.Namespace) -> dict[str, Any]:
    work: Path = args.work_dir
    logs = work / "logs" / "history"
    logs.mkdir(parents=True, exist_ok=True)
    increment = harness.ensure_input(work, args.rows, args.seed + 1)
    print(
        f"new file: {increment['path']} ({args.rows:,} rows, {increment['bytes'] / 1e6:.1f} MB)",
        flush=True,
    )
    sizes: list[dict[str, Any]] = []
    for prefill in args.prefill:
        print(f"\n=== history of {prefill:,} rows ===", flush=True)
        base = ensure_prefill(prefill, args, logs)
        runs: list[dict[str, Any]] = []
        for repeat in range(1, args.repeats + 1):
            out = work / "history" / "runs" / f"{prefill}-{repeat}"
            if out.exists():
                shutil.rmtree(out)
            out.parent.mkdir(parents=True, exist_ok=True)
            if base["root"]:
                shutil.copytree(base["root"], out)
            record = _measure(
                _run_argv(Path(increment["path"]), out, args),
                f"run-{prefill}-{repeat}",
                logs,
                args,
            )
            record["repeat"] = repeat
            if record["returncode"] == 0:
                record.update(check_run(out, base.get("prefill_run_id"), args))
            problems = record.setdefault("problems", [])
            runs.append(record)
            status = "ok" if record["returncode"] == 0 else f"FAILED ({record['returncode']})"
            stages = record.get("manifest", {}).get("stage_seconds", {})
            print(
                f"  repeat {repeat}  {record['wall_seconds']:>8.2f} s  analyses "
                f"{stages.get('analyses', float('nan')):.2f} s  peak "
                f"{record['peak_rss_mib']:>6.0f} MiB  load {record['load_average_before']:.1f}  "
                f"{status}{'' if not problems else '  ' + '; '.join(problems)}",
                flush=True,
            )
            if record["returncode"] != 0:
                print(record.get("error", ""), file=sys.stderr)
            if not args.keep:
                shutil.rmtree(out, ignore_errors=True)
        sizes.append({"prefill": base, "runs": runs, "summary": summarise(runs)})
    return {"increment": increment, "sizes": sizes, "curve": curve(sizes)}


def _median(values: list[float]) -> float | None:
    return round(float(statistics.median(values)), 2) if values else None


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if r["returncode"] == 0 and "manifest" in r]
    walls = [r["wall_seconds"] for r in ok]
    stages = {
        stage: _median([r["manifest"]["stage_seconds"].get(stage, 0.0) for r in ok])
        for stage in STAGES
    }
    return {
        "runs_ok": len(ok),
        "runs_failed": len(runs) - len(ok),
        "wall_median_s": _median(walls),
        "wall_min_s": min(walls) if walls else None,
        "wall_max_s": max(walls) if walls else None,
        "cpu_median_s": _median([r["cpu_seconds"] for r in ok]),
        "peak_rss_mib": max((r["peak_rss_mib"] for r in ok), default=None),
        "stage_seconds": stages,
    }


def curve(sizes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Seconds per history size, and the growth against the smallest history measured."""
    points = [(s["prefill"]["rows"], s["prefill"]["curated_rows"], s["summary"]) for s in sizes]
    base = next(((curated, summ) for _, curated, summ in points if summ["wall_median_s"]), None)
    result = []
    for rows, curated, summ in points:
        wall = summ["wall_median_s"]
        point: dict[str, Any] = {
            "prefill_rows": rows,
            "curated_rows_before": curated,
            "wall_median_s": wall,
            "analyses_s": summ["stage_seconds"].get("analyses"),
            "over_first": None,
            "extra_s_per_million_curated": None,
        }
        if base and wall:
            base_curated, base_summary = base
            point["over_first"] = round(wall / base_summary["wall_median_s"], 2)
            if curated > base_curated:
                point["extra_s_per_million_curated"] = round(
                    (wall - base_summary["wall_median_s"]) / ((curated - base_curated) / 1e6), 2
                )
        result.append(point)
    return result


def print_report(result: dict[str, Any]) -> None:
    print("\n" + "=" * 100)
    rows = result["settings"]["rows"]
    print(f"history: one {rows:,}-row file into outputs already holding ... curated rows")
    header = (
        f"{'prefill rows':>14}{'curated before':>16}{'wall median (min-max) s':>27}"
        f"{'analyses s':>12}{'x first':>9}{'s per +1M curated':>19}"
    )
    print(header)
    print("-" * len(header))
    for point, size in zip(result["curve"], result["sizes"], strict=True):
        s = size["summary"]
        wall = (
            f"{harness._fmt(s['wall_median_s'], '.2f')} ({harness._fmt(s['wall_min_s'], '.2f')}-"
            f"{harness._fmt(s['wall_max_s'], '.2f')})"
        )
        print(
            f"{point['prefill_rows']:>14,}{point['curated_rows_before']:>16,}{wall:>27}"
            f"{harness._fmt(point['analyses_s'], '.2f'):>12}"
            f"{harness._times(point['over_first']):>9}"
            f"{harness._fmt(point['extra_s_per_million_curated'], '.2f'):>19}"
        )
    for size in result["sizes"]:
        stages = size["summary"]["stage_seconds"]
        print(
            f"{size['prefill']['rows']:>14,} stages: "
            + "  ".join(f"{k} {harness._fmt(v, '.2f')}" for k, v in stages.items())
        )
    verdict = "every run succeeded, analyses cover the history" if result["ok"] else "PROBLEMS"
    print(f"checks: {verdict}")
    for problem in result["problems"]:
        print(f"  - {problem}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="History: one small file into outputs that already hold N curated rows."
    )
    parser.add_argument(
        "--prefill",
        type=int,
        nargs="+",
        default=[0, 1_000_000, 10_000_000],
        help="rows of the history to prefill, one measurement each (default 0 1M 10M)",
    )
    parser.add_argument("--rows", type=int, default=10_000, help="rows of the new file")
    parser.add_argument("--repeats", type=int, default=3, help="runs per history size (median)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the prefill inputs")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=harness.REPO / "bench-out",
        help="inputs, prefilled roots, outputs and logs (default: bench-out/ in the repo)",
    )
    parser.add_argument("--json", type=Path, help="write the figures as JSON here too")
    parser.add_argument("--driver-memory", default="2g", help="Spark driver heap (default 2g)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per process")
    parser.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        help="skip the DuckDB check that the analyses cover the whole history",
    )
    parser.add_argument("--keep", action="store_true", help="keep each run's output folder")
    args = parser.parse_args(argv)
    if any(p < 0 for p in args.prefill) or args.rows < 1 or args.repeats < 1:
        parser.error("--prefill sizes must be >= 0, --rows and --repeats >= 1")
    args.prefill = sorted(set(args.prefill))
    args.work_dir = args.work_dir.resolve()
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if not procmon.become_subreaper():
        print("warning: could not become a child subreaper", file=sys.stderr)
    try:
        measured = bench(args)
    except RuntimeError as exc:  # a prefill failed
        print(f"history: {exc}", file=sys.stderr)
        return 2
    failed = any(r["returncode"] != 0 for s in measured["sizes"] for r in s["runs"])
    problems = [
        f"prefill {s['prefill']['rows']:,} repeat {r['repeat']}: {p}"
        for s in measured["sizes"]
        for r in s["runs"]
        for p in r["problems"]
    ]
    result: dict[str, Any] = {
        "started_at": started,
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": harness.machine_info(),
        "settings": {
            "prefill": args.prefill,
            "rows": args.rows,
            "repeats": args.repeats,
            "seed": args.seed,
            "driver_memory": args.driver_memory,
        },
        **measured,
        "failed_runs": failed,
        "problems": problems,
        "ok": not failed and not problems,
    }
    print_report(result)
    text = json.dumps(result, indent=2, default=str)
    (args.work_dir / "history-results.json").write_text(text, encoding="utf-8")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text, encoding="utf-8")
        print(f"figures written to {args.json}")
    if failed:
        return 2
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
