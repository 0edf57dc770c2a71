"""The Spark mechanics the pipeline relies on: caches without column compression, counts
observed while rows are written, Parquet writes, and which batch folders are complete.
Orchestration (what runs when) stays in :mod:`reviews_etl.job.pipeline` and
:mod:`reviews_etl.job.batches`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from reviews_etl.columns import REJECT_REASON, REJECT_REASONS, SOURCE_ID
from reviews_etl.job.storage import HadoopFS
from reviews_etl.paths import PARTITION_PREFIX, join, partition_name, partition_path

SUCCESS_MARKER = "_SUCCESS"
_CACHE_COMPRESSION = "spark.sql.inMemoryColumnarStorage.compressed"
_ROWS = "rows"


class Counted:
    """A DataFrame that counts its rows (in total and per reject reason) while an action runs
    over it: a Spark ``Observation``, so counting costs no pass of its own. The counts come
    from where the rows are (the parse, each write), never from each other."""

    def __init__(self, df: DataFrame, by_reason: bool = False) -> None:
        self._observation = Observation()
        reason = F.col(REJECT_REASON)
        per_reason = [
            F.count(F.when(reason == F.lit(r), F.lit(1))).alias(r) for r in REJECT_REASONS
        ]
        self.df = df.observe(
            self._observation, F.count(F.lit(1)).alias(_ROWS), *(per_reason if by_reason else [])
        )

    @property
    def rows(self) -> int:
        """Call after an action over :attr:`df` has run."""
        return int(self._observation.get[_ROWS])

    @property
    def by_reason(self) -> dict[str, int]:
        metrics = self._observation.get
        return {r: int(metrics[r]) for r in REJECT_REASONS}


@contextmanager
def uncompressed_caching(spark: SparkSession) -> Iterator[None]:
    """Cache without Spark's in-memory column compression, for the DataFrames persisted inside.

    The setting is read when ``persist`` is called. Compressing the cached batches (statistics
    and an encoding per column of every batch) costs more than parsing the CSV (figures in
    docs/performance.md). The bigger cache spills to disk (``MEMORY_AND_DISK``) rather than
    fail. The session's own value is restored.
    """
    previous = spark.conf.get(_CACHE_COMPRESSION, None)
    spark.conf.set(_CACHE_COMPRESSION, "false")
    try:
        yield
    finally:
        if previous is None:
            spark.conf.unset(_CACHE_COMPRESSION)
        else:
            spark.conf.set(_CACHE_COMPRESSION, previous)


def cache(df: DataFrame) -> DataFrame:
    with uncompressed_caching(df.sparkSession):
        return df.persist(StorageLevel.MEMORY_AND_DISK)


def write_parquet(df: DataFrame, path: str) -> None:
    df.write.mode("overwrite").parquet(path)


def write_by_source(df: DataFrame, root: str, source_ids: Sequence[str], staging: str) -> None:
    """Write rows carrying ``source_id`` as one ``source_id=`` folder per source under
    ``root``, replacing each folder of ``source_ids``; afterwards each holds ``_SUCCESS``,
    also one with no rows.

    One source is written straight into its folder. Several (a burst of files read in one
    pass) are written once, partitioned, into ``staging`` and then moved folder by folder: a
    write per source would cost a Spark job each, and Spark's partitioned write into ``root``
    would leave the folders of sources without rows untouched.
    """
    if len(source_ids) == 1:
        write_parquet(df.drop(SOURCE_ID), partition_path(root, source_ids[0]))
        return
    fs = HadoopFS(df.sparkSession)
    try:
        df.write.mode("overwrite").partitionBy(SOURCE_ID).parquet(staging)
        written = set(fs.list_dirs(staging))
        for source_id in source_ids:
            name = partition_name(source_id)
            folder = join(root, name)
            fs.delete(folder)
            if name in written:
                fs.rename(join(staging, name), folder)
            else:
                fs.mkdirs(folder)
            fs.touch(join(folder, SUCCESS_MARKER))
    finally:
        fs.delete(staging)


def complete_batches(spark: SparkSession, curated_root: str) -> list[str]:
    """The ``source_id=`` folders whose write was committed (Spark's ``_SUCCESS`` marker,
    which :func:`~reviews_etl.job.session.apply_pipeline_settings` keeps on): a folder left
    half-written by a run that was killed is never read, until its source is processed
    again."""
    fs = HadoopFS(spark)
    folders = [
        join(curated_root, name)
        for name in fs.list_dirs(curated_root)
        if name.startswith(PARTITION_PREFIX)
    ]
    return [folder for folder in folders if fs.info(join(folder, SUCCESS_MARKER)).exists]
