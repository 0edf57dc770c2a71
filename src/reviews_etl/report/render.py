"""The report as one self-contained HTML page: Jinja2 with autoescaping for everything from
the data, the charts' Vega-Lite specs as JSON that cannot end their ``<script>`` element, and
the Vega, Vega-Lite and Vega-Embed bundle of vl-convert inlined, so the page opens offline."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from importlib.metadata import version as _version
from typing import Any

import altair as alt
import vl_convert
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from reviews_etl._version import __version__
from reviews_etl.columns import REJECT_REASONS
from reviews_etl.errors import EnvironmentSetupError, first_line
from reviews_etl.report.charts import build_charts
from reviews_etl.report.data import MAX_RUNS, TOP_PRODUCTS, ReportData

# Inside <script>, only "</script", "<!--" and "<script" matter; escaping every <, > and &
# (JSON allows \uXXXX in strings, and they occur nowhere else) rules them all out.
_SCRIPT_SAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def script_json(value: Any) -> Markup:
    """``value`` as JSON that is safe as the text of a ``<script>`` element."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return Markup(text.translate(_SCRIPT_SAFE))  # escaped just above


def vega_lite_version() -> str:
    """The Vega-Lite version Altair writes specs for, e.g. ``6.4``."""
    return ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])


@functools.cache
def vega_bundle() -> Markup:
    """Vega, Vega-Lite (the version Altair targets) and Vega-Embed as one script, which
    defines the globals ``vega``, ``vegaLite`` and ``vegaEmbed``."""
    wanted = vega_lite_version()
    try:
        version = "v" + wanted.replace(".", "_")
        bundle = vl_convert.javascript_bundle(None, vl_version=version)  # type: ignore[arg-type]
    except (ValueError, RuntimeError) as exc:  # a vl-convert older than the Altair
        raise EnvironmentSetupError(
            f"vl-convert-python {_version('vl-convert-python')} has no Vega-Lite {wanted}, "
            f"which Altair {alt.__version__} writes: pip install -U vl-convert-python "
            f"({first_line(exc)})"
        ) from exc
    # A bundle must not end the <script> it sits in; inside JS strings and regexes "<\/" is
    # "</", so the escape changes nothing the code means.
    bundle = re.sub(r"<(/script|!--)", r"<\\\1", bundle, flags=re.IGNORECASE)
    return Markup(bundle)  # library code, not data


def _number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _when(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return value.isoformat()


def _age(value: dt.datetime | None, now: dt.datetime) -> str:
    if value is None:
        return ""
    hours = (now - value).total_seconds() / 3600
    return f"{hours:.1f} hours ago" if hours < 48 else f"{hours / 24:.0f} days ago"


def reject_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[tuple[str, list[int]]]]:
    """Rejects as one row per source file, one column per reason (and the total last)."""
    order = {reason: i for i, reason in enumerate(REJECT_REASONS)}
    reasons = sorted({r["reject_reason"] for r in rows}, key=lambda r: (order.get(r, 99), r))
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["source_file"], {})[row["reject_reason"]] = row["count"]
    table = [
        (source, [by.get(r, 0) for r in reasons] + [sum(by.values())])
        for source, by in sorted(counts.items())
    ]
    return reasons, table


@functools.cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("reviews_etl.report", "templates"),
        autoescape=True,  # every {{ value }} is HTML-escaped unless it is Markup
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(number=_number, when=_when, script_json=script_json)
    return env


def render_html(data: ReportData, run_id: str | None = None) -> str:
    """The whole page; ``run_id`` marks that run in the history (the per-run report)."""
    charts = build_charts(data)
    last = data.runs[-1] if data.runs else None
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            data=data,
            charts=charts,
            run_id=run_id,
            last_run=last,
            ingest_age=_age(data.newest_ingest, data.generated_at),
            rejects=reject_table(data.rejects),
            max_runs=MAX_RUNS,
            top_products=TOP_PRODUCTS,
            version=__version__,
            vega_lite=vega_lite_version(),
            vega_js=vega_bundle(),
        )
    )
