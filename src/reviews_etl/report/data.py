"""What the report shows, read from an output root with pyarrow (local folders, ``file://``
and ``s3://``): no Spark. Large outputs are aggregated here, so the page never embeds more
than a few thousand rows whatever the size of the data."""

from __future__ import annotations

import datetime as dt
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
from pydantic import ValidationError

from reviews_etl import columns as C
from reviews_etl.config import OutputLayout
from reviews_etl.errors import first_line
from reviews_etl.manifest import RunResult
from reviews_etl.paths import OutputPaths, s3_spelling

TOP_PRODUCTS = 5  # products with their own line in "reviews over time"
MAX_RUNS = 50  # newest runs shown in the run history
MAX_DAYS = 20 * 366  # reviews over time: at most the last 20 years before the newest review


@dataclass(frozen=True)
class RunRow:
    """One manifest of ``_runs/``, as the run history shows it."""

    run_id: str
    status: str  # succeeded, failed, or "unreadable" for a manifest that does not parse
    started_at: dt.datetime | None = None
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    gate_failures: tuple[str, ...] = ()  # source files whose batch failed the quality gate
    error: str | None = None

    @property
    def seconds(self) -> float:
        return sum(self.stage_seconds.values())


@dataclass(frozen=True)
class ReportData:
    output_root: str
    generated_at: dt.datetime
    daily_totals: list[dict[str, Any]]  # review_date, review_count (all products)
    product_months: list[dict[str, Any]]  # month, product_id, review_count (top products)
    top_customers: list[dict[str, Any]]  # rank, customer_id, review_count, avg_rating
    ratings: list[dict[str, Any]]  # rating, review_count, share
    rejects: list[dict[str, Any]]  # source_file, reject_reason, count
    runs: list[RunRow]  # oldest first, at most MAX_RUNS
    runs_total: int
    newest_review_date: dt.date | None
    newest_ingest: dt.datetime | None
    missing: list[str] = field(default_factory=list)  # outputs not found under the root


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """The pyarrow file system and path of a local path, ``file://`` or ``s3://`` URI."""
    if "://" not in uri:
        return pafs.LocalFileSystem(), os.path.abspath(uri.removeprefix("file:"))
    fs, path = pafs.FileSystem.from_uri(s3_spelling(uri))
    return fs, path.rstrip("/")


def _dataset(fs: pafs.FileSystem, path: str) -> ds.Dataset | None:
    if fs.get_file_info(path).type != pafs.FileType.Directory:
        return None
    # Spark's _SUCCESS, _temporary and .crc files are skipped by their prefixes.
    return ds.dataset(path, filesystem=fs, format="parquet", ignore_prefixes=[".", "_"])


def _read(dataset: ds.Dataset | None, names: list[str]) -> pa.Table | None:
    # No Parquet file at all (folders of sources without rows hold only _SUCCESS): no schema
    # to select from, and nothing to show.
    if dataset is None or not dataset.files:
        return None
    return dataset.to_table(columns=names)


def _plain(value: Any) -> Any:
    """A JSON-ready value: dates as ISO text, NaN and infinities as null."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in table.to_pylist()]


def _months(first: dt.date, last: dt.date) -> list[dt.date]:
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months


def _daily(table: pa.Table) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Reviews per day over all products, and per month for the top products; days and
    months without reviews count 0, so lines do not bridge gaps."""
    totals = table.group_by(C.REVIEW_DATE).aggregate([(C.REVIEW_COUNT, "sum")])
    sums = totals[f"{C.REVIEW_COUNT}_sum"].to_pylist()
    per_day = dict(zip(totals[C.REVIEW_DATE].to_pylist(), sums, strict=True))
    per_day.pop(None, None)
    if not per_day:
        return [], []
    last = max(per_day)
    first = max(min(per_day), last - dt.timedelta(days=MAX_DAYS - 1))
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    daily = [{C.REVIEW_DATE: d.isoformat(), C.REVIEW_COUNT: per_day.get(d, 0)} for d in days]

    per_product = table.group_by(C.PRODUCT_ID).aggregate([(C.REVIEW_COUNT, "sum")])
    top = per_product.sort_by(
        [(f"{C.REVIEW_COUNT}_sum", "descending"), (C.PRODUCT_ID, "ascending")]
    ).slice(0, TOP_PRODUCTS)
    chosen = table.filter(pc.is_in(table[C.PRODUCT_ID], value_set=top[C.PRODUCT_ID]))
    chosen = chosen.append_column("month", pc.floor_temporal(chosen[C.REVIEW_DATE], unit="month"))
    by_month = chosen.group_by(["month", C.PRODUCT_ID]).aggregate([(C.REVIEW_COUNT, "sum")])
    keys = zip(by_month["month"].to_pylist(), by_month[C.PRODUCT_ID].to_pylist(), strict=True)
    counts = dict(zip(keys, by_month[f"{C.REVIEW_COUNT}_sum"].to_pylist(), strict=True))
    monthly = [
        {"month": m.isoformat(), C.PRODUCT_ID: p, C.REVIEW_COUNT: counts.get((m, p), 0)}
        for m in _months(first, last)
        for p in top[C.PRODUCT_ID].to_pylist()
    ]
    return daily, monthly


def _rejects(table: pa.Table) -> list[dict[str, Any]]:
    counts = table.group_by([C.SOURCE_FILE, C.REJECT_REASON]).aggregate([([], "count_all")])
    rows = [
        {C.SOURCE_FILE: source, C.REJECT_REASON: reason, "count": n}
        for source, reason, n in zip(
            counts[C.SOURCE_FILE].to_pylist(),
            counts[C.REJECT_REASON].to_pylist(),
            counts["count_all"].to_pylist(),
            strict=True,
        )
    ]
    order = {reason: i for i, reason in enumerate(C.REJECT_REASONS)}
    rows.sort(
        key=lambda r: (
            str(r[C.SOURCE_FILE]),
            order.get(r[C.REJECT_REASON], 99),
            str(r[C.REJECT_REASON]),
        )
    )
    return rows


def _run_row(name: str, text: str) -> RunRow:
    try:
        run = RunResult.model_validate_json(text)
    except ValidationError as exc:
        return RunRow(run_id=name.removesuffix(".json"), status="unreadable", error=first_line(exc))
    return RunRow(
        run_id=run.run_id,
        status=run.status,
        started_at=run.started_at,
        rows_read=run.rows_read,
        rows_accepted=run.rows_accepted,
        rows_rejected=run.rows_rejected,
        stage_seconds=dict(run.stage_seconds),
        gate_failures=tuple(
            b.source_file for b in run.batches if b.status == "failed_quality_gate"
        ),
        error=run.error,
    )


def _runs(fs: pafs.FileSystem, path: str) -> list[RunRow]:
    selector = pafs.FileSelector(path, allow_not_found=True)
    files = [f for f in fs.get_file_info(selector) if f.is_file and f.base_name.endswith(".json")]

    def load(info: pafs.FileInfo) -> RunRow:
        with fs.open_input_stream(info.path) as stream:
            return _run_row(info.base_name, stream.read().decode("utf-8", errors="replace"))

    with ThreadPoolExecutor(max_workers=8) as pool:  # S3: one request per manifest
        runs = list(pool.map(load, files))
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    return sorted(runs, key=lambda r: (r.started_at or epoch, r.run_id))


def _max(table: pa.Table | None, name: str) -> Any:
    return None if table is None or table.num_rows == 0 else pc.max(table[name]).as_py()


def load_report_data(output_root: str, layout: OutputLayout | None = None) -> ReportData:
    layout = layout or OutputLayout()
    fs, root = filesystem(output_root)
    outputs = OutputPaths.under(root, layout)
    paths = {
        "daily_review_counts": outputs.daily_review_counts,
        "top_customers": outputs.top_customers,
        "rating_distribution": outputs.rating_distribution,
        "curated": outputs.curated,
        "rejected": outputs.rejected,
    }
    found = {name: _dataset(fs, path) for name, path in paths.items()}
    daily = _read(found["daily_review_counts"], [C.REVIEW_DATE, C.PRODUCT_ID, C.REVIEW_COUNT])
    top = _read(found["top_customers"], [C.RANK, C.CUSTOMER_ID, C.REVIEW_COUNT, C.AVG_RATING])
    ratings = _read(found["rating_distribution"], [C.RATING, C.REVIEW_COUNT, C.SHARE])
    ingests = _read(found["curated"], [C.INGESTED_AT])
    rejects = _read(found["rejected"], [C.SOURCE_FILE, C.REJECT_REASON])
    daily_totals, product_months = _daily(daily) if daily is not None else ([], [])
    runs = _runs(fs, outputs.runs)
    return ReportData(
        output_root=output_root,
        generated_at=dt.datetime.now(dt.UTC),
        daily_totals=daily_totals,
        product_months=product_months,
        top_customers=_rows(top.sort_by(C.RANK)) if top is not None else [],
        ratings=_rows(ratings.sort_by(C.RATING)) if ratings is not None else [],
        rejects=_rejects(rejects) if rejects is not None else [],
        runs=runs[-MAX_RUNS:],
        runs_total=len(runs),
        newest_review_date=_max(daily, C.REVIEW_DATE),
        newest_ingest=_max(ingests, C.INGESTED_AT),
        missing=[paths[name] for name, dataset in found.items() if dataset is None],
    )


def write_text(uri: str, text: str) -> None:
    """Write ``text`` (UTF-8 HTML) to a local path or URI; locally through a temporary file,
    so a reader never sees half a page."""
    fs, path = filesystem(uri)
    data = text.encode("utf-8")
    if isinstance(fs, pafs.LocalFileSystem):
        fs.create_dir(os.path.dirname(path), recursive=True)
        partial = f"{path}.partial"
        with fs.open_output_stream(partial) as stream:
            stream.write(data)
        fs.move(partial, path)
        return
    with fs.open_output_stream(
        path, metadata={"Content-Type": "text/html; charset=utf-8"}
    ) as stream:
        stream.write(data)
