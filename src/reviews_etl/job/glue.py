"""AWS Glue job wiring: resolve the job arguments, pick the session, run, commit.

``glue_entrypoint.py`` calls :func:`main`. On Glue, ``GlueContext`` and ``Job`` come from
the runtime; anywhere else (a laptop, CI, ``spark-submit``) the same script runs on a plain
local SparkSession, so a local run produces exactly what ``reviews-etl run`` produces.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict
from pyspark import SparkContext
from pyspark.sql import SparkSession

from reviews_etl.config import DEFAULT_MAX_REJECT_RATIO, DEFAULT_TOP_N, PipelineConfig
from reviews_etl.errors import ConfigError
from reviews_etl.job.pipeline import run_pipeline
from reviews_etl.job.session import apply_pipeline_settings, build_spark_session
from reviews_etl.logs import get_logger, log_event
from reviews_etl.manifest import RunResult
from reviews_etl.sources import SOURCE_ARGUMENTS, read_source_manifest

REQUIRED_ARGS = ("JOB_NAME", "output_path")
# getResolvedOptions treats every requested option as mandatory, so these are requested
# only when the job run was given them.
OPTIONAL_ARGS = (*SOURCE_ARGUMENTS, "top_n", "max_reject_ratio", "run_id", "catalog_database")
# Glue adds this to every run and getResolvedOptions always returns it (reserved: never ask).
GLUE_RUN_ID = "JOB_RUN_ID"

logger = get_logger(__name__)
Resolver = Callable[[Sequence[str], list[str]], dict[str, str]]


class GlueJobArgs(BaseModel):
    model_config = ConfigDict(frozen=True)

    job_name: str
    sources: list[str]
    output_path: str
    top_n: int = DEFAULT_TOP_N
    max_reject_ratio: float = DEFAULT_MAX_REJECT_RATIO
    run_id: str | None = None
    catalog_database: str | None = None

    def pipeline_config(self) -> PipelineConfig:
        return PipelineConfig.build(
            sources=self.sources,
            output_root=self.output_path,
            top_n=self.top_n,
            max_reject_ratio=self.max_reject_ratio,
            run_id=self.run_id,
            catalog_database=self.catalog_database,
        )


def _fallback_resolver(argv: Sequence[str], options: list[str]) -> dict[str, str]:
    """``getResolvedOptions`` where awsglue is not installed: ``--name value`` or ``--name=value``,
    every requested option required, unknown ones ignored (Glue adds its own), ``JOB_RUN_ID``
    returned when present."""
    found: dict[str, str] = {}
    wanted = [*options, GLUE_RUN_ID]
    items = list(argv[1:])
    for index, item in enumerate(items):
        if not item.startswith("--"):
            continue
        name, eq, value = item[2:].partition("=")
        if name not in wanted:
            continue
        if not eq:
            if index + 1 >= len(items):
                raise ConfigError(f"job argument --{name} needs a value")
            value = items[index + 1]
        found[name] = value
    missing = [f"--{name}" for name in options if name not in found]
    if missing:
        raise ConfigError(f"missing job arguments: {', '.join(missing)}")
    return found


def _glue_resolver() -> Resolver:
    try:
        from awsglue.utils import getResolvedOptions
    except ImportError:
        return _fallback_resolver

    def resolve(argv: Sequence[str], options: list[str]) -> dict[str, str]:
        try:
            resolved: dict[str, str] = getResolvedOptions(list(argv), options)
        except (SystemExit, Exception) as exc:  # GlueArgumentError, or argparse's exit
            raise ConfigError(
                f"missing or invalid job arguments (need --{', --'.join(options)}): {exc}"
            ) from exc
        return resolved

    return resolve


def _sources(values: dict[str, str]) -> list[str]:
    """``--source_path``: one ``s3://`` path, or a JSON array of paths; ``--source_manifest``:
    the URI of a ``{"sources": [...]}`` object (what the trigger writes for a batch)."""
    given = [name for name in SOURCE_ARGUMENTS if values.get(name)]
    if len(given) != 1:
        raise ConfigError(
            "give exactly one of --source_path URI or --source_manifest URI"
            + (f" (got {' and '.join('--' + name for name in given)})" if given else "")
        )
    if given == ["source_manifest"]:
        return read_source_manifest(values["source_manifest"])
    value = values["source_path"]
    if value.lstrip().startswith("["):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--source_path is not a valid JSON array: {exc}") from exc
        if not isinstance(parsed, list) or not all(isinstance(p, str) for p in parsed):
            raise ConfigError("--source_path as JSON must be an array of strings")
        return parsed
    return [value]


def resolve_job_args(argv: Sequence[str], resolver: Resolver | None = None) -> GlueJobArgs:
    present = {item[2:].partition("=")[0] for item in argv if item.startswith("--")}
    if not present & set(SOURCE_ARGUMENTS):
        missing = [f"--{name}" for name in REQUIRED_ARGS if name not in present]
        raise ConfigError(
            "missing job arguments: "
            + ", ".join([*missing, "--source_path URI or --source_manifest URI"])
        )
    options = [*REQUIRED_ARGS, *(name for name in OPTIONAL_ARGS if name in present)]
    values = (resolver or _glue_resolver())(argv, options)
    try:
        return GlueJobArgs(
            job_name=values["JOB_NAME"],
            sources=_sources(values),
            output_path=values["output_path"],
            top_n=int(values.get("top_n", DEFAULT_TOP_N)),
            max_reject_ratio=float(values.get("max_reject_ratio", DEFAULT_MAX_REJECT_RATIO)),
            run_id=values.get("run_id") or values.get(GLUE_RUN_ID),
            catalog_database=values.get("catalog_database") or None,
        )
    except ValueError as exc:
        raise ConfigError(f"invalid job argument: {exc}") from exc


def _glue_context() -> tuple[Any, Any] | None:
    """``(GlueContext, Job)`` on Glue; ``None`` where Glue's JVM classes are absent."""
    try:
        from awsglue.context import GlueContext
        from awsglue.job import Job
    except ImportError:
        return None
    spark_context = SparkContext.getOrCreate()
    try:
        context = GlueContext(spark_context)
    except Exception:
        # awsglue is installed (awsgluedataplanepython) but Glue's jars are not on the JVM's
        # classpath: not on Glue. Stop the bare context so the local one gets its settings.
        spark_context.stop()
        return None
    return context, Job(context)


def _log_to_stdout() -> None:
    """The library's decision lines (run_started, batch_processed, run_finished) at INFO on
    stdout, which Glue sends to CloudWatch (/aws-glue/jobs/output): nothing else configures
    Python logging in a Glue job."""
    library = get_logger()
    if not library.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        library.addHandler(handler)
    library.setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None, spark: SparkSession | None = None) -> RunResult:
    """Run the job. ``spark`` lets tests and notebooks pass their own session."""
    _log_to_stdout()
    args = resolve_job_args(list(sys.argv if argv is None else argv))
    config = args.pipeline_config()
    job = None
    if spark is None:
        glue = _glue_context()
        if glue is not None:
            context, job = glue
            spark = context.spark_session
            apply_pipeline_settings(spark)
            job.init(args.job_name, {"JOB_NAME": args.job_name})
        else:
            spark = build_spark_session(app_name=args.job_name)
    log_event(logger, "glue_job_started", job_name=args.job_name, on_glue=job is not None)
    result = run_pipeline(spark, config)
    if job is not None:
        job.commit()
    return result
