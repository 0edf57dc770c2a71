"""The report's charts as Vega-Lite specs, built with Altair from the aggregated rows of
:class:`~reviews_etl.report.data.ReportData`. Each chart carries its data inline (a few
thousand rows at most) and is drawn in the page by the inlined Vega bundle."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import altair as alt

from reviews_etl.columns import REJECT_REASONS
from reviews_etl.manifest import STAGES
from reviews_etl.report.data import ReportData

WIDTH = 820
ACCEPTED, REJECTED = "accepted", "rejected"


@dataclass(frozen=True)
class Chart:
    id: str  # the HTML id of the chart's container
    section: str  # which section of the page shows it
    title: str
    spec: dict[str, Any]


def _spec(chart: Any) -> dict[str, Any]:
    """The Vega-Lite spec (validated by Altair against the schema)."""
    spec: dict[str, Any] = chart.to_dict()
    return spec


def _by_run() -> alt.EncodingSortField:
    # "min" keeps the order when layers with different data share the axis.
    return alt.EncodingSortField(field="order", op="min", order="ascending")


def reviews_per_day(rows: list[dict[str, Any]]) -> dict[str, Any]:
    base = alt.Chart(alt.InlineData(values=rows)).encode(
        x=alt.X("review_date:T", title="review date", scale=alt.Scale(type="utc")),
        y=alt.Y("review_count:Q", title="reviews"),
    )
    days = base.mark_line(strokeWidth=1, color="#9ecae9")
    average = base.transform_window(
        review_count="mean(review_count)", frame=[-14, 14], sort=[{"field": "review_date"}]
    ).mark_line(strokeWidth=2, color="#1f4e79")
    chart = alt.layer(days, average, title="Reviews per day, all products (and 29-day mean)")
    return _spec(chart.properties(width=WIDTH, height=200))


def top_products_per_month(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return _spec(
        alt.Chart(alt.InlineData(values=rows), title="Reviews per month, top products")
        .mark_line(strokeWidth=1.5)
        .encode(
            x=alt.X("month:T", title="month", timeUnit="utcyearmonth"),
            y=alt.Y("review_count:Q", title="reviews"),
            color=alt.Color("product_id:N", title="product"),
            tooltip=[
                alt.Tooltip("product_id:N", title="product"),
                alt.Tooltip("month:T", timeUnit="utcyearmonth", title="month"),
                alt.Tooltip("review_count:Q", title="reviews"),
            ],
        )
        .properties(width=WIDTH - 120, height=200)
    )


def top_customers(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return _spec(
        alt.Chart(alt.InlineData(values=rows), title="Top customers by reviews")
        .mark_bar()
        .encode(
            y=alt.Y(
                "customer_id:N",
                title="customer",
                sort=alt.EncodingSortField(field="rank", order="ascending"),
                axis=alt.Axis(labelLimit=300),
            ),
            x=alt.X("review_count:Q", title="reviews", axis=alt.Axis(tickCount=6)),
            tooltip=[
                alt.Tooltip("rank:Q"),
                alt.Tooltip("customer_id:N", title="customer"),
                alt.Tooltip("review_count:Q", title="reviews"),
                alt.Tooltip("avg_rating:Q", title="average rating", format=".2f"),
            ],
        )
        .properties(width=WIDTH - 300, height=alt.Step(22))
    )


def rating_distribution(rows: list[dict[str, Any]]) -> dict[str, Any]:
    base = alt.Chart(alt.InlineData(values=rows), title="Rating distribution").encode(
        x=alt.X("rating:O", title="rating", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("review_count:Q", title="reviews"),
        tooltip=[
            alt.Tooltip("rating:O"),
            alt.Tooltip("review_count:Q", title="reviews"),
            alt.Tooltip("share:Q", format=".1%"),
        ],
    )
    labels = base.mark_text(dy=-7).encode(text=alt.Text("share:Q", format=".1%"))
    return _spec(alt.layer(base.mark_bar(), labels).properties(width=360, height=200))


def rejects_by_source(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return _spec(
        alt.Chart(alt.InlineData(values=rows), title="Rejected rows by reason, per source file")
        .mark_bar()
        .encode(
            y=alt.Y("source_file:N", title="source file", axis=alt.Axis(labelLimit=360)),
            x=alt.X("count:Q", title="rejected rows", stack="zero"),
            color=alt.Color(
                "reject_reason:N", title="reason", sort=[str(r) for r in REJECT_REASONS]
            ),
            tooltip=[
                alt.Tooltip("source_file:N", title="source file"),
                alt.Tooltip("reject_reason:N", title="reason"),
                alt.Tooltip("count:Q", title="rows"),
            ],
        )
        .properties(width=WIDTH - 400, height=alt.Step(24))
    )


def rows_per_run(data: ReportData) -> dict[str, Any]:
    rows, flags = [], []
    for order, run in enumerate(data.runs):
        total = run.rows_accepted + run.rows_rejected
        rows.append(
            {"order": order, "run_id": run.run_id, "kind": ACCEPTED, "rows": run.rows_accepted}
        )
        rows.append(
            {"order": order, "run_id": run.run_id, "kind": REJECTED, "rows": run.rows_rejected}
        )
        if run.status != "succeeded":
            flag = "gate" if run.gate_failures else "failed"
            flags.append({"order": order, "run_id": run.run_id, "rows": total, "flag": flag})
    x = alt.X(
        "run_id:N", title="run", sort=_by_run(), axis=alt.Axis(labelAngle=-40, labelLimit=220)
    )
    bars = (
        alt.Chart(alt.InlineData(values=rows))
        .mark_bar()
        .encode(
            x=x,
            y=alt.Y("rows:Q", title="rows read", stack="zero"),
            color=alt.Color(
                "kind:N",
                title="rows",
                scale=alt.Scale(domain=[ACCEPTED, REJECTED], range=["#4c78a8", "#f58518"]),
            ),
            order=alt.Order("kind:N", sort="ascending"),
            tooltip=["run_id:N", "kind:N", "rows:Q"],
        )
    )
    layers = [bars]
    if flags:
        marks = alt.Chart(alt.InlineData(values=flags)).mark_text(
            dy=-8, color="#d62728", fontWeight="bold", fontSize=12
        )
        layers.append(marks.encode(x=x, y=alt.Y("rows:Q"), text="flag:N"))
    chart = alt.layer(*layers, title="Rows per run (failed runs flagged)")
    return _spec(chart.properties(width=alt.Step(30), height=200))


def seconds_per_stage(data: ReportData) -> dict[str, Any]:
    stages = list(STAGES)
    rows = []
    for order, run in enumerate(data.runs):
        for stage, seconds in run.stage_seconds.items():
            if stage not in stages:
                stages.append(stage)
            rows.append(
                {
                    "order": order,
                    "run_id": run.run_id,
                    "stage": stage,
                    "seconds": seconds,
                    "stage_order": stages.index(stage),
                }
            )
    return _spec(
        alt.Chart(alt.InlineData(values=rows), title="Seconds per stage, per run")
        .mark_bar()
        .encode(
            y=alt.Y("run_id:N", title="run", sort=_by_run(), axis=alt.Axis(labelLimit=220)),
            x=alt.X("seconds:Q", title="seconds", stack="zero"),
            color=alt.Color("stage:N", title="stage", scale=alt.Scale(domain=stages)),
            order=alt.Order("stage_order:Q", sort="ascending"),
            tooltip=["run_id:N", "stage:N", alt.Tooltip("seconds:Q", format=".2f")],
        )
        .properties(width=WIDTH - 380, height=alt.Step(16))
    )


def build_charts(data: ReportData) -> list[Chart]:
    """The page's charts, each only when it has data to show."""
    runs = [r for r in data.runs if r.status != "unreadable"]
    history = replace(data, runs=runs)
    candidates: list[tuple[str, str, str, bool, Any]] = [
        (
            "chart-reviews-per-day",
            "volume",
            "Reviews per day",
            bool(data.daily_totals),
            lambda: reviews_per_day(data.daily_totals),
        ),
        (
            "chart-top-products",
            "volume",
            "Top products",
            bool(data.product_months),
            lambda: top_products_per_month(data.product_months),
        ),
        (
            "chart-top-customers",
            "customers",
            "Top customers",
            bool(data.top_customers),
            lambda: top_customers(data.top_customers),
        ),
        (
            "chart-ratings",
            "ratings",
            "Rating distribution",
            bool(data.ratings),
            lambda: rating_distribution(data.ratings),
        ),
        (
            "chart-rejects",
            "rejects",
            "Rejects",
            bool(data.rejects),
            lambda: rejects_by_source(data.rejects),
        ),
        ("chart-run-rows", "runs", "Rows per run", bool(runs), lambda: rows_per_run(history)),
        (
            "chart-run-stages",
            "runs",
            "Seconds per stage",
            any(r.stage_seconds for r in runs),
            lambda: seconds_per_stage(history),
        ),
    ]
    return [
        Chart(id=cid, section=section, title=title, spec=make())
        for cid, section, title, present, make in candidates
        if present
    ]
