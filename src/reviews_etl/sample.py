"""Deterministic, realistic review CSVs for demos, tests and benchmarks. Standard library only."""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from reviews_etl.columns import RAW_COLUMNS, REJECT_REASONS, RejectReason

DEFAULT_DIRTY_SHARE = 0.05

_FIRST_DAY = dt.date(2019, 1, 1)
_DAYS = (dt.date(2025, 12, 31) - _FIRST_DAY).days + 1
_PHRASES = (
    "Excellent product!",
    "Good value for money.",
    "Terrible! Broke immediately.",
    "It's okay, nothing special.",
    'Arrived late, but the "premium" box was nice',
    "Works as described, would buy again",
    "Battery life is great; screen, not so much",
    "Five stars!\nHighly recommend.",
    'The manual said "plug and play", it wasn\'t',
    "Meh.",
    "Returned it, refund took 3 weeks, support was polite",
    "Ça marche très bien — merci!",
)
# More sentences, from which the longer texts are cut.
_SENTENCES = (
    "I bought this for my daily commute and it has held up well so far.",
    "The packaging was damaged, but the item itself was fine.",
    "Setup took about ten minutes, including the firmware update.",
    'Customer service replied within a day and sent a "replacement" part.',
    "It is lighter than I expected, which is great for travel.",
    "After two weeks the left button started to stick.",
    "Colours are accurate, though the brightness could be higher.",
    "My kids use it every day; no complaints, yet.",
    "Honestly, for the price, I expected better build quality.",
    "The instructions were confusing, so I watched a video instead.",
    "Shipping was fast: ordered on Monday, arrived Wednesday.",
    "Compared with my old one, it is quieter and uses less power.",
    "Would I buy it again? Probably, if it goes on sale.",
    "The smell of plastic went away after a few days.",
    "Fits perfectly, and the material feels sturdy, not cheap.",
    "Überraschend gut verarbeitet, aber das Kabel ist zu kurz.",
    "Le produit est conforme à la description, livraison rapide.",
)
# Review text lengths: log-normal around a median of about 220 characters, with a long
# tail to several KB (cut at 8,000), as product reviews have; one in ten has no text.
_TEXT_MEDIAN = 220
_TEXT_SIGMA = 0.8
_TEXT_MAX = 8000
_RATINGS_WEIGHTS = (8, 7, 12, 30, 43)  # skewed to high ratings, as review sites are
_DIRTY_KINDS = REJECT_REASONS  # one generator per reject reason, malformed rows included


def _zipf_weights(n: int, s: float = 1.1) -> list[float]:
    return [1.0 / (rank**s) for rank in range(1, n + 1)]


class _Generator:
    def __init__(self, rows: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.customers = [f"c-{i:06d}" for i in range(1, max(10, rows // 4) + 1)]
        self.products = [f"p-{i:05d}" for i in range(1, max(5, rows // 50) + 1)]
        # Shuffle which ids are popular so popularity is not the id order.
        self.rng.shuffle(self.customers)
        self.rng.shuffle(self.products)
        self.customer_cum = _cumulative(_zipf_weights(len(self.customers)))
        self.product_cum = _cumulative(_zipf_weights(len(self.products)))
        self.issued: list[str] = []
        self._corpus, self._starts = self._make_corpus()

    def _make_corpus(self) -> tuple[str, list[int]]:
        """A long text of sentences (with the odd line break) that review texts are cut from,
        and where its sentences start (only those with a longest text after them)."""
        parts: list[str] = []
        starts: list[int] = []
        length = 0
        while length < 5 * _TEXT_MAX:
            sentence = self.rng.choice(_SENTENCES + _PHRASES)
            starts.append(length)
            parts.append(sentence + ("\n" if self.rng.random() < 0.05 else " "))
            length += len(sentence) + 1
        usable = bisect.bisect_right(starts, length - _TEXT_MAX - 100)
        return "".join(parts), starts[:usable]

    def text(self) -> str:
        rng = self.rng
        if rng.random() < 0.1:
            return ""
        wanted = int(rng.lognormvariate(math.log(_TEXT_MEDIAN), _TEXT_SIGMA))
        wanted = min(_TEXT_MAX, max(8, wanted))
        start = self._starts[rng.randrange(len(self._starts))]
        end = self._corpus.find(" ", start + wanted)  # a person stops at a word boundary
        return self._corpus[start : end if end != -1 else None].strip()

    def clean(self, index: int) -> list[str]:
        row = self._row(index)
        self.issued.append(row[0])
        return row

    def _row(self, index: int) -> list[str]:
        rng = self.rng
        review_id = f"r-{index:09d}"
        product = rng.choices(self.products, cum_weights=self.product_cum)[0]
        customer = rng.choices(self.customers, cum_weights=self.customer_cum)[0]
        rating = str(rng.choices((1, 2, 3, 4, 5), weights=_RATINGS_WEIGHTS)[0])
        day = (_FIRST_DAY + dt.timedelta(days=rng.randrange(_DAYS))).isoformat()
        text = self.text()
        # Values that must pass after normalisation: padding, lower case, "4.0".
        style = rng.random()
        if style < 0.02:
            product = product.lower()
        elif style < 0.04:
            rating = f" {rating} "
        elif style < 0.05:
            rating = f"{rating}.0"
        elif style < 0.06:
            customer = f" {customer}"
        return [review_id, product, customer, rating, day, text]

    def dirty(self, index: int, kind: str) -> list[str]:
        row = self._row(index)
        rng = self.rng
        if kind == RejectReason.MALFORMED_ROW:
            return rng.choice((["auto_comment"], [*row, "extra", "fields"], row[:3]))
        if kind == RejectReason.MISSING_REVIEW_ID:
            row[0] = rng.choice(("", "  "))
        elif kind == RejectReason.MISSING_PRODUCT_ID:
            row[1] = ""
        elif kind == RejectReason.MISSING_CUSTOMER_ID:
            row[2] = " "
        elif kind == RejectReason.MISSING_RATING:
            row[3] = ""
        elif kind == RejectReason.INVALID_RATING:
            row[3] = rng.choice(("4.5", "0", "6", "five", "-1", "10"))
        elif kind == RejectReason.MISSING_REVIEW_DATE:
            row[4] = ""
        elif kind == RejectReason.INVALID_REVIEW_DATE:
            row[4] = rng.choice(("2024-02-30", "2023-13-01", "2024/01/05", "yesterday", "24-1-5"))
        elif kind == RejectReason.DUPLICATE_REVIEW_ID:
            # An id a clean row already holds, so this row is the later occurrence.
            row[0] = rng.choice(self.issued) if self.issued else row[0]
        return row


def _cumulative(weights: list[float]) -> list[float]:
    total = 0.0
    out = []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def generate_rows(
    rows: int, seed: int, dirty_share: float = DEFAULT_DIRTY_SHARE
) -> Iterator[list[str]]:
    """``rows`` data records (header excluded). Dirty rows cycle through every reject kind,
    so any file with at least nine dirty rows holds every reason."""
    if rows < 0:
        raise ValueError("rows must be >= 0")
    if not 0.0 <= dirty_share <= 1.0:
        raise ValueError("dirty_share must be between 0 and 1")
    gen = _Generator(rows, seed)
    dirty_seen = 0
    for index in range(rows):
        if gen.rng.random() < dirty_share and index > 0:
            kind = _DIRTY_KINDS[dirty_seen % len(_DIRTY_KINDS)]
            dirty_seen += 1
            yield gen.dirty(index, kind)
        else:
            yield gen.clean(index)


def write_sample(
    out: TextIO, rows: int, seed: int, dirty_share: float = DEFAULT_DIRTY_SHARE
) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RAW_COLUMNS)
    writer.writerows(generate_rows(rows, seed, dirty_share))


def write_sample_file(
    path: str | Path, rows: int, seed: int, dirty_share: float = DEFAULT_DIRTY_SHARE
) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8", newline="") as handle:
        write_sample(handle, rows, seed, dirty_share)
    return target
