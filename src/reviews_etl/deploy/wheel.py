"""The wheel: where it is built from, and writing it the same way every time. No pyspark.

Where from, first match wins:

1. ``project_root`` (``--project-root``): that checkout;
2. the reviews-etl checkout holding the current folder, searched upwards from the working
   directory (not from this module's location);
3. the installed distribution (:mod:`importlib.metadata`): the files its ``RECORD`` lists,
   which are the contents of the wheel it was installed from. An editable install holds no
   copy of the package, so it builds the checkout its ``direct_url.json`` points to.

A checkout is built with ``python -m build --wheel`` (or ``pip wheel``) from a clean copy of
its sources. Both paths end in :func:`write_wheel`: entries in a fixed order, dated
1980-01-01, mode 0644, ``RECORD`` regenerated. So ``reviews-etl package`` run where a wheel
made by it is installed gives that wheel back, byte for byte.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from reviews_etl.errors import ConfigError, PackagingError

DISTRIBUTION = "reviews-etl"
PACKAGE = "reviews_etl"
WHEEL_TAG = "py3-none-any"
# What a deployable wheel must hold: the package, and the package data deploy reads.
REQUIRED_MEMBERS = (
    f"{PACKAGE}/__init__.py",
    f"{PACKAGE}/py.typed",
    f"{PACKAGE}/deploy/template.yaml",
    f"{PACKAGE}/deploy/scripts/lambda_handler.py",
    f"{PACKAGE}/deploy/scripts/glue_entrypoint.py",
)
# Files an installer adds to .dist-info (PEP 376, 610, 627); RECORD is rewritten.
INSTALLER_FILES = frozenset({"INSTALLER", "REQUESTED", "direct_url.json", "RECORD"})

# Fixed timestamp of every archive entry (zip cannot store dates before 1980).
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_SOURCE_DATE_EPOCH = "315532800"  # 1980-01-01T00:00:00Z
_FILE_MODE = 0o100644  # a regular file, rw-r--r--
_COMPRESS_LEVEL = 6

_VERSION_RE = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.MULTILINE)


@dataclass(frozen=True)
class WheelSource:
    """What the wheel is built from: a checkout, or an installed distribution."""

    version: str
    how: str  # how it was found, for messages
    checkout: Path | None = None
    distribution: importlib.metadata.Distribution | None = None

    def describe(self) -> str:
        if self.checkout is not None:
            return f"checkout {self.checkout} ({self.how})"
        return f"installed {DISTRIBUTION} {self.version} ({self.how})"


def wheel_file_name(version: str) -> str:
    return f"{PACKAGE}-{version}-{WHEEL_TAG}.whl"


def dist_info_name(version: str) -> str:
    return f"{PACKAGE}-{version}.dist-info"


# ------------------------------------------------------------------------------ locating


def is_checkout(path: Path) -> bool:
    """A reviews-etl source checkout: pyproject.toml naming reviews-etl, and src/reviews_etl."""
    pyproject = path / "pyproject.toml"
    return (
        pyproject.is_file()
        and (path / "src" / PACKAGE).is_dir()
        and _project_name(pyproject) == DISTRIBUTION
    )


def find_checkout(start: Path) -> Path | None:
    """The checkout holding ``start`` (itself or a parent), or None."""
    here = start.resolve()
    return next((c for c in (here, *here.parents) if is_checkout(c)), None)


def project_version(project_root: Path) -> str:
    version_file = project_root / "src" / PACKAGE / "_version.py"
    match = _VERSION_RE.search(read_text(version_file))
    if match is None:
        raise PackagingError(f"{version_file}: no __version__ = '...' line")
    return match.group(1)


def locate_source(
    project_root: str | os.PathLike[str] | None = None,
    *,
    cwd: Path | None = None,
    distribution: importlib.metadata.Distribution | None = None,
) -> WheelSource:
    """Where to build the wheel from (see the module docstring for the order)."""
    if project_root is not None:
        root = Path(project_root).resolve()
        if not is_checkout(root):
            raise ConfigError(
                f"--project-root {root}: not a reviews-etl checkout "
                f"(needs pyproject.toml naming {DISTRIBUTION} and src/{PACKAGE})"
            )
        return WheelSource(project_version(root), "--project-root", checkout=root)
    here = (cwd or Path.cwd()).resolve()
    found = find_checkout(here)
    if found is not None:
        return WheelSource(project_version(found), "holds the current folder", checkout=found)
    if distribution is None:
        try:
            distribution = importlib.metadata.distribution(DISTRIBUTION)
        except importlib.metadata.PackageNotFoundError as exc:
            raise PackagingError(
                f"no reviews-etl checkout holds {here} and {DISTRIBUTION} is not installed; "
                "run in a clone of the repository or pass --project-root"
            ) from exc
    editable = editable_checkout(distribution)
    if editable is not None:
        return WheelSource(project_version(editable), "editable install", checkout=editable)
    return WheelSource(
        distribution.version, "no checkout holds the current folder", distribution=distribution
    )


def editable_checkout(distribution: importlib.metadata.Distribution) -> Path | None:
    """The checkout of an editable install (PEP 610 ``direct_url.json``), else None."""
    text = distribution.read_text("direct_url.json")
    if not text:
        return None
    try:
        direct_url = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PackagingError(f"{DISTRIBUTION}: unreadable direct_url.json: {exc}") from exc
    if not (isinstance(direct_url, dict) and direct_url.get("dir_info", {}).get("editable")):
        return None
    url = urlparse(str(direct_url.get("url", "")))
    path = Path(unquote(url.path))
    if url.scheme != "file" or not is_checkout(path):
        raise PackagingError(
            f"{DISTRIBUTION} is an editable install of {url.geturl()}, which is no longer a "
            "reviews-etl checkout; reinstall it, or pass --project-root"
        )
    return path.resolve()


# ------------------------------------------------------------------------------ building


def build_wheel(source: WheelSource, out: Path, work: Path, python: str) -> Path:
    """Write ``reviews_etl-<version>-py3-none-any.whl`` into ``out`` and return its path."""
    if source.checkout is not None:
        entries = read_wheel(_build_checkout(source.checkout, source.version, work, python))
    elif source.distribution is not None:
        entries = distribution_entries(source.distribution)
    else:  # pragma: no cover - WheelSource is always made with one of the two
        raise PackagingError("no source to build the wheel from")
    return write_wheel(entries, out / wheel_file_name(source.version), source.version)


def _build_checkout(root: Path, version: str, work: Path, python: str) -> Path:
    # Build from a clean copy of the sources: no stale build/ directory can leak old
    # modules into the wheel, and the checkout is left untouched. copytree follows the
    # package-data links (template.yaml, scripts/), so the wheel holds their contents.
    source = work / "source"
    source.mkdir()
    shutil.copytree(
        root / "src",
        source / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
    )
    for name in ("pyproject.toml", "setup.cfg", "setup.py", "MANIFEST.in"):
        if (root / name).is_file():
            shutil.copy2(root / name, source / name)
    for pattern in ("README*", "LICEN[CS]E*", "NOTICE*"):
        for path in root.glob(pattern):
            if path.is_file():
                shutil.copy2(path, source / path.name)

    dist = work / "dist"
    if has_module(python, "build"):
        command = [python, "-m", "build", "--wheel", "--outdir", str(dist), str(source)]
    else:
        command = [python, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(dist), str(source)]
    run_command(command, what="building the wheel", cwd=source)

    expected = wheel_file_name(version)
    built = sorted(p.name for p in dist.glob("*.whl"))
    if built != [expected]:
        raise PackagingError(f"building the wheel: expected {expected}, got {built or 'nothing'}")
    return dist / expected


def read_wheel(path: Path) -> dict[str, bytes]:
    """A wheel's files by archive name, without RECORD (and its signatures)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return {
                info.filename: archive.read(info)
                for info in archive.infolist()
                if not info.is_dir() and not _is_record(info.filename)
            }
    except (OSError, zipfile.BadZipFile) as exc:
        raise PackagingError(f"{path}: cannot read the wheel: {exc}") from exc


def distribution_entries(distribution: importlib.metadata.Distribution) -> dict[str, bytes]:
    """The files of the wheel an installed distribution came from, by archive name.

    Every file its RECORD lists inside site-packages, checked against the RECORD hash,
    except bytecode and the files the installer wrote (INSTALLER, REQUESTED,
    direct_url.json, RECORD). Console scripts (``../../bin``) are outside, so left out.
    """
    files = distribution.files
    if not files:
        raise PackagingError(f"installed {DISTRIBUTION} has no RECORD: cannot rebuild its wheel")
    entries: dict[str, bytes] = {}
    for record in files:
        name = PurePosixPath(record.as_posix())
        parts = name.parts
        if name.is_absolute() or ".." in parts:
            continue
        if "__pycache__" in parts or name.suffix in {".pyc", ".pyo"}:
            continue
        if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] in INSTALLER_FILES:
            continue
        path = Path(str(distribution.locate_file(record)))
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PackagingError(f"installed {DISTRIBUTION}: cannot read {path}: {exc}") from exc
        expected = record.hash
        if (
            expected
            and expected.mode == "sha256"
            and record_hash(data) != f"sha256={expected.value}"
        ):
            raise PackagingError(
                f"installed {DISTRIBUTION}: {path} differs from its RECORD hash (changed "
                "after installation); reinstall the wheel or build from a checkout"
            )
        entries[name.as_posix()] = data
    return entries


def write_wheel(entries: Mapping[str, bytes], target: Path, version: str) -> Path:
    """Write the wheel deterministically: package files, then .dist-info, then RECORD
    (``name,sha256=<urlsafe base64>,size`` per file), every entry dated 1980-01-01, 0644."""
    dist_info = dist_info_name(version)
    required = (*REQUIRED_MEMBERS, f"{dist_info}/METADATA", f"{dist_info}/WHEEL")
    missing = [member for member in required if member not in entries]
    if missing:
        raise PackagingError(f"{target.name}: missing {', '.join(missing)}")
    wheel_tags = read_metadata(entries[f"{dist_info}/WHEEL"]).get_all("Tag") or []
    if wheel_tags != [WHEEL_TAG]:
        raise PackagingError(f"{target.name}: WHEEL tags {wheel_tags}, expected [{WHEEL_TAG!r}]")
    strays = sorted(n for n in entries if n.split("/", 1)[0] not in {PACKAGE, dist_info})
    if strays:
        raise PackagingError(f"{target.name}: unexpected files {', '.join(strays[:5])}")

    names = sorted(entries, key=lambda n: (n.startswith(f"{dist_info}/"), n))
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for name in names:
        writer.writerow((name, record_hash(entries[name]), len(entries[name])))
    writer.writerow((f"{dist_info}/RECORD", "", ""))
    files = [(name, entries[name]) for name in names]
    files.append((f"{dist_info}/RECORD", record.getvalue().encode("utf-8")))
    return write_zip(target, files)


def write_zip(target: Path, files: Iterable[tuple[str, bytes]]) -> Path:
    """A zip with the entries in the order given, fixed dates and permissions."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(
        target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=_COMPRESS_LEVEL
    ) as archive:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the permission bits are honoured
            info.external_attr = _FILE_MODE << 16
            archive.writestr(info, data, compresslevel=_COMPRESS_LEVEL)
    return target


def record_hash(data: bytes) -> str:
    """The RECORD form of a file's hash: ``sha256=`` and urlsafe base64 without padding."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode('ascii')}"


def read_metadata(data: bytes) -> Message:
    """Parse METADATA or WHEEL (RFC 822 style headers)."""
    return BytesParser().parsebytes(data)


def _is_record(name: str) -> bool:
    parts = name.split("/")
    return (
        len(parts) == 2
        and parts[0].endswith(".dist-info")
        and parts[1] in {"RECORD", "RECORD.jws", "RECORD.p7s"}
    )


# ------------------------------------------------------------------------------ helpers


def run_command(command: Sequence[str], *, what: str, cwd: Path) -> None:
    env = dict(os.environ)
    env.setdefault("SOURCE_DATE_EPOCH", _SOURCE_DATE_EPOCH)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.pop("PYTHONPATH", None)
    try:
        completed = subprocess.run(
            list(command), cwd=cwd, env=env, capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise PackagingError(f"{what}: cannot run {command[0]}: {exc}") from exc
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip().splitlines()
        tail = "\n".join(output[-25:])
        raise PackagingError(
            f"{what} failed (exit {completed.returncode}): {' '.join(command)}\n{tail}"
        )


def has_module(python: str, module: str) -> bool:
    if python == sys.executable:
        return importlib.util.find_spec(module) is not None
    code = f"import importlib.util, sys; sys.exit(not importlib.util.find_spec({module!r}))"
    return subprocess.run([python, "-c", code], capture_output=True, check=False).returncode == 0


def canonical_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PackagingError(f"{path}: cannot read: {exc}") from exc


def _project_name(pyproject: Path) -> str | None:
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    name = data.get("project", {}).get("name")
    return canonical_name(name) if isinstance(name, str) else None
