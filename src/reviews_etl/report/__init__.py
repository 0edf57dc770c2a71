"""The HTML report of an output root: reviews over time, top customers, ratings, rejects per
source file, run history and data freshness, in one self-contained page that opens offline.

No Spark: the outputs are read with pyarrow (``data``), charted with Altair (``charts``) and
rendered with Jinja2 (``render``). Those come with the optional extra ``report``; this module
imports without them and says how to install them when they are missing."""

from __future__ import annotations

import logging
from typing import Final

from reviews_etl.config import OutputLayout
from reviews_etl.errors import ConfigError, EnvironmentSetupError, ReviewsEtlError, first_line
from reviews_etl.logs import get_logger, log_event

REPORTS_FOLDER: Final = "reports"
LATEST: Final = "latest.html"
INSTALL_HINT: Final = 'pip install "reviews-etl[report]"'


def report_path(output_root: str, name: str = LATEST) -> str:
    """``<output_root>/reports/<name>``: where reports go unless told otherwise."""
    return f"{output_root.rstrip('/')}/{REPORTS_FOLDER}/{name}"


def write_report(
    output_root: str,
    out: str | None = None,
    layout: OutputLayout | None = None,
    *,
    run_id: str | None = None,
) -> str:
    """Write the report of ``output_root`` (a folder, ``file://`` or ``s3://`` URI) to ``out``
    (default ``<output_root>/reports/latest.html``) and return the path written. ``run_id``
    marks that run in the history."""
    try:
        from pyarrow import ArrowException

        from reviews_etl.report import data, render
    except ImportError as exc:
        missing = exc.name or str(exc)
        raise EnvironmentSetupError(
            f"the report needs the optional dependencies altair, vl-convert-python, jinja2 "
            f"and pyarrow: {INSTALL_HINT} (missing: {missing})"
        ) from exc
    target = out or report_path(output_root)
    try:
        content = data.load_report_data(output_root, layout)
        if content.runs_total == 0 and len(content.missing) == 5:
            raise ConfigError(
                f"{output_root}: no reviews-etl outputs there (no run manifests, no curated, "
                "rejected or analysis folders)"
            )
        data.write_text(target, render.render_html(content, run_id=run_id))
    except (OSError, ArrowException) as exc:
        raise ReviewsEtlError(f"{output_root}: could not write the report: {exc}") from exc
    return target


def write_run_report(
    output_root: str, run_id: str, layout: OutputLayout | None = None
) -> str | None:
    """The per-run report, ``<output_root>/reports/<run_id>.html``; never raises. A missing
    extra or any failure is logged as one warning line and ``None`` is returned: the report
    must not fail the run it reports on."""
    logger = get_logger()
    try:
        path = write_report(
            output_root, report_path(output_root, f"{run_id}.html"), layout, run_id=run_id
        )
    except Exception as exc:
        text = first_line(exc)
        error = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        log_event(logger, "run_report_failed", logging.WARNING, run_id=run_id, error=error)
        return None
    log_event(logger, "run_report_written", run_id=run_id, path=path)
    return path


__all__ = ["INSTALL_HINT", "REPORTS_FOLDER", "report_path", "write_report", "write_run_report"]
