"""pytest plugin and helpers for testing your own transforms next to reviews-etl's.

Installed with ``pip install "reviews-etl[testing]"``; pytest loads it by itself (the
``pytest11`` entry point ``reviews_etl``, :mod:`reviews_etl.testing.plugin`). It provides:

- the ``spark`` fixture: one local SparkSession for the test run, with the settings the
  pipeline applies on Glue (:data:`reviews_etl.job.session.PIPELINE_SETTINGS`), quiet logs and
  no UI;
- the ``reviews_df`` fixture: a factory of raw reviews DataFrames (:func:`make_reviews_df`),
  the columns :func:`reviews_etl.read_reviews_csv` returns;
- :func:`assert_reviews_equal`: chispa's DataFrame comparison with defaults that suit
  transform outputs.

Options (command line, or the ini option of the same name in ``[tool.pytest.ini_options]``):

- ``--reviews-etl-master`` / ``reviews_etl_master``: the Spark master (default ``local[2]``);
- ``--reviews-etl-spark-line`` / ``reviews_etl_spark_line``: the Spark line the run must be
  on (``3.5`` for Glue 5.x, ``4.1`` for Glue 6.0). A check only: the installed pyspark is
  what runs, and a run on another line stops before any test.

Importing this package imports neither pyspark nor chispa (so the plugin can load without
the extra and say what to install); the helpers load on first use, and no JVM starts until
the ``spark`` fixture does.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reviews_etl.testing.helpers import *  # noqa: F403 - the names helpers.__all__ lists


def __getattr__(name: str) -> Any:
    return getattr(importlib.import_module("reviews_etl.testing.helpers"), name)
