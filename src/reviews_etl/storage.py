"""File-system access through Hadoop's FileSystem API, so one code path serves local folders,
``file://`` URIs and ``s3://`` on Glue. Used only at the edges (reader, writer, manifest)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from pyspark.sql import SparkSession

_S3_ALIASES = {"s3a": "s3", "s3n": "s3"}


def normalise_path(path: str) -> str:
    """A stable identity for a source or output path.

    Local paths (plain or ``file:``) become absolute, so ``./a.csv`` and its absolute
    spelling are the same object; ``s3a://``/``s3n://`` are spelled ``s3://``.
    """
    if path.lower().startswith("file:") and not path.lower().startswith("file://"):
        return os.path.abspath(path[len("file:") :])
    scheme, sep, rest = path.partition("://")
    if sep:
        scheme = _S3_ALIASES.get(scheme.lower(), scheme.lower())
        if scheme == "file":
            return os.path.abspath(rest)
        return f"{scheme}://{rest}"
    return os.path.abspath(path)


def absolute_local(path: str) -> str:
    """Scheme-less paths made absolute in Python's working directory, which a notebook may
    have changed after the JVM (which resolves relative paths in its own) started."""
    return path if "://" in path or path.lower().startswith("file:") else os.path.abspath(path)


def join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *(p.strip("/") for p in parts)])


@dataclass(frozen=True)
class FileInfo:
    exists: bool
    is_file: bool
    size: int


class HadoopFS:
    """A thin wrapper over the JVM ``FileSystem`` of the session's Hadoop configuration."""

    def __init__(self, spark: SparkSession) -> None:
        self._jvm: Any = spark.sparkContext._jvm
        self._conf: Any = spark.sparkContext._jsc.hadoopConfiguration()

    def _resolve(self, path: str) -> tuple[Any, Any]:
        jpath = self._jvm.org.apache.hadoop.fs.Path(path)
        return jpath.getFileSystem(self._conf), jpath

    def info(self, path: str) -> FileInfo:
        fs, jpath = self._resolve(path)
        if not fs.exists(jpath):
            return FileInfo(exists=False, is_file=False, size=0)
        status = fs.getFileStatus(jpath)
        return FileInfo(exists=True, is_file=bool(status.isFile()), size=int(status.getLen()))

    def list_dirs(self, path: str) -> list[str]:
        """Names of the folders directly under ``path`` (none when it does not exist)."""
        fs, jpath = self._resolve(path)
        if not fs.exists(jpath):
            return []
        return sorted(
            str(status.getPath().getName())
            for status in fs.listStatus(jpath)
            if status.isDirectory()
        )

    def read_head(self, path: str, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` from the start of a file (enough for its header row)."""
        fs, jpath = self._resolve(path)
        stream = fs.open(jpath)
        try:
            chunks: list[bytes] = []
            remaining = max_bytes
            while remaining > 0:
                # readNBytes on java.io.InputStream; py4j hands back Python bytes.
                chunk = bytes(stream.readNBytes(min(remaining, 65536)))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
            return b"".join(chunks)
        finally:
            stream.close()

    def delete(self, path: str) -> None:
        """Remove a file or a folder with everything in it (nothing when it does not exist)."""
        fs, jpath = self._resolve(path)
        fs.delete(jpath, True)

    def write_text(self, path: str, text: str) -> None:
        """Write a whole small file, replacing any earlier one."""
        fs, jpath = self._resolve(path)
        stream = fs.create(jpath, True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()
