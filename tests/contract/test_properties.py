"""Property-based differential tests: random files with any mix of faults, in 1-3 batches with
overlapping ids and re-runs, through the real pipeline; what it wrote (read back with pyarrow,
not from the manifest) must equal what the pure-Python oracle says.

CI runs the ``ci`` profile (a few examples); ``make test-properties`` runs ``deep``.
"""

from __future__ import annotations

import csv
import io
import math
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any
from unittest import mock

import pyarrow.parquet as pq
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reviews_etl import PipelineConfig, run_pipeline
from reviews_etl.job import pieces
from tests.support import oracle

settings.register_profile(
    "ci",
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "deep",
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

HEADER = ["review_id", "product_id", "customer_id", "rating", "review_date", "review_text"]
# Unicode whitespace that trimming removes (no-break, ideographic, line/paragraph separators).
SPACES = st.sampled_from(["", " ", "\t", "\u00a0", "\u3000", "\u2028", "\u2029", " \u00a0 "])
IDS = st.sampled_from([f"r{i}" for i in range(12)])  # few ids: overlaps within and across files


def padded(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(lambda a, v, b: a + v + b, SPACES, values, SPACES)


FIELDS = {
    "review_id": st.one_of(padded(IDS), SPACES),
    "product_id": st.one_of(padded(st.sampled_from(["p1", "P2", "p-3"])), SPACES),
    "customer_id": st.one_of(padded(st.sampled_from(["c1", "c2", "c3", "c4", "c5", "c6"])), SPACES),
    "rating": st.one_of(
        padded(st.sampled_from(["1", "2", "3", "4", "5", "4.0", "05", "4.5", "0", "6", "five"])),
        SPACES,
    ),
    "review_date": st.one_of(
        padded(st.sampled_from(["2024-01-01", "2024-02-29", "2023-12-31", "2024-02-30"])),
        st.sampled_from(["2024/01/05", "yesterday", ""]),
        SPACES,
    ),
    "review_text": st.one_of(
        SPACES,
        st.sampled_from(['good, "really"', "two\nlines", "plain", 'a "quote"', "é ☕, ok"]),
    ),
}
ROW = st.fixed_dictionaries(FIELDS).map(lambda row: [row[name] for name in HEADER])
# Records that do not parse into six fields, and blank lines (not records at all).
MALFORMED = st.sampled_from([["auto_comment"], ["r1", "p1", "c1"], [*"abcdefg"]])
LINE = st.one_of(ROW, ROW, ROW, MALFORMED, st.just([]))
FILE = st.lists(LINE, min_size=0, max_size=25)


def csv_text(lines: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for line in lines:
        if line:
            writer.writerow(line)
        else:
            buffer.write("\n")
    return buffer.getvalue()


def expected_state(runs: list[list[tuple[str, str]]]) -> dict[str, Any]:
    """The oracle's view after the runs: each source's latest processing replaces its
    earlier one, and among sources the most recently processed wins a review id."""
    latest: dict[str, oracle.OracleResult] = {}
    order: list[str] = []
    for run in runs:
        for source, text in run:
            latest[source] = oracle.clean_file(text)
            if source in order:
                order.remove(source)
            order.append(source)
    winners: dict[str, dict[str, object]] = {}
    for source in order:  # later sources overwrite earlier ones
        for row in latest[source].accepted:
            winners[str(row["review_id"])] = row
    return {
        "curated": sorted(
            repr(tuple(r[k] for k in HEADER)) for s in order for r in latest[s].accepted
        ),
        "reasons": sum((latest[s].reasons for s in order), Counter()),
        "latest": list(winners.values()),
    }


def parquet_rows(folder: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for file in sorted(folder.rglob("*.parquet")):
        if not any(part.startswith(("_", ".")) for part in file.relative_to(folder).parts):
            rows += pq.read_table(file).to_pylist()
    return rows


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=0, abs_tol=1e-9)


# Always tried, whatever is drawn: an id in two batches (the later batch wins), then the
# first batch processed again (so it is the latest, and wins back).
_R1_5 = ["r1", "p1", "c1", "5", "2024-01-01", "first"]
_R1_2 = ["r1", "p2", "c2", "2", "2024-01-02", "second"]


_FULL = pieces.PARTITION_BYTES
# Quoted line breaks in pieces of about 64 bytes: ids repeat across pieces, in two batches.
_SPANNING = [[f"r{i % 4}", "p1", "c1", "5", "2024-01-01", f"two\nlines {i}"] for i in range(9)]


@example(
    files=[[_R1_5], [_R1_2, ["r2", "p1", "c1", "4", "2024-01-01", ""]]],
    plan=[0, 1],
    together=False,
    partition_bytes=_FULL,
)
@example(files=[[_R1_5], [_R1_2]], plan=[0, 1, 0], together=False, partition_bytes=_FULL)
@example(
    files=[[_R1_5, ["r3", " p1 ", "c\u00a0", " 4.0 ", "2024-02-29", " x "]], [_R1_2]],
    plan=[0, 1],
    together=True,
    partition_bytes=_FULL,
)
@example(files=[_SPANNING, _SPANNING[3:]], plan=[0, 1], together=True, partition_bytes=64)
@given(
    files=st.lists(FILE, min_size=1, max_size=3),
    plan=st.lists(st.integers(min_value=0, max_value=2), min_size=1, max_size=3),
    together=st.booleans(),
    # Partitions of this many bytes of CSV instead of 16 MiB: a file with quoted line breaks
    # is then cut into pieces parsed at once, and the others split into many.
    partition_bytes=st.sampled_from([_FULL, 64, 250]),
)
def test_the_pipeline_agrees_with_the_oracle(
    spark_context_session, files, plan, together, partition_bytes
) -> None:
    spark = spark_context_session.newSession()
    with (
        tempfile.TemporaryDirectory() as tmp,
        mock.patch.object(pieces, "PARTITION_BYTES", partition_bytes),
    ):
        root = Path(tmp)
        sources = []
        for index, lines in enumerate(files):
            path = root / f"batch {index}.csv"
            path.write_text(csv_text(lines), encoding="utf-8", newline="")
            sources.append((str(path), csv_text(lines)))
        # Which files each run processes: indices into files (re-runs included), either one
        # run per file or all of a step's files in one run.
        steps = [sources[i % len(sources)] for i in plan]
        runs = [steps] if together and len(set(steps)) == len(steps) else [[s] for s in steps]
        out = root / "out"
        for run in runs:
            config = PipelineConfig(
                sources=[path for path, _ in run], output_root=str(out), max_reject_ratio=1.0
            )
            run_pipeline(spark, config)
        expected = expected_state(runs)

        curated = parquet_rows(out / "processed-data")
        assert sorted(repr(tuple(r[k] for k in HEADER)) for r in curated) == expected["curated"]
        rejected = parquet_rows(out / "rejected")
        assert Counter(r["reject_reason"] for r in rejected) == expected["reasons"]

        analyses = out / "Athena Results"
        daily = {
            (r["review_date"], r["product_id"]): (r["review_count"], r["avg_rating"])
            for r in parquet_rows(analyses / "daily_review_counts")
        }
        want = oracle.daily_review_counts(expected["latest"])
        assert daily.keys() == want.keys()
        assert all(daily[k][0] == want[k][0] and close(daily[k][1], want[k][1]) for k in want)
        top = [
            (r["rank"], r["customer_id"], r["review_count"], r["avg_rating"])
            for r in sorted(parquet_rows(analyses / "top_5_customers"), key=lambda r: r["rank"])
        ]
        want_top = oracle.top_customers(expected["latest"])
        assert [t[:3] for t in top] == [t[:3] for t in want_top]
        assert all(close(a[3], b[3]) for a, b in zip(top, want_top, strict=True))
        shares = sorted(
            (r["rating"], r["review_count"], r["share"])
            for r in parquet_rows(analyses / "rating_distribution")
        )
        want_shares = oracle.rating_distribution(expected["latest"])
        assert [s[:2] for s in shares] == [s[:2] for s in want_shares]
        assert all(close(a[2], b[2]) for a, b in zip(shares, want_shares, strict=True))
