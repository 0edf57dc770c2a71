"""An independent, plain-Python implementation of the data contract (docs/data-contract.md),
used as a test oracle.

Deliberately written without looking at how the Spark transforms work: csv module parsing,
``datetime.date`` for calendar checks, dicts for grouping.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

REQUIRED = ("review_id", "product_id", "customer_id", "rating", "review_date")


@dataclass
class OracleResult:
    accepted: list[dict[str, object]] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    rows_read: int = 0


def _rating(text: str) -> int | None:
    match = re.fullmatch(r"([0-9]+)(?:\.0+)?", text)
    if not match:
        return None
    value = int(match.group(1))
    return value if 1 <= value <= 5 else None


def _date(text: str) -> dt.date | None:
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def clean_file(text: str) -> OracleResult:
    result = OracleResult()
    rows = [row for row in csv.reader(io.StringIO(text.removeprefix("\ufeff"))) if row]
    header = [name.strip().lower() for name in rows[0]]
    header = ["rating" if name == "star_rating" else name for name in header]
    index = {name: header.index(name) for name in (*REQUIRED, "review_text") if name in header}
    seen: set[str] = set()
    for row in rows[1:]:
        result.rows_read += 1
        if len(row) != len(header):
            result.reasons["malformed_row"] += 1
            continue
        value = {name: row[i].strip() for name, i in index.items()}
        reason = None
        for name in ("review_id", "product_id", "customer_id"):
            if not value[name]:
                reason = f"missing_{name}"
                break
        if reason is None:
            if not value["rating"]:
                reason = "missing_rating"
            elif _rating(value["rating"]) is None:
                reason = "invalid_rating"
            elif not value["review_date"]:
                reason = "missing_review_date"
            elif _date(value["review_date"]) is None:
                reason = "invalid_review_date"
            elif value["review_id"] in seen:
                reason = "duplicate_review_id"
        if reason is not None:
            result.reasons[reason] += 1
            continue
        seen.add(value["review_id"])
        result.accepted.append(
            {
                "review_id": value["review_id"],
                "product_id": value["product_id"].upper(),
                "customer_id": value["customer_id"],
                "rating": _rating(value["rating"]),
                "review_date": _date(value["review_date"]),
                "review_text": value.get("review_text") or None,
            }
        )
    return result


def daily_review_counts(
    rows: list[dict[str, object]],
) -> dict[tuple[object, object], tuple[int, float]]:
    groups: dict[tuple[object, object], list[int]] = defaultdict(list)
    for row in rows:
        groups[(row["review_date"], row["product_id"])].append(int(row["rating"]))
    return {key: (len(r), sum(r) / len(r)) for key, r in groups.items()}


def top_customers(rows: list[dict[str, object]], n: int = 5) -> list[tuple[int, str, int, float]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        groups[str(row["customer_id"])].append(int(row["rating"]))
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))[:n]
    return [(i + 1, c, len(r), sum(r) / len(r)) for i, (c, r) in enumerate(ordered)]


def rating_distribution(rows: list[dict[str, object]]) -> list[tuple[int, int, float]]:
    counts = Counter(int(row["rating"]) for row in rows)
    total = sum(counts.values())
    return [(r, counts[r], counts[r] / total if total else 0.0) for r in range(1, 6)]
