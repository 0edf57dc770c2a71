"""Build the four deployment artifacts: the wheel, the Lambda zip, the Glue script and the
Glue pins.

* ``reviews_etl-<version>-py3-none-any.whl``: the library, installed on Glue through
  ``--additional-python-modules`` together with the pins, with ``pip --no-deps``.
  Built from a checkout or from the installed distribution, see :mod:`.wheel`.
* ``reviews_etl_lambda-<version>.zip``: ``lambda_handler.py`` at the root, the
  ``reviews_etl`` package, and the wheel's base dependencies (pydantic, pydantic-settings
  and theirs) built for Lambda's x86_64 Python 3.11. boto3 comes with the Lambda runtime;
  pyspark is never included.
* ``glue_entrypoint.py``: the Glue job script.
* ``glue-requirements.txt``: ``name==version`` of every dependency the Lambda zip holds
  (one resolution for both), which the Glue job installs exactly, see :mod:`.pins`.

The Lambda handler and the Glue script are the package data the wheel ships
(``reviews_etl/deploy/scripts/``; in a checkout, links to the files at its root), so the
same code serves a checkout and an installed wheel. pip downloads the Lambda's
dependencies from the package index. No pyspark is imported here.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from reviews_etl.deploy.pins import (
    GLUE_REQUIREMENTS_NAME,
    RUNTIME_PROVIDED,
    missing_pins,
    read_pins,
    staged_pins,
    write_pins,
)
from reviews_etl.deploy.wheel import (
    PACKAGE,
    build_wheel,
    canonical_name,
    dist_info_name,
    locate_source,
    read_metadata,
    run_command,
    write_zip,
)
from reviews_etl.errors import PackagingError

GLUE_SCRIPT_NAME = "glue_entrypoint.py"
LAMBDA_HANDLER_NAME = "lambda_handler.py"
# Where the wheel holds the two scripts (package data of reviews_etl.deploy).
SCRIPTS_IN_WHEEL = f"{PACKAGE}/deploy/scripts"

# The Lambda runtime the zip is built for (see infra/template.yaml: Runtime python3.11).
LAMBDA_PYTHON_VERSION = "3.11"
LAMBDA_PLATFORM = "manylinux2014_x86_64"
# What the one resolution is for: the Lambda runtime, and Glue 5.x's Python.
RESOLVED_FOR = f"CPython {LAMBDA_PYTHON_VERSION} {LAMBDA_PLATFORM}"
# Must never end up in the Lambda zip.
LAMBDA_FORBIDDEN_TOP_LEVEL = frozenset({"pyspark", "py4j", "boto3", "botocore"})
# Lambda refuses zips larger than this for direct upload (50 MB zipped).
LAMBDA_ZIP_LIMIT_BYTES = 50 * 1024 * 1024

_REQUIREMENT_NAME_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA_MARKER_RE = re.compile(r"\bextra\s*==")


@dataclass(frozen=True)
class Artifact:
    """One built file."""

    kind: str
    path: Path
    size: int
    sha256: str

    @classmethod
    def from_path(cls, kind: str, path: Path) -> Artifact:
        return cls(kind=kind, path=path, size=path.stat().st_size, sha256=_sha256(path))


@dataclass(frozen=True)
class Artifacts:
    """The four deployment artifacts of one version."""

    version: str
    wheel: Artifact
    lambda_zip: Artifact
    glue_script: Artifact
    glue_requirements: Artifact
    source: str = ""  # what the wheel was built from, for messages

    def __iter__(self) -> Iterator[Artifact]:
        return iter((self.wheel, self.lambda_zip, self.glue_script, self.glue_requirements))

    def glue_pins(self) -> dict[str, str]:
        """``name -> version`` from ``glue-requirements.txt`` (checked: exact pins only)."""
        return read_pins(self.glue_requirements.path)

    @property
    def digest(self) -> str:
        """A short digest over the four files' contents (changes whenever any file does)."""
        combined = hashlib.sha256()
        for artifact in self:
            combined.update(f"{artifact.path.name}\0{artifact.sha256}\n".encode())
        return combined.hexdigest()[:12]


def lambda_zip_file_name(version: str) -> str:
    return f"{PACKAGE}_lambda-{version}.zip"


def lambda_requirements(metadata: bytes) -> list[str]:
    """The base ``Requires-Dist`` of a wheel's METADATA (no extras), minus what the Lambda
    runtime already provides."""
    requirements: list[str] = []
    for requirement in read_metadata(metadata).get_all("Requires-Dist") or []:
        text = str(requirement).strip()
        _, _, marker = text.partition(";")
        if _EXTRA_MARKER_RE.search(marker):
            continue
        if canonical_name(_requirement_name(text)) not in RUNTIME_PROVIDED:
            requirements.append(text)
    return requirements


def build_artifacts(
    out_dir: str | os.PathLike[str],
    project_root: str | os.PathLike[str] | None = None,
    *,
    lambda_handler: str | os.PathLike[str] | None = None,
    glue_script: str | os.PathLike[str] | None = None,
    python: str | None = None,
) -> Artifacts:
    """Build the wheel, the Lambda zip, the Glue script copy and the Glue pins into
    ``out_dir``.

    The wheel comes from ``project_root``, else the checkout holding the current folder,
    else the installed distribution (:func:`reviews_etl.deploy.wheel.locate_source`).
    ``lambda_handler`` and ``glue_script`` replace the scripts the wheel ships (for tests).
    ``python`` is the interpreter that runs the build and pip (default: the current one).
    Existing files of the same names in ``out_dir`` are replaced.
    """
    source = locate_source(project_root)
    handler_override = _read_override(lambda_handler, "Lambda handler module")
    script_override = _read_override(glue_script, "Glue script")
    if handler_override is not None:
        _check_lambda_handler(handler_override, str(lambda_handler))

    interpreter = python or sys.executable
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="reviews-etl-package-") as tmp:
        work = Path(tmp)
        wheel_path = build_wheel(source, out, work, interpreter)
        with zipfile.ZipFile(wheel_path) as wheel:
            shipped_handler = wheel.read(f"{SCRIPTS_IN_WHEEL}/{LAMBDA_HANDLER_NAME}")
            shipped_script = wheel.read(f"{SCRIPTS_IN_WHEEL}/{GLUE_SCRIPT_NAME}")
        handler = handler_override if handler_override is not None else shipped_handler
        _check_lambda_handler(handler, f"{wheel_path.name}:{SCRIPTS_IN_WHEEL}/lambda_handler.py")
        zip_path, pins = _build_lambda_zip(
            version=source.version,
            wheel_path=wheel_path,
            handler=handler,
            out=out,
            work=work,
            python=interpreter,
        )

    script_out = out / GLUE_SCRIPT_NAME
    script_out.write_bytes(script_override if script_override is not None else shipped_script)
    pins_out = write_pins(
        out / GLUE_REQUIREMENTS_NAME, pins, version=source.version, target=RESOLVED_FOR
    )
    return Artifacts(
        version=source.version,
        wheel=Artifact.from_path("wheel", wheel_path),
        lambda_zip=Artifact.from_path("lambda_zip", zip_path),
        glue_script=Artifact.from_path("glue_script", script_out),
        glue_requirements=Artifact.from_path("glue_requirements", pins_out),
        source=source.describe(),
    )


def _read_override(path: str | os.PathLike[str] | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise PackagingError(f"{path}: {what} not found ({exc.strerror})") from exc


# ------------------------------------------------------------------------------ Lambda zip


def _check_lambda_handler(source: bytes, where: str) -> None:
    try:
        tree = ast.parse(source, filename=where)
    except SyntaxError as exc:
        raise PackagingError(f"{where}: not valid Python: {exc}") from exc
    names = {
        node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    names |= {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    names |= {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    if "handler" not in names:
        raise PackagingError(f"{where}: defines no top-level `handler` (the Lambda entry point)")


def _build_lambda_zip(
    *, version: str, wheel_path: Path, handler: bytes, out: Path, work: Path, python: str
) -> tuple[Path, dict[str, str]]:
    """Write the zip; return its path and the pins of the dependencies it holds."""
    stage = work / "lambda"
    stage.mkdir()
    requirements = _stage_package(wheel_path, version, stage)
    if requirements:
        _install_dependencies(requirements, stage, work=work, python=python)
    shutil.rmtree(stage / "bin", ignore_errors=True)
    for cache in list(stage.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)
    _check_lambda_stage(stage, requirements)
    # The one resolution: what pip put into the zip is what Glue installs.
    pins = staged_pins(stage)
    unconditional = (_requirement_name(r) for r in requirements if ";" not in r)
    unpinned = missing_pins(unconditional, pins)
    if unpinned:
        raise PackagingError(f"pip installed no version of {', '.join(unpinned)}")
    return _write_lambda_zip(stage, handler, out / lambda_zip_file_name(version)), pins


def _stage_package(wheel_path: Path, version: str, stage: Path) -> list[str]:
    """Extract the package from the wheel into ``stage``; returns the requirements the
    Lambda zip must add."""
    # The package exactly as the wheel ships it (plus its metadata, so that
    # importlib.metadata.version("reviews-etl") works on Lambda too).
    dist_info = dist_info_name(version)
    with zipfile.ZipFile(wheel_path) as wheel:
        for member in wheel.namelist():
            if member.split("/", 1)[0] in {PACKAGE, dist_info}:
                wheel.extract(member, stage)
    return lambda_requirements((stage / dist_info / "METADATA").read_bytes())


def _install_dependencies(
    requirements: Sequence[str], stage: Path, *, work: Path, python: str
) -> None:
    """pip-install binary wheels built for the Lambda runtime into ``stage``."""
    command = [
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--upgrade",
        "--target",
        str(stage),
        "--platform",
        LAMBDA_PLATFORM,
        "--implementation",
        "cp",
        "--python-version",
        LAMBDA_PYTHON_VERSION,
        "--only-binary=:all:",
        *requirements,
    ]
    run_command(command, what="installing the Lambda dependencies", cwd=work)


def _write_lambda_zip(stage: Path, handler: bytes, target: Path) -> Path:
    """The handler at the root and every staged file, within Lambda's size limit."""
    files = {p.relative_to(stage).as_posix(): p for p in stage.rglob("*") if p.is_file()}
    if LAMBDA_HANDLER_NAME in files:
        raise PackagingError(f"a dependency ships a top-level {LAMBDA_HANDLER_NAME}")
    entries = [(LAMBDA_HANDLER_NAME, handler)]
    entries += [(name, files[name].read_bytes()) for name in files]
    write_zip(target, sorted(entries))
    size = target.stat().st_size
    if size > LAMBDA_ZIP_LIMIT_BYTES:
        raise PackagingError(
            f"{target}: {size} bytes, over Lambda's {LAMBDA_ZIP_LIMIT_BYTES}-byte zip limit"
        )
    return target


def _check_lambda_stage(stage: Path, requirements: Sequence[str]) -> None:
    top_level = {p.name.split(".", 1)[0] for p in stage.iterdir()}
    forbidden = sorted(top_level & LAMBDA_FORBIDDEN_TOP_LEVEL)
    if forbidden:
        raise PackagingError(f"the Lambda zip would contain {', '.join(forbidden)}")
    if not (stage / PACKAGE / "__init__.py").is_file():
        raise PackagingError(f"the Lambda zip would lack the {PACKAGE} package")
    if any(canonical_name(_requirement_name(r)) == "pydantic" for r in requirements):
        tag = f"cpython-{LAMBDA_PYTHON_VERSION.replace('.', '')}-x86_64-linux-gnu"
        if not list((stage / "pydantic_core").glob(f"_pydantic_core.{tag}*.so")):
            raise PackagingError(
                f"the Lambda zip would lack pydantic_core compiled for {tag} "
                "(pip did not install the manylinux wheel)"
            )
    leftovers = [p for p in stage.rglob("*") if p.is_dir() and p.name in {"tests", "test"}]
    for path in leftovers:
        if path.parent.name == PACKAGE:
            raise PackagingError(f"the Lambda zip would contain tests: {path}")


# ------------------------------------------------------------------------------ helpers


def _requirement_name(requirement: str) -> str:
    match = _REQUIREMENT_NAME_RE.match(requirement)
    return match.group(1) if match else requirement


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def format_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024 or unit == "MiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover - unreachable
