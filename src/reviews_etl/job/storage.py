"""File-system access through Hadoop's FileSystem API, so one code path serves local folders,
``file://`` URIs and ``s3://`` on Glue. Used only at the edges (reader, writer, manifest)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyspark.sql import SparkSession

from reviews_etl.paths import absolute_local, is_local, normalise_path


def _file_system_key(location: str) -> str:
    """Scheme and authority (``s3://bucket``), or ``file`` for a local path."""
    if is_local(location):
        return "file"
    scheme, _, rest = location.partition("://")
    return f"{scheme.lower()}://{rest.split('/', 1)[0]}"


@dataclass(frozen=True)
class FileInfo:
    exists: bool
    is_file: bool
    size: int


# Spark's reader options (applied to the Hadoop configuration of that read only) that make it
# take a path literally, as HadoopFS does: see :func:`literal_read_options`.
_NO_GLOB = {"__globPaths__": "false"}
_RAW_LOCAL = {
    "fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem",
    "fs.file.impl.disable.cache": "true",
}


def literal_read_options(path: str) -> dict[str, str]:
    """Options for ``spark.read`` so that ``path`` names exactly one file, whatever its name.

    - No globbing: Spark expands ``[ ] { } * ? \\`` in a path by listing its folder (and a
      sibling whose name holds a ``:`` then breaks the listing with a URISyntaxException).
      ``__globPaths__`` is the switch Spark's own file streams use; it is read by
      ``DataSource`` in Spark 3.1 to 4.1 (tests/contract/test_hostile_inputs.py fails if it
      stops working).
    - Local files without the checksum layer: Hadoop's ``LocalFileSystem`` opens
      ``.<name>.crc`` beside a file, a path that cannot be built when the name holds a ``:``.
      The raw file system reads the same bytes; a source CSV has no ``.crc`` file anyway.
    """
    return {**_NO_GLOB, **(_RAW_LOCAL if is_local(path) else {})}


class HadoopFS:
    """A thin wrapper over the JVM ``FileSystem`` of the session's Hadoop configuration.

    Paths are taken literally (no glob patterns) and may hold any character but ``/`` in a
    name, ``:`` included; relative local paths are made absolute in Python's working folder.
    """

    def __init__(self, spark: SparkSession) -> None:
        self._jvm: Any = spark.sparkContext._jvm
        self._conf: Any = spark.sparkContext._jsc.hadoopConfiguration()
        # (scheme and authority, raw) -> FileSystem: each py4j round trip costs, and a burst
        # of files touches hundreds of paths on the same file system.
        self._file_systems: dict[tuple[str, bool], Any] = {}

    def _resolve(self, path: str, *, raw: bool = False) -> tuple[Any, Any]:
        """The file system and Hadoop ``Path`` of ``path``; with ``raw``, a local file system
        without its checksum layer (for reading: see :func:`literal_read_options`)."""
        location = absolute_local(path)
        jpath = self._jvm.org.apache.hadoop.fs.Path(location)
        key = (_file_system_key(location), raw)
        fs = self._file_systems.get(key)
        if fs is None:
            fs = jpath.getFileSystem(self._conf)
            if raw and self._jvm.java.lang.Class.forName(
                "org.apache.hadoop.fs.ChecksumFileSystem"
            ).isInstance(fs):
                fs = fs.getRawFileSystem()
            self._file_systems[key] = fs
        return fs, jpath

    def info(self, path: str) -> FileInfo:
        fs, jpath = self._resolve(path, raw=True)
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

    def compression(self, path: str) -> str | None:
        """The compression Hadoop (and so Spark's reader) infers from the file name's extension
        (``gzip`` for ``.gz``, ``bzip2``, ``deflate``, ...), or None for plain text."""
        codec = self._codec(path)
        return None if codec is None else _codec_name(codec)

    def _codec(self, path: str) -> Any:
        factory = self._jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(self._conf)
        return factory.getCodec(self._jvm.org.apache.hadoop.fs.Path(absolute_local(path)))

    def read_head(self, path: str, max_bytes: int, *, decompress: bool = False) -> bytes:
        """Up to ``max_bytes`` from the start of a file (enough for its header row); with
        ``decompress``, of its text as Spark's reader decompresses it (by extension)."""
        if is_local(path) and not decompress:
            # Bytes cross py4j slowly: a burst reads hundreds of headers (docs/performance.md).
            with open(normalise_path(path), "rb") as stream:
                return stream.read(max_bytes)
        fs, jpath = self._resolve(path, raw=True)
        stream = fs.open(jpath)
        try:
            codec = self._codec(path) if decompress else None
            if codec is not None:
                stream = codec.createInputStream(stream)
            return _read_up_to(stream, max_bytes)
        finally:
            stream.close()

    def read_tail(self, path: str, max_bytes: int) -> bytes:
        """The last ``max_bytes`` (or fewer) bytes of a file, as stored."""
        fs, jpath = self._resolve(path, raw=True)
        size = int(fs.getFileStatus(jpath).getLen())
        stream = fs.open(jpath)
        try:
            stream.seek(max(0, size - max_bytes))
            return _read_up_to(stream, max_bytes)
        finally:
            stream.close()

    def delete(self, path: str) -> None:
        """Remove a file or a folder with everything in it (nothing when it does not exist)."""
        fs, jpath = self._resolve(path)
        fs.delete(jpath, True)

    def rename(self, source: str, target: str) -> None:
        """Move a file or folder to ``target`` (which must not exist), creating its parent."""
        fs, jsource = self._resolve(source)
        _, jtarget = self._resolve(target)
        fs.mkdirs(jtarget.getParent())
        if not fs.rename(jsource, jtarget):
            raise OSError(f"could not move {source} to {target}")

    def touch(self, path: str) -> None:
        """Create an empty file (a marker such as ``_SUCCESS``), replacing any earlier one."""
        fs, jpath = self._resolve(path, raw=True)  # no .crc beside an empty marker
        fs.create(jpath, True).close()

    def mkdirs(self, path: str) -> None:
        fs, jpath = self._resolve(path)
        fs.mkdirs(jpath)

    def write_text(self, path: str, text: str) -> None:
        """Write a whole small file, replacing any earlier one."""
        fs, jpath = self._resolve(path)
        stream = fs.create(jpath, True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()


def _read_up_to(stream: Any, max_bytes: int) -> bytes:
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


def _codec_name(codec: Any) -> str:
    """``GzipCodec`` -> ``gzip``, ``BZip2Codec`` -> ``bzip2``, ..."""
    name = str(codec.getClass().getSimpleName())
    return name.removesuffix("Codec").lower()
