"""The burst benchmark: many small files dropped into the watch folder at once, against one
file holding the same rows.

    python benchmarks/burst.py --files 200 --rows-per-file 5000 --json bench-out/burst.json

The issue's target: 200 files of 5,000 rows each, dropped into the watch folder at once, are
processed in at most 2x the time of one 1M-row file.

Input: ``reviews-etl sample --rows FILES*ROWS`` writes the single file (the same generator and
default dirty share as ``benchmarks/run.py``, reused from its ``inputs/`` folder when there);
it is then cut, record by record, into FILES files of ROWS data rows, each with the header.
So the burst holds exactly the single file's records, each file has different rows, and
review ids are distinct across files, as they would be in real uploads (files generated
with different seeds would all reuse the ids ``r-000000000...``, and the analyses would
collapse them). A ``duplicate_review_id`` row whose first occurrence fell into an earlier
file is a duplicate *across* batches in the burst (accepted, then superseded in the analyses)
but within the batch in the single file: rows read add up exactly, accepted rows may differ
by those few.

Each repeat, interleaved, as whole separate processes measured by ``procmon`` (wall time
includes interpreter and JVM start; memory is the peak RSS of the process tree):

* **burst**: the files are hard-linked (or copied) into a fresh landing folder, then
  ``reviews-etl watch LANDING --output OUT --once --settle 0 --interval 0.1
  --driver-memory 2g`` runs until everything present was handled;
* **single**: ``reviews-etl run SINGLE.csv --output OUT --json --driver-memory 2g``.

Reported: both wall times and their ratio (target <= 2), the burst's number of runs
(``OUT/_runs/*.json``), files by status (``OUT/_watch/state.json``), batches, rows and the
summed seconds per stage of its runs. Checked: every file succeeded, every run succeeded,
rows read over the runs' manifests add up to FILES*ROWS, and the single run read as many.

Exit status: 0 when every process succeeded and every check held, 1 when a check failed, 2
when a process failed. The timing target never changes the exit status.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import shutil
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import procmon
import run as harness

from reviews_etl.manifest import STAGES

TARGET_RATIO = 2.0  # burst wall <= 2 x the single file's


def split_input(source: Path, folder: Path, files: int, rows_per_file: int) -> list[Path]:
    """Cut ``source`` (a sample CSV of ``files * rows_per_file`` records) into ``files`` CSVs
    of ``rows_per_file`` records each, header repeated; reused when already cut from the same
    bytes. The records are written back exactly as ``reviews-etl sample`` wrote them."""
    marker = folder / "split.json"
    expected = {
        "source": str(source),
        "source_bytes": source.stat().st_size,
        "files": files,
        "rows_per_file": rows_per_file,
    }
    names = [f"part-{index:04d}.csv" for index in range(1, files + 1)]
    if marker.exists() and json.loads(marker.read_text(encoding="utf-8")) == expected:
        paths = [folder / name for name in names]
        if all(path.exists() for path in paths):
            return paths
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    paths = []
    with source.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        for name in names:
            path = folder / name
            with path.open("w", encoding="utf-8", newline="") as out:
                writer = csv.writer(out, lineterminator="\n")
                writer.writerow(header)
                for _ in range(rows_per_file):
                    writer.writerow(next(reader))
            paths.append(path)
        if next(reader, None) is not None:
            raise RuntimeError(f"{source} holds more than {files * rows_per_file} records")
    # The cut must be faithful: the parts hold the source's bytes, plus one header each.
    header_bytes = len((",".join(header) + "\n").encode("utf-8"))
    written = sum(path.stat().st_size for path in paths)
    if written != expected["source_bytes"] + (files - 1) * header_bytes:
        raise RuntimeError(f"cutting {source} did not preserve its bytes ({written} written)")
    marker.write_text(json.dumps(expected, indent=2), encoding="utf-8")
    return paths


def _fill_landing(landing: Path, parts: list[Path]) -> None:
    if landing.exists():
        shutil.rmtree(landing)
    landing.mkdir(parents=True)
    for part in parts:
        try:
            os.link(part, landing / part.name)  # same inode, same mtime: instant
        except OSError:
            shutil.copy2(part, landing / part.name)


def _measure(argv: list[str], name: str, logs: Path, args: argparse.Namespace) -> dict[str, Any]:
    return harness.measure_process(argv, name, logs, args.timeout)[0]


def _manifests(out: Path) -> list[dict[str, Any]]:
    found = sorted((out / "_runs").glob("*.json"))
    return [json.loads(path.read_text(encoding="utf-8")) for path in found]


def burst_outcome(out: Path, files: int, rows: int) -> dict[str, Any]:
    """What a watch run left in ``out``: runs, files by status, rows, and the checks."""
    manifests = _manifests(out)
    state_path = out / "_watch" / "state.json"
    state = json.loads(state_path.read_text(encoding="utf-8")) if state_path.exists() else {}
    by_status: dict[str, int] = {}
    for record in state.get("files", {}).values():
        by_status[record["status"]] = by_status.get(record["status"], 0) + 1
    stages = dict.fromkeys(STAGES, 0.0)
    for manifest in manifests:
        for stage, seconds in manifest.get("stage_seconds", {}).items():
            stages[stage] = round(stages.get(stage, 0.0) + seconds, 3)
    outcome: dict[str, Any] = {
        "runs": len(manifests),
        "runs_by_status": {
            status: sum(1 for m in manifests if m["status"] == status)
            for status in sorted({m["status"] for m in manifests})
        },
        "batches_per_run": [len(m["batches"]) for m in manifests],
        "files_by_status": by_status,
        "rows_read": sum(m["rows_read"] for m in manifests),
        "rows_accepted": sum(m["rows_accepted"] for m in manifests),
        "rows_rejected": sum(m["rows_rejected"] for m in manifests),
        "stage_seconds_summed": stages,
    }
    problems = []
    if not manifests:
        problems.append("no run manifest under _runs/")
    if by_status.get("succeeded", 0) != files or sum(by_status.values()) != files:
        problems.append(f"expected {files} files succeeded, state.json says {by_status}")
    if any(m["status"] != "succeeded" for m in manifests):
        problems.append(f"runs by status: {outcome['runs_by_status']}")
    if outcome["rows_read"] != files * rows:
        problems.append(f"rows read over the runs {outcome['rows_read']:,} != {files * rows:,}")
    if sum(outcome["batches_per_run"]) != files:
        problems.append(f"batches over the runs {sum(outcome['batches_per_run'])} != {files}")
    outcome["problems"] = problems
    return outcome


def single_outcome(out: Path, total: int) -> dict[str, Any]:
    manifests = _manifests(out)
    problems = []
    if len(manifests) != 1:
        problems.append(f"expected one manifest, found {len(manifests)}")
    manifest = manifests[0] if manifests else {}
    if manifest.get("rows_read") != total:
        problems.append(f"single run read {manifest.get('rows_read')} rows, expected {total:,}")
    return {
        "rows_read": manifest.get("rows_read"),
        "rows_accepted": manifest.get("rows_accepted"),
        "rows_rejected": manifest.get("rows_rejected"),
        "stage_seconds": manifest.get("stage_seconds"),
        "problems": problems,
    }


def _median(values: list[float]) -> float | None:
    return round(float(statistics.median(values)), 2) if values else None


def bench(args: argparse.Namespace) -> dict[str, Any]:
    work: Path = args.work_dir
    total = args.files * args.rows_per_file
    source_meta = harness.ensure_input(work, total, args.seed)
    source = Path(source_meta["path"])
    parts = split_input(
        source,
        work / "burst-inputs" / f"{args.files}x{args.rows_per_file}-seed{args.seed}",
        args.files,
        args.rows_per_file,
    )
    part_bytes = [p.stat().st_size for p in parts]
    print(
        f"input: {args.files} files x {args.rows_per_file:,} rows ({sum(part_bytes) / 1e6:.1f} MB) "
        f"cut from {source} ({source_meta['bytes'] / 1e6:.1f} MB, "
        f"{source_meta['bytes'] / total:.0f} bytes/row)",
        flush=True,
    )
    logs = work / "logs" / "burst"
    logs.mkdir(parents=True, exist_ok=True)
    cli = harness._console_script("reviews-etl")
    repeats: list[dict[str, Any]] = []
    for repeat in range(1, args.repeats + 1):
        landing = work / "burst" / "landing"
        burst_out, single_out = work / "burst" / "out-burst", work / "burst" / "out-single"
        for folder in (burst_out, single_out):
            if folder.exists():
                shutil.rmtree(folder)
        _fill_landing(landing, parts)
        watch = [
            *cli,
            "watch",
            str(landing),
            "--output",
            str(burst_out),
            "--once",
            "--settle",
            "0",
            "--interval",
            str(args.interval),
            "--driver-memory",
            args.driver_memory,
        ]
        single = [
            *cli,
            "run",
            str(source),
            "--output",
            str(single_out),
            "--json",
            "--driver-memory",
            args.driver_memory,
        ]
        entry: dict[str, Any] = {"repeat": repeat}
        for name, argv in (("burst", watch), ("single", single)):
            record = _measure(argv, f"{name}-{repeat}", logs, args)
            if record["returncode"] == 0:
                record["outcome"] = (
                    burst_outcome(burst_out, args.files, args.rows_per_file)
                    if name == "burst"
                    else single_outcome(single_out, total)
                )
            entry[name] = record
            status = "ok" if record["returncode"] == 0 else f"FAILED ({record['returncode']})"
            extra = ""
            if name == "burst" and "outcome" in record:
                o = record["outcome"]
                extra = f"  runs {o['runs']}  files {o['files_by_status']}"
            print(
                f"  repeat {repeat} {name:<7} {record['wall_seconds']:>8.2f} s  "
                f"peak {record['peak_rss_mib']:>7.0f} MiB  load "
                f"{record['load_average_before']:.1f}  {status}{extra}",
                flush=True,
            )
            if record["returncode"] != 0:
                print(record.get("error", ""), file=sys.stderr)
        repeats.append(entry)
    return summarise(args, source_meta, part_bytes, repeats)


def summarise(
    args: argparse.Namespace,
    source_meta: dict[str, Any],
    part_bytes: list[int],
    repeats: list[dict[str, Any]],
) -> dict[str, Any]:
    total = args.files * args.rows_per_file
    ok = {
        name: [e[name] for e in repeats if e[name]["returncode"] == 0]
        for name in ("burst", "single")
    }
    failed = any(e[name]["returncode"] != 0 for e in repeats for name in ("burst", "single"))
    problems = [
        f"repeat {e['repeat']} {name}: {problem}"
        for e in repeats
        for name in ("burst", "single")
        for problem in e[name].get("outcome", {}).get("problems", [])
    ]
    burst_wall = _median([r["wall_seconds"] for r in ok["burst"]])
    single_wall = _median([r["wall_seconds"] for r in ok["single"]])
    ratio = round(burst_wall / single_wall, 2) if burst_wall and single_wall else None
    last = ok["burst"][-1]["outcome"] if ok["burst"] else {}
    return {
        "started_at": args.started_at,
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": harness.machine_info(),
        "settings": {
            "files": args.files,
            "rows_per_file": args.rows_per_file,
            "total_rows": total,
            "seed": args.seed,
            "repeats": args.repeats,
            "driver_memory": args.driver_memory,
            "watch": f"--once --settle 0 --interval {args.interval}",
        },
        "input": {
            **source_meta,
            "files": args.files,
            "file_bytes_median": int(statistics.median(part_bytes)),
            "files_bytes_total": sum(part_bytes),
        },
        "summary": {
            "burst_wall_median_s": burst_wall,
            "single_wall_median_s": single_wall,
            "burst_over_single": ratio,
            "target_max": TARGET_RATIO,
            "met": None if ratio is None else ratio <= TARGET_RATIO,
            "runs": last.get("runs"),
            "batches_per_run": last.get("batches_per_run"),
            "files_by_status": last.get("files_by_status"),
            "rows_read": last.get("rows_read"),
            "burst_cpu_median_s": _median([r["cpu_seconds"] for r in ok["burst"]]),
            "single_cpu_median_s": _median([r["cpu_seconds"] for r in ok["single"]]),
            "burst_peak_rss_mib": max((r["peak_rss_mib"] for r in ok["burst"]), default=None),
            "single_peak_rss_mib": max((r["peak_rss_mib"] for r in ok["single"]), default=None),
            "burst_stage_seconds_summed": last.get("stage_seconds_summed"),
            "single_stage_seconds": (
                ok["single"][-1]["outcome"]["stage_seconds"] if ok["single"] else None
            ),
        },
        "repeats": repeats,
        "failed_runs": failed,
        "problems": problems,
        "ok": not failed and not problems,
    }


def print_report(result: dict[str, Any]) -> None:
    s, settings = result["summary"], result["settings"]
    print("\n" + "=" * 90)
    print(
        f"burst: {settings['files']} files x {settings['rows_per_file']:,} rows "
        f"= {settings['total_rows']:,} rows ({result['input']['files_bytes_total'] / 1e6:.1f} MB)"
    )
    print(
        f"  watch --once (burst)  {harness._fmt(s['burst_wall_median_s'], '.2f')} s wall, "
        f"{harness._fmt(s['burst_cpu_median_s'], '.1f')} CPU s, "
        f"peak {harness._fmt(s['burst_peak_rss_mib'], '.0f')} MiB; runs {s['runs']}, "
        f"batches per run {s['batches_per_run']}, files {s['files_by_status']}, "
        f"rows read {harness._fmt(s['rows_read'], ',')}"
    )
    print(
        f"  run, one file        {harness._fmt(s['single_wall_median_s'], '.2f')} s wall, "
        f"{harness._fmt(s['single_cpu_median_s'], '.1f')} CPU s, "
        f"peak {harness._fmt(s['single_peak_rss_mib'], '.0f')} MiB"
    )
    print(
        f"  burst / single = {harness._times(s['burst_over_single'])}  "
        f"(target <= {s['target_max']}x: {harness._fmt(s['met'])})"
    )
    for label, stages in (
        ("burst stages (summed)", s["burst_stage_seconds_summed"]),
        ("single stages", s["single_stage_seconds"]),
    ):
        if stages:
            print(f"  {label}: " + "  ".join(f"{k} {v:.2f}" for k, v in stages.items()))
    verdict = "all files succeeded, rows add up" if result["ok"] else "PROBLEMS"
    print(f"  checks: {verdict}")
    for problem in result["problems"]:
        print(f"    - {problem}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Burst: many small files through 'reviews-etl watch --once' against one "
        "file of the same rows through 'reviews-etl run'."
    )
    parser.add_argument("--files", type=int, default=200, help="files in the burst")
    parser.add_argument("--rows-per-file", type=int, default=5000, help="data rows per file")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved repeats (median)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated input")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=harness.REPO / "bench-out",
        help="inputs, outputs and logs (default: bench-out/ in the repo)",
    )
    parser.add_argument("--json", type=Path, help="write the figures as JSON here too")
    parser.add_argument("--driver-memory", default="2g", help="Spark driver heap (default 2g)")
    parser.add_argument("--interval", type=float, default=0.1, help="watch --interval")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per process")
    args = parser.parse_args(argv)
    if args.files < 1 or args.rows_per_file < 1 or args.repeats < 1:
        parser.error("--files, --rows-per-file and --repeats must be at least 1")
    args.work_dir = args.work_dir.resolve()
    args.started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    if not procmon.become_subreaper():
        print("warning: could not become a child subreaper", file=sys.stderr)
    result = bench(args)
    print_report(result)
    text = json.dumps(result, indent=2, default=str)
    (args.work_dir / "burst-results.json").write_text(text, encoding="utf-8")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text, encoding="utf-8")
        print(f"figures written to {args.json}")
    if result["failed_runs"]:
        return 2
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
